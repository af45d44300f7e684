import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export enum ReceiptKind {
  RECEIPT_KIND_UNSPECIFIED = 'RECEIPT_KIND_UNSPECIFIED',
  DELIVERED = 'DELIVERED',
  READ = 'READ'
}

enum __ReceiptKindValues {
  RECEIPT_KIND_UNSPECIFIED = 0,
  DELIVERED = 1,
  READ = 2
}

export namespace ReceiptKind {
  export const codec = (): Codec<ReceiptKind> => {
    return enumeration<ReceiptKind>(__ReceiptKindValues)
  }
}

export interface Text {
  body: string
  sentAt: bigint
  messageId: Uint8Array<ArrayBuffer>
}

export namespace Text {
  let _codec: Codec<Text>

  export const codec = (): Codec<Text> => {
    if (_codec == null) {
      _codec = message<Text>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.body != null && obj.body !== '')) {
          w.uint32(10)
          w.string(obj.body)
        }

        if ((obj.sentAt != null && obj.sentAt !== 0n)) {
          w.uint32(16)
          w.uint64(obj.sentAt)
        }

        if ((obj.messageId != null && obj.messageId.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.messageId)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          body: '',
          sentAt: 0n,
          messageId: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.body = reader.string()
              break
            }
            case 2: {
              obj.sentAt = reader.uint64()
              break
            }
            case 3: {
              obj.messageId = reader.bytes()
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
                field: `${prefix}.body`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.sentAt`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.messageId`,
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

  export interface TextBodyFieldEvent {
    field: '$.body'
    value: string
  }

  export interface TextSentAtFieldEvent {
    field: '$.sentAt'
    value: bigint
  }

  export interface TextMessageIdFieldEvent {
    field: '$.messageId'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Text>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Text.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Text>): Text {
    return decodeMessage(buf, Text.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Text>): Generator<TextBodyFieldEvent | TextSentAtFieldEvent | TextMessageIdFieldEvent> {
    return streamMessage(buf, Text.codec(), opts)
  }
}

export interface Receipt {
  kind: ReceiptKind
  messageIds: Uint8Array<ArrayBuffer>[]
}

export namespace Receipt {
  let _codec: Codec<Receipt>

  export const codec = (): Codec<Receipt> => {
    if (_codec == null) {
      _codec = message<Receipt>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.kind != null && __ReceiptKindValues[obj.kind] !== 0) {
          w.uint32(8)
          ReceiptKind.codec().encode(obj.kind, w)
        }

        if (obj.messageIds != null && obj.messageIds.length > 0) {
          for (const value of obj.messageIds) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          kind: ReceiptKind.RECEIPT_KIND_UNSPECIFIED,
          messageIds: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.kind = ReceiptKind.codec().decode(reader)
              break
            }
            case 2: {
              if (opts.limits?.messageIds != null && obj.messageIds.length === opts.limits.messageIds) {
                throw new MaxLengthError('Decode error - repeated field "messageIds" had too many elements')
              }

              obj.messageIds.push(reader.bytes())
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
        const obj = {
          messageIds: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.kind`,
                value: ReceiptKind.codec().decode(reader)
              }
              break
            }
            case 2: {
              if (opts.limits?.messageIds != null && obj.messageIds === opts.limits.messageIds) {
                throw new MaxLengthError('Streaming decode error - repeated field "messageIds" had too many elements')
              }

              yield {
                field: `${prefix}.messageIds[]`,
                index: obj.messageIds,
                value: reader.bytes()
              }

              obj.messageIds++

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

  export interface ReceiptKindFieldEvent {
    field: '$.kind'
    value: ReceiptKind
  }

  export interface ReceiptMessageIdsFieldEvent {
    field: '$.messageIds[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Receipt>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Receipt.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Receipt>): Receipt {
    return decodeMessage(buf, Receipt.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Receipt>): Generator<ReceiptKindFieldEvent | ReceiptMessageIdsFieldEvent> {
    return streamMessage(buf, Receipt.codec(), opts)
  }
}

export interface Profile {
  displayName: string
  relays: Uint8Array<ArrayBuffer>[]
}

export namespace Profile {
  let _codec: Codec<Profile>

  export const codec = (): Codec<Profile> => {
    if (_codec == null) {
      _codec = message<Profile>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.displayName != null && obj.displayName !== '')) {
          w.uint32(10)
          w.string(obj.displayName)
        }

        if (obj.relays != null && obj.relays.length > 0) {
          for (const value of obj.relays) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          displayName: '',
          relays: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.displayName = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.relays != null && obj.relays.length === opts.limits.relays) {
                throw new MaxLengthError('Decode error - repeated field "relays" had too many elements')
              }

              obj.relays.push(reader.bytes())
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
        const obj = {
          relays: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.displayName`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.relays != null && obj.relays === opts.limits.relays) {
                throw new MaxLengthError('Streaming decode error - repeated field "relays" had too many elements')
              }

              yield {
                field: `${prefix}.relays[]`,
                index: obj.relays,
                value: reader.bytes()
              }

              obj.relays++

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

  export interface ProfileDisplayNameFieldEvent {
    field: '$.displayName'
    value: string
  }

  export interface ProfileRelaysFieldEvent {
    field: '$.relays[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Profile>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Profile.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Profile>): Profile {
    return decodeMessage(buf, Profile.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Profile>): Generator<ProfileDisplayNameFieldEvent | ProfileRelaysFieldEvent> {
    return streamMessage(buf, Profile.codec(), opts)
  }
}

export interface Content {
  version: number
  text?: Text
  receipt?: Receipt
  epochKeyGrant?: Uint8Array<ArrayBuffer>
  controlStatement?: Uint8Array<ArrayBuffer>
  profile?: Profile
}

export namespace Content {
  let _codec: Codec<Content>

  export const codec = (): Codec<Content> => {
    if (_codec == null) {
      _codec = message<Content>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        obj = { ...obj }

        if (obj.profile != null) {
          obj.controlStatement = undefined
          obj.epochKeyGrant = undefined
          obj.receipt = undefined
          obj.text = undefined
        }

        if (obj.controlStatement != null) {
          obj.profile = undefined
          obj.epochKeyGrant = undefined
          obj.receipt = undefined
          obj.text = undefined
        }

        if (obj.epochKeyGrant != null) {
          obj.profile = undefined
          obj.controlStatement = undefined
          obj.receipt = undefined
          obj.text = undefined
        }

        if (obj.receipt != null) {
          obj.profile = undefined
          obj.controlStatement = undefined
          obj.epochKeyGrant = undefined
          obj.text = undefined
        }

        if (obj.text != null) {
          obj.profile = undefined
          obj.controlStatement = undefined
          obj.epochKeyGrant = undefined
          obj.receipt = undefined
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.text != null) {
          w.uint32(18)
          Text.codec().encode(obj.text, w)
        }

        if (obj.receipt != null) {
          w.uint32(26)
          Receipt.codec().encode(obj.receipt, w)
        }

        if (obj.epochKeyGrant != null) {
          w.uint32(34)
          w.bytes(obj.epochKeyGrant)
        }

        if (obj.controlStatement != null) {
          w.uint32(42)
          w.bytes(obj.controlStatement)
        }

        if (obj.profile != null) {
          w.uint32(50)
          Profile.codec().encode(obj.profile, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0
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
              obj.text = Text.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.text
              })
              break
            }
            case 3: {
              obj.receipt = Receipt.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.receipt
              })
              break
            }
            case 4: {
              obj.epochKeyGrant = reader.bytes()
              break
            }
            case 5: {
              obj.controlStatement = reader.bytes()
              break
            }
            case 6: {
              obj.profile = Profile.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.profile
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        if (obj.profile != null) {
          delete obj.controlStatement
          delete obj.epochKeyGrant
          delete obj.receipt
          delete obj.text
        }

        if (obj.controlStatement != null) {
          delete obj.profile
          delete obj.epochKeyGrant
          delete obj.receipt
          delete obj.text
        }

        if (obj.epochKeyGrant != null) {
          delete obj.profile
          delete obj.controlStatement
          delete obj.receipt
          delete obj.text
        }

        if (obj.receipt != null) {
          delete obj.profile
          delete obj.controlStatement
          delete obj.epochKeyGrant
          delete obj.text
        }

        if (obj.text != null) {
          delete obj.profile
          delete obj.controlStatement
          delete obj.epochKeyGrant
          delete obj.receipt
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
              yield * Text.codec().stream(reader, reader.uint32(), `${prefix}.text`, {
                limits: opts.limits?.text
              })

              break
            }
            case 3: {
              yield * Receipt.codec().stream(reader, reader.uint32(), `${prefix}.receipt`, {
                limits: opts.limits?.receipt
              })

              break
            }
            case 4: {
              yield {
                field: `${prefix}.epochKeyGrant`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.controlStatement`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield * Profile.codec().stream(reader, reader.uint32(), `${prefix}.profile`, {
                limits: opts.limits?.profile
              })

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

  export interface ContentVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ContentTextBodyFieldEvent {
    field: '$.text.body'
    value: string
  }

  export interface ContentTextSentAtFieldEvent {
    field: '$.text.sentAt'
    value: bigint
  }

  export interface ContentTextMessageIdFieldEvent {
    field: '$.text.messageId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentReceiptKindFieldEvent {
    field: '$.receipt.kind'
    value: ReceiptKind
  }

  export interface ContentReceiptMessageIdsFieldEvent {
    field: '$.receipt.messageIds[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentEpochKeyGrantFieldEvent {
    field: '$.epochKeyGrant'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentControlStatementFieldEvent {
    field: '$.controlStatement'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContentProfileDisplayNameFieldEvent {
    field: '$.profile.displayName'
    value: string
  }

  export interface ContentProfileRelaysFieldEvent {
    field: '$.profile.relays[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Content>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Content.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Content>): Content {
    return decodeMessage(buf, Content.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Content>): Generator<ContentVersionFieldEvent | ContentTextBodyFieldEvent | ContentTextSentAtFieldEvent | ContentTextMessageIdFieldEvent | ContentReceiptKindFieldEvent | ContentReceiptMessageIdsFieldEvent | ContentEpochKeyGrantFieldEvent | ContentControlStatementFieldEvent | ContentProfileDisplayNameFieldEvent | ContentProfileRelaysFieldEvent> {
    return streamMessage(buf, Content.codec(), opts)
  }
}
