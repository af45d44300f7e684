import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface ContactInvite {
  version: number
  identityKey: Uint8Array<ArrayBuffer>
  displayName: string
  peerId: Uint8Array<ArrayBuffer>
  addresses: Uint8Array<ArrayBuffer>[]
  relays: Uint8Array<ArrayBuffer>[]
}

export namespace ContactInvite {
  let _codec: Codec<ContactInvite>

  export const codec = (): Codec<ContactInvite> => {
    if (_codec == null) {
      _codec = message<ContactInvite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.identityKey != null && obj.identityKey.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.identityKey)
        }

        if ((obj.displayName != null && obj.displayName !== '')) {
          w.uint32(26)
          w.string(obj.displayName)
        }

        if ((obj.peerId != null && obj.peerId.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.peerId)
        }

        if (obj.addresses != null && obj.addresses.length > 0) {
          for (const value of obj.addresses) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (obj.relays != null && obj.relays.length > 0) {
          for (const value of obj.relays) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          identityKey: uint8ArrayAlloc(0),
          displayName: '',
          peerId: uint8ArrayAlloc(0),
          addresses: [],
          relays: []
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
              obj.identityKey = reader.bytes()
              break
            }
            case 3: {
              obj.displayName = reader.string()
              break
            }
            case 4: {
              obj.peerId = reader.bytes()
              break
            }
            case 5: {
              if (opts.limits?.addresses != null && obj.addresses.length === opts.limits.addresses) {
                throw new MaxLengthError('Decode error - repeated field "addresses" had too many elements')
              }

              obj.addresses.push(reader.bytes())
              break
            }
            case 6: {
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
          addresses: 0,
          relays: 0
        }

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
                field: `${prefix}.identityKey`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.displayName`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.peerId`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              if (opts.limits?.addresses != null && obj.addresses === opts.limits.addresses) {
                throw new MaxLengthError('Streaming decode error - repeated field "addresses" had too many elements')
              }

              yield {
                field: `${prefix}.addresses[]`,
                index: obj.addresses,
                value: reader.bytes()
              }

              obj.addresses++

              break
            }
            case 6: {
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

  export interface ContactInviteVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ContactInviteIdentityKeyFieldEvent {
    field: '$.identityKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContactInviteDisplayNameFieldEvent {
    field: '$.displayName'
    value: string
  }

  export interface ContactInvitePeerIdFieldEvent {
    field: '$.peerId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContactInviteAddressesFieldEvent {
    field: '$.addresses[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface ContactInviteRelaysFieldEvent {
    field: '$.relays[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<ContactInvite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ContactInvite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContactInvite>): ContactInvite {
    return decodeMessage(buf, ContactInvite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ContactInvite>): Generator<ContactInviteVersionFieldEvent | ContactInviteIdentityKeyFieldEvent | ContactInviteDisplayNameFieldEvent | ContactInvitePeerIdFieldEvent | ContactInviteAddressesFieldEvent | ContactInviteRelaysFieldEvent> {
    return streamMessage(buf, ContactInvite.codec(), opts)
  }
}

export interface CommunityInvite {
  version: number
  communityId: Uint8Array<ArrayBuffer>
  name: string
  epoch: number
  epochKey: Uint8Array<ArrayBuffer>
  adminKeys: Uint8Array<ArrayBuffer>[]
  addresses: Uint8Array<ArrayBuffer>[]
}

export namespace CommunityInvite {
  let _codec: Codec<CommunityInvite>

  export const codec = (): Codec<CommunityInvite> => {
    if (_codec == null) {
      _codec = message<CommunityInvite>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.communityId != null && obj.communityId.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.communityId)
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(26)
          w.string(obj.name)
        }

        if ((obj.epoch != null && obj.epoch !== 0)) {
          w.uint32(32)
          w.uint32(obj.epoch)
        }

        if ((obj.epochKey != null && obj.epochKey.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.epochKey)
        }

        if (obj.adminKeys != null && obj.adminKeys.length > 0) {
          for (const value of obj.adminKeys) {
            w.uint32(50)
            w.bytes(value)
          }
        }

        if (obj.addresses != null && obj.addresses.length > 0) {
          for (const value of obj.addresses) {
            w.uint32(58)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          communityId: uint8ArrayAlloc(0),
          name: '',
          epoch: 0,
          epochKey: uint8ArrayAlloc(0),
          adminKeys: [],
          addresses: []
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
              obj.communityId = reader.bytes()
              break
            }
            case 3: {
              obj.name = reader.string()
              break
            }
            case 4: {
              obj.epoch = reader.uint32()
              break
            }
            case 5: {
              obj.epochKey = reader.bytes()
              break
            }
            case 6: {
              if (opts.limits?.adminKeys != null && obj.adminKeys.length === opts.limits.adminKeys) {
                throw new MaxLengthError('Decode error - repeated field "adminKeys" had too many elements')
              }

              obj.adminKeys.push(reader.bytes())
              break
            }
            case 7: {
              if (opts.limits?.addresses != null && obj.addresses.length === opts.limits.addresses) {
                throw new MaxLengthError('Decode error - repeated field "addresses" had too many elements')
              }

              obj.addresses.push(reader.bytes())
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
          adminKeys: 0,
          addresses: 0
        }

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
                field: `${prefix}.communityId`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.epoch`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.epochKey`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              if (opts.limits?.adminKeys != null && obj.adminKeys === opts.limits.adminKeys) {
                throw new MaxLengthError('Streaming decode error - repeated field "adminKeys" had too many elements')
              }

              yield {
                field: `${prefix}.adminKeys[]`,
                index: obj.adminKeys,
                value: reader.bytes()
              }

              obj.adminKeys++

              break
            }
            case 7: {
              if (opts.limits?.addresses != null && obj.addresses === opts.limits.addresses) {
                throw new MaxLengthError('Streaming decode error - repeated field "addresses" had too many elements')
              }

              yield {
                field: `${prefix}.addresses[]`,
                index: obj.addresses,
                value: reader.bytes()
              }

              obj.addresses++

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

  export interface CommunityInviteVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface CommunityInviteCommunityIdFieldEvent {
    field: '$.communityId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CommunityInviteNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface CommunityInviteEpochFieldEvent {
    field: '$.epoch'
    value: number
  }

  export interface CommunityInviteEpochKeyFieldEvent {
    field: '$.epochKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CommunityInviteAdminKeysFieldEvent {
    field: '$.adminKeys[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CommunityInviteAddressesFieldEvent {
    field: '$.addresses[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CommunityInvite>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CommunityInvite.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommunityInvite>): CommunityInvite {
    return decodeMessage(buf, CommunityInvite.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CommunityInvite>): Generator<CommunityInviteVersionFieldEvent | CommunityInviteCommunityIdFieldEvent | CommunityInviteNameFieldEvent | CommunityInviteEpochFieldEvent | CommunityInviteEpochKeyFieldEvent | CommunityInviteAdminKeysFieldEvent | CommunityInviteAddressesFieldEvent> {
    return streamMessage(buf, CommunityInvite.codec(), opts)
  }
}
