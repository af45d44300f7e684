/**
 * Invites (docs/PROTOCOL.md §12): a contact invite carries an identity public key (§2) and, when known,
 * how to reach its owner; a community invite carries a community's current epoch key (§8) and so is a
 * secret. Both have a binary form (canonical protobuf, §11.1) and a text form:
 * `prefix || base32(protobuf || B2b(prefix || protobuf, 32)[0..4])`, prefix `sotto:c1:` or `sotto:g1:`.
 */
import { IdentityPublicKey } from '../crypto/identity.js'
import { CryptoError } from '../crypto/errors.js'
import { blake2b, concatBytes, ED25519_PUBLIC_BYTES, equalBytes, utf8 } from '../crypto/primitives.js'
import { base32Decode, base32Encode } from './base32.js'
import { checkAddresses, checkDisplayName, type ErrorClass, MAX_ADDRESS_BYTES, MAX_DISPLAY_NAME_BYTES } from './content.js'
import {
  ChecksumError,
  InvalidArgumentError,
  InvalidEncodingError,
  InvalidPrefixError,
  MalformedError,
  OversizedError,
  UnsupportedVersionError
} from './errors.js'
import { CommunityInvite as CommunityCodec, ContactInvite as ContactCodec } from './gen/invite.js'
import { checkVersion, guard, messageRule, peekVersion, sameBytes, scanMessage, WIRE_LEN, WIRE_VARINT } from './wire.js'

/** The invite version this code writes (both kinds). */
export const INVITE_VERSION = 1
/** The lowest invite version accepted. */
export const MIN_INVITE_VERSION = 1
/** Text prefix of a version-1 contact invite. */
export const CONTACT_INVITE_PREFIX = 'sotto:c1:'
/** Text prefix of a version-1 community invite. */
export const COMMUNITY_INVITE_PREFIX = 'sotto:g1:'
/** Length of the text form's checksum. */
export const INVITE_CHECKSUM_BYTES = 4
/** Length of a serialised identity public key (§2). */
export const INVITE_IDENTITY_BYTES = 129
/** Largest libp2p peer id (binary multihash) in an invite. */
export const MAX_PEER_ID_BYTES = 64
/** Most addresses (binary multiaddrs) in an invite, and most relays in a contact invite. */
export const MAX_INVITE_ADDRESSES = 8
/** Largest community name, in UTF-8 bytes. */
export const MAX_COMMUNITY_NAME_BYTES = MAX_DISPLAY_NAME_BYTES
/** Most admin signing keys in a community invite. */
export const MAX_ADMIN_KEYS = 16
/** Length of a community id and of an epoch key (§8). */
export const COMMUNITY_FIELD_BYTES = 32
/** Largest encoded invite of either kind; decoders reject longer input before parsing. */
export const MAX_INVITE_BYTES = 4096
/** Largest text form accepted (before whitespace is removed). */
export const MAX_INVITE_TEXT_CHARS = 8192

/** A contact invite, decoded and checked. */
export interface ContactInvite {
  /** The contact's identity (signature on its DH key already verified). */
  identity: IdentityPublicKey
  /** Suggested display name; may be empty. */
  displayName: string
  /** libp2p peer id (binary multihash), when the inviter knew it. */
  peerId?: Uint8Array
  /** Binary multiaddrs the inviter listened on. */
  addresses: Uint8Array[]
  /** Binary multiaddrs of the relays the inviter uses (§6 of the design, issue 6). */
  relays: Uint8Array[]
}

/** A community invite, decoded and checked. Holds the epoch key: treat it as a secret. */
export interface CommunityInvite {
  communityId: Uint8Array
  name: string
  epoch: number
  epochKey: Uint8Array
  /** Ed25519 identity signing keys of the community's admins, 1..16, distinct. */
  adminKeys: Uint8Array[]
  /** Optional bootstrap multiaddrs; members are found through the rendezvous key otherwise (§13.2). */
  addresses: Uint8Array[]
}

const CONTACT_RULE = messageRule('ContactInvite', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_LEN, maxBytes: INVITE_IDENTITY_BYTES },
  3: { wire: WIRE_LEN, maxBytes: MAX_DISPLAY_NAME_BYTES },
  4: { wire: WIRE_LEN, maxBytes: MAX_PEER_ID_BYTES },
  5: { wire: WIRE_LEN, maxBytes: MAX_ADDRESS_BYTES, maxCount: MAX_INVITE_ADDRESSES },
  6: { wire: WIRE_LEN, maxBytes: MAX_ADDRESS_BYTES, maxCount: MAX_INVITE_ADDRESSES }
})

const COMMUNITY_RULE = messageRule('CommunityInvite', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_LEN, maxBytes: COMMUNITY_FIELD_BYTES },
  3: { wire: WIRE_LEN, maxBytes: MAX_COMMUNITY_NAME_BYTES },
  4: { wire: WIRE_VARINT },
  5: { wire: WIRE_LEN, maxBytes: COMMUNITY_FIELD_BYTES },
  6: { wire: WIRE_LEN, maxBytes: ED25519_PUBLIC_BYTES, maxCount: MAX_ADMIN_KEYS },
  7: { wire: WIRE_LEN, maxBytes: MAX_ADDRESS_BYTES, maxCount: MAX_INVITE_ADDRESSES }
})

// --- contact invites ------------------------------------------------------------------------------

function checkContact(inv: ContactInvite, Err: ErrorClass): void {
  if (!(inv.identity instanceof IdentityPublicKey)) throw new Err('identity must be an IdentityPublicKey')
  checkDisplayName(inv.displayName, Err)
  if (inv.peerId !== undefined) {
    if (!(inv.peerId instanceof Uint8Array) || inv.peerId.length === 0) throw new Err('peerId must be non-empty bytes')
    if (inv.peerId.length > MAX_PEER_ID_BYTES) throw new OversizedError(`peerId over ${MAX_PEER_ID_BYTES} bytes`)
  }
  checkAddresses('addresses', inv.addresses, MAX_INVITE_ADDRESSES, Err)
  checkAddresses('relays', inv.relays, MAX_INVITE_ADDRESSES, Err)
}

/** Encodes a contact invite canonically (§12.1). Throws InvalidArgumentError or OversizedError. */
export function encodeContactInvite(invite: ContactInvite): Uint8Array {
  if (typeof invite !== 'object' || invite === null) throw new InvalidArgumentError('invite must be an object')
  checkContact(invite, InvalidArgumentError)
  return ContactCodec.encode({
    version: INVITE_VERSION,
    identityKey: invite.identity.serialize() as Uint8Array<ArrayBuffer>,
    displayName: invite.displayName,
    peerId: (invite.peerId ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>,
    addresses: invite.addresses as Array<Uint8Array<ArrayBuffer>>,
    relays: invite.relays as Array<Uint8Array<ArrayBuffer>>
  })
}

/** Decodes and checks a contact invite's binary form (§12.1). Throws only ProtocolError subclasses. */
export function decodeContactInvite(bytes: Uint8Array): ContactInvite {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('ContactInvite: not bytes')
  if (bytes.length > MAX_INVITE_BYTES) throw new OversizedError(`ContactInvite: ${bytes.length} bytes, limit ${MAX_INVITE_BYTES}`)
  checkVersion('ContactInvite', peekVersion(bytes, 'ContactInvite'), MIN_INVITE_VERSION, INVITE_VERSION)
  scanMessage(bytes, CONTACT_RULE)
  const raw = guard('ContactInvite', () => ContactCodec.decode(bytes))
  if (raw.identityKey.length !== INVITE_IDENTITY_BYTES) throw new MalformedError('ContactInvite: identity key missing or short')
  let identity: IdentityPublicKey
  try {
    identity = IdentityPublicKey.deserialize(raw.identityKey)
  } catch (err) {
    if (err instanceof CryptoError) throw new MalformedError(`ContactInvite: identity key rejected: ${err.message}`)
    throw new MalformedError('ContactInvite: identity key rejected')
  }
  const invite: ContactInvite = {
    identity,
    displayName: raw.displayName,
    addresses: raw.addresses.map((a) => a.slice()),
    relays: raw.relays.map((a) => a.slice())
  }
  if (raw.peerId.length > 0) invite.peerId = raw.peerId.slice()
  checkContact(invite, MalformedError)
  if (!sameBytes(encodeContactInvite(invite), bytes)) throw new MalformedError('ContactInvite: non-canonical encoding')
  return invite
}

// --- community invites ----------------------------------------------------------------------------

function checkCommunity(inv: CommunityInvite, Err: ErrorClass): void {
  for (const [name, v] of [['communityId', inv.communityId], ['epochKey', inv.epochKey]] as const) {
    if (!(v instanceof Uint8Array) || v.length !== COMMUNITY_FIELD_BYTES) throw new Err(`${name} must be 32 bytes`)
  }
  if (typeof inv.name !== 'string') throw new Err('name must be a string')
  checkDisplayName(inv.name, Err)
  if (typeof inv.epoch !== 'number' || !Number.isInteger(inv.epoch) || inv.epoch < 0 || inv.epoch > 0xffffffff) {
    throw new Err('epoch must be a u32')
  }
  if (!Array.isArray(inv.adminKeys) || inv.adminKeys.length === 0) throw new Err('at least one admin key is required')
  if (inv.adminKeys.length > MAX_ADMIN_KEYS) throw new OversizedError(`more than ${MAX_ADMIN_KEYS} admin keys`)
  inv.adminKeys.forEach((k, i) => {
    if (!(k instanceof Uint8Array) || k.length !== ED25519_PUBLIC_BYTES) throw new Err('admin keys must be 32 bytes')
    for (let j = 0; j < i; j++) if (equalBytes(inv.adminKeys[j]!, k)) throw new Err('admin keys must be distinct')
  })
  checkAddresses('addresses', inv.addresses, MAX_INVITE_ADDRESSES, Err)
}

/** Encodes a community invite canonically (§12.2). Throws InvalidArgumentError or OversizedError. */
export function encodeCommunityInvite(invite: CommunityInvite): Uint8Array {
  if (typeof invite !== 'object' || invite === null) throw new InvalidArgumentError('invite must be an object')
  checkCommunity(invite, InvalidArgumentError)
  return CommunityCodec.encode({
    version: INVITE_VERSION,
    communityId: invite.communityId as Uint8Array<ArrayBuffer>,
    name: invite.name,
    epoch: invite.epoch,
    epochKey: invite.epochKey as Uint8Array<ArrayBuffer>,
    adminKeys: invite.adminKeys as Array<Uint8Array<ArrayBuffer>>,
    addresses: invite.addresses as Array<Uint8Array<ArrayBuffer>>
  })
}

/** Decodes and checks a community invite's binary form (§12.2). Throws only ProtocolError subclasses. */
export function decodeCommunityInvite(bytes: Uint8Array): CommunityInvite {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('CommunityInvite: not bytes')
  if (bytes.length > MAX_INVITE_BYTES) throw new OversizedError(`CommunityInvite: ${bytes.length} bytes, limit ${MAX_INVITE_BYTES}`)
  checkVersion('CommunityInvite', peekVersion(bytes, 'CommunityInvite'), MIN_INVITE_VERSION, INVITE_VERSION)
  scanMessage(bytes, COMMUNITY_RULE)
  const raw = guard('CommunityInvite', () => CommunityCodec.decode(bytes))
  const invite: CommunityInvite = {
    communityId: raw.communityId.slice(),
    name: raw.name,
    epoch: raw.epoch,
    epochKey: raw.epochKey.slice(),
    adminKeys: raw.adminKeys.map((k) => k.slice()),
    addresses: raw.addresses.map((a) => a.slice())
  }
  checkCommunity(invite, MalformedError)
  if (!sameBytes(encodeCommunityInvite(invite), bytes)) throw new MalformedError('CommunityInvite: non-canonical encoding')
  return invite
}

// --- text form ------------------------------------------------------------------------------------

function checksum(prefix: string, payload: Uint8Array): Uint8Array {
  return blake2b(concatBytes(utf8(prefix), payload), 32).subarray(0, INVITE_CHECKSUM_BYTES)
}

function toText(prefix: string, payload: Uint8Array): string {
  return prefix + base32Encode(concatBytes(payload, checksum(prefix, payload)))
}

/**
 * Splits a text invite into its prefix and checked payload (§12.3). Whitespace anywhere is ignored and
 * case does not matter (QR alphanumeric mode is upper case). Throws InvalidEncodingError,
 * InvalidPrefixError, UnsupportedVersionError or ChecksumError.
 */
function fromText(text: string): { prefix: string; payload: Uint8Array } {
  if (typeof text !== 'string') throw new InvalidEncodingError('invite must be a string')
  if (text.length > MAX_INVITE_TEXT_CHARS) throw new OversizedError(`invite text over ${MAX_INVITE_TEXT_CHARS} characters`)
  const compact = text.replace(/[ \t\r\n]/g, '').toLowerCase()
  const m = /^sotto:([a-z])([0-9]{1,3}):/.exec(compact)
  if (m === null) throw new InvalidPrefixError('not a sotto invite (expected sotto:c1: or sotto:g1:)')
  const prefix = m[0]
  if (m[1] !== 'c' && m[1] !== 'g') throw new InvalidPrefixError(`unknown invite type "${m[1]}"`)
  if (m[2] !== String(INVITE_VERSION)) throw new UnsupportedVersionError(`invite text version ${m[2]} is not supported`)
  const raw = base32Decode(compact.slice(prefix.length))
  if (raw.length <= INVITE_CHECKSUM_BYTES) throw new InvalidEncodingError('invite text too short')
  if (raw.length > MAX_INVITE_BYTES + INVITE_CHECKSUM_BYTES) throw new OversizedError('invite too large')
  const payload = raw.subarray(0, raw.length - INVITE_CHECKSUM_BYTES)
  if (!equalBytes(checksum(prefix, payload), raw.subarray(raw.length - INVITE_CHECKSUM_BYTES))) {
    throw new ChecksumError('invite checksum does not match (mistyped or truncated)')
  }
  return { prefix, payload }
}

/** The text form of a contact invite: `sotto:c1:` followed by base32 (§12.3). */
export function formatContactInvite(invite: ContactInvite): string {
  return toText(CONTACT_INVITE_PREFIX, encodeContactInvite(invite))
}

/** The text form of a community invite: `sotto:g1:` followed by base32 (§12.3). A secret. */
export function formatCommunityInvite(invite: CommunityInvite): string {
  return toText(COMMUNITY_INVITE_PREFIX, encodeCommunityInvite(invite))
}

/** Parses a contact invite's text form. InvalidPrefixError when it is a community invite or not an invite. */
export function parseContactInvite(text: string): ContactInvite {
  const { prefix, payload } = fromText(text)
  if (prefix !== CONTACT_INVITE_PREFIX) throw new InvalidPrefixError('not a contact invite')
  return decodeContactInvite(payload)
}

/** Parses a community invite's text form. InvalidPrefixError when it is a contact invite or not an invite. */
export function parseCommunityInvite(text: string): CommunityInvite {
  const { prefix, payload } = fromText(text)
  if (prefix !== COMMUNITY_INVITE_PREFIX) throw new InvalidPrefixError('not a community invite')
  return decodeCommunityInvite(payload)
}

/** Parses either kind of text invite. */
export function parseInvite(
  text: string
): { type: 'contact'; invite: ContactInvite } | { type: 'community'; invite: CommunityInvite } {
  const { prefix, payload } = fromText(text)
  if (prefix === CONTACT_INVITE_PREFIX) return { type: 'contact', invite: decodeContactInvite(payload) }
  return { type: 'community', invite: decodeCommunityInvite(payload) }
}
