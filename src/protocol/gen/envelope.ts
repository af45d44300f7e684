import { decodeMessage, encodeMessage, enumeration, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum EnvelopeKind {
  ENVELOPE_KIND_UNSPECIFIED = 'ENVELOPE_KIND_UNSPECIFIED',
  DIRECT_PREKEY = 'DIRECT_PREKEY',
  DIRECT = 'DIRECT',
  COMMUNITY = 'COMMUNITY'
}

enum __EnvelopeKindValues {
  ENVELOPE_KIND_UNSPECIFIED = 0,
  DIRECT_PREKEY = 1,
  DIRECT = 2,
  COMMUNITY = 3
}

export namespace EnvelopeKind {
  export const codec = (): Codec<EnvelopeKind> => {
    return enumeration<EnvelopeKind>(__EnvelopeKindValues)
  }
}

export interface Envelope {
  version: number
  kind: EnvelopeKind
  timestamp: bigint
  prekeyHeader: Uint8Array<ArrayBuffer>
  ratchetHeader: Uint8Array<ArrayBuffer>
  ciphertext: Uint8Array<ArrayBuffer>
  padding: Uint8Array<ArrayBuffer>
}

export namespace Envelope {
  let _codec: Codec<Envelope>

  export const codec = (): Codec<Envelope> => {
    if (_codec == null) {
      _codec = message<Envelope>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.kind != null && __EnvelopeKindValues[obj.kind] !== 0) {
          w.uint32(16)
          EnvelopeKind.codec().encode(obj.kind, w)
        }

        if ((obj.timestamp != null && obj.timestamp !== 0n)) {
          w.uint32(24)
          w.uint64(obj.timestamp)
        }

        if ((obj.prekeyHeader != null && obj.prekeyHeader.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.prekeyHeader)
        }

        if ((obj.ratchetHeader != null && obj.ratchetHeader.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.ratchetHeader)
        }

        if ((obj.ciphertext != null && obj.ciphertext.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.ciphertext)
        }

        if ((obj.padding != null && obj.padding.byteLength > 0)) {
          w.uint32(122)
          w.bytes(obj.padding)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          kind: EnvelopeKind.ENVELOPE_KIND_UNSPECIFIED,
          timestamp: 0n,
          prekeyHeader: uint8ArrayAlloc(0),
          ratchetHeader: uint8ArrayAlloc(0),
          ciphertext: uint8ArrayAlloc(0),
          padding: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.kind = EnvelopeKind.codec().decode(reader)
              break
            }
            case 3: {
              obj.timestamp = reader.uint64()
              break
            }
            case 4: {
              obj.prekeyHeader = reader.bytes()
              break
            }
            case 5: {
              obj.ratchetHeader = reader.bytes()
              break
            }
            case 6: {
              obj.ciphertext = reader.bytes()
              break
            }
            case 15: {
              obj.padding = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.kind`,
                value: EnvelopeKind.codec().decode(reader)
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.timestamp`,
                value: reader.uint64()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.prekeyHeader`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.ratchetHeader`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.ciphertext`,
                value: reader.bytes()
              }
              break
            }
            case 15: {
              yield {
                field: `${prefix}.padding`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface EnvelopeVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface EnvelopeKindFieldEvent {
    field: '$.kind'
    value: EnvelopeKind
  }

  export interface EnvelopeTimestampFieldEvent {
    field: '$.timestamp'
    value: bigint
  }

  export interface EnvelopePrekeyHeaderFieldEvent {
    field: '$.prekeyHeader'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeRatchetHeaderFieldEvent {
    field: '$.ratchetHeader'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopeCiphertextFieldEvent {
    field: '$.ciphertext'
    value: Uint8Array<ArrayBuffer>
  }

  export interface EnvelopePaddingFieldEvent {
    field: '$.padding'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Envelope>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Envelope.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Envelope {
    return decodeMessage(buf, Envelope.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Envelope>): Generator<EnvelopeVersionFieldEvent | EnvelopeKindFieldEvent | EnvelopeTimestampFieldEvent | EnvelopePrekeyHeaderFieldEvent | EnvelopeRatchetHeaderFieldEvent | EnvelopeCiphertextFieldEvent | EnvelopePaddingFieldEvent> {
    return streamMessage(buf, Envelope.codec(), opts)
  }
}
