import { decodeMessage, encodeMessage, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface PrekeyRecord {
  version: number
  bundle: Uint8Array<ArrayBuffer>
}

export namespace PrekeyRecord {
  let _codec: Codec<PrekeyRecord>

  export const codec = (): Codec<PrekeyRecord> => {
    if (_codec == null) {
      _codec = message<PrekeyRecord>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.bundle != null && obj.bundle.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.bundle)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          bundle: uint8ArrayAlloc(0)
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
              obj.bundle = reader.bytes()
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
                field: `${prefix}.bundle`,
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

  export interface PrekeyRecordVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface PrekeyRecordBundleFieldEvent {
    field: '$.bundle'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PrekeyRecord>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PrekeyRecord.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrekeyRecord>): PrekeyRecord {
    return decodeMessage(buf, PrekeyRecord.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PrekeyRecord>): Generator<PrekeyRecordVersionFieldEvent | PrekeyRecordBundleFieldEvent> {
    return streamMessage(buf, PrekeyRecord.codec(), opts)
  }
}
