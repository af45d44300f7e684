import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { base32Encode } from '../../src/protocol/base32.js'
import {
  ChecksumError,
  InvalidArgumentError,
  InvalidEncodingError,
  InvalidPrefixError,
  MalformedError,
  OversizedError,
  UnsupportedVersionError
} from '../../src/protocol/errors.js'
import {
  type CommunityInvite,
  type ContactInvite,
  decodeCommunityInvite,
  decodeContactInvite,
  encodeCommunityInvite,
  encodeContactInvite,
  formatCommunityInvite,
  formatContactInvite,
  MAX_INVITE_ADDRESSES,
  parseCommunityInvite,
  parseContactInvite,
  parseInvite
} from '../../src/protocol/invite.js'
import { bytes, cat, lf, protocolErrorOf, vf } from './helpers.js'

const identity = IdentityKeyPair.fromSeed(bytes(32, 0x11))
// /ip4/127.0.0.1/tcp/4001 as a binary multiaddr.
const addr = Uint8Array.of(0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1)

const contact: ContactInvite = {
  identity: identity.publicKey,
  displayName: 'Ada',
  peerId: bytes(38, 0x22),
  addresses: [addr],
  relays: []
}
const community: CommunityInvite = {
  communityId: bytes(32, 0x33),
  name: 'book club',
  epoch: 3,
  epochKey: bytes(32, 0x44),
  adminKeys: [identity.publicKey.signingKey],
  addresses: []
}

function samePublic(a: ContactInvite, b: ContactInvite): void {
  expect(a.identity.equals(b.identity)).toBe(true)
  expect({ ...a, identity: null }).toEqual({ ...b, identity: null })
}

describe('contact invites', () => {
  it('round trip, binary and text', () => {
    samePublic(decodeContactInvite(encodeContactInvite(contact)), contact)
    const text = formatContactInvite(contact)
    expect(text.startsWith('sotto:c1:')).toBe(true)
    expect(text).toMatch(/^sotto:c1:[a-z2-7]+$/)
    samePublic(parseContactInvite(text), contact)
    const parsed = parseInvite(text)
    expect(parsed.type).toBe('contact')
  })

  it('is compact: identity + peer id + one address in under 400 characters', () => {
    expect(formatContactInvite(contact).length).toBeLessThan(400)
  })

  it('accepts upper case (QR alphanumeric) and whitespace from line wrapping', () => {
    const text = formatContactInvite(contact)
    const wrapped = text.toUpperCase().replace(/(.{40})/g, '$1\n  ')
    samePublic(parseContactInvite(wrapped), contact)
  })

  it('optional fields may be absent', () => {
    const minimal: ContactInvite = { identity: identity.publicKey, displayName: '', addresses: [], relays: [] }
    samePublic(parseContactInvite(formatContactInvite(minimal)), minimal)
  })

  it('rejects a mistyped character, a truncated paste, a wrong prefix', () => {
    const text = formatContactInvite(contact)
    const i = 30
    const typo = text.slice(0, i) + (text[i] === 'a' ? 'b' : 'a') + text.slice(i + 1)
    expect(protocolErrorOf(() => parseContactInvite(typo))).toBeInstanceOf(ChecksumError)
    const cut = protocolErrorOf(() => parseContactInvite(text.slice(0, -8)))
    expect(cut instanceof ChecksumError || cut instanceof InvalidEncodingError).toBe(true)
    expect(protocolErrorOf(() => parseContactInvite(`x${text}`))).toBeInstanceOf(InvalidPrefixError)
    expect(protocolErrorOf(() => parseContactInvite(text.replace('sotto:c1:', 'sotto:x1:')))).toBeInstanceOf(InvalidPrefixError)
    expect(protocolErrorOf(() => parseContactInvite(text.replace('sotto:c1:', 'sotto:c2:')))).toBeInstanceOf(
      UnsupportedVersionError
    )
    expect(protocolErrorOf(() => parseContactInvite(formatCommunityInvite(community)))).toBeInstanceOf(InvalidPrefixError)
    expect(protocolErrorOf(() => parseContactInvite(`${text}!`))).toBeInstanceOf(InvalidEncodingError)
    expect(protocolErrorOf(() => parseContactInvite('sotto:c1:'))).toBeInstanceOf(InvalidEncodingError)
    expect(protocolErrorOf(() => parseContactInvite('a'.repeat(10_000)))).toBeInstanceOf(OversizedError)
  })

  it('the checksum covers the prefix: a contact payload under the community prefix fails', () => {
    const text = formatContactInvite(contact)
    expect(protocolErrorOf(() => parseInvite(text.replace('sotto:c1:', 'sotto:g1:')))).toBeInstanceOf(ChecksumError)
  })

  it('rejects a forged identity key (bad signature on the DH key)', () => {
    const serial = identity.publicKey.serialize()
    serial[100]! ^= 1
    const forged = cat(vf(1, 1), lf(2, serial))
    expect(protocolErrorOf(() => decodeContactInvite(forged))).toBeInstanceOf(MalformedError)
  })

  it('rejects lowered/unknown versions, bad lengths, too many addresses, control characters', () => {
    const key = identity.publicKey.serialize()
    expect(protocolErrorOf(() => decodeContactInvite(lf(2, key)))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodeContactInvite(cat(vf(1, 2), lf(2, key))))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodeContactInvite(cat(vf(1, 1), lf(2, key.subarray(0, 128)))))).toBeInstanceOf(MalformedError)
    const many = cat(vf(1, 1), lf(2, key), ...Array.from({ length: MAX_INVITE_ADDRESSES + 1 }, () => lf(5, addr)))
    expect(protocolErrorOf(() => decodeContactInvite(many))).toBeInstanceOf(OversizedError)
    const ctl = cat(vf(1, 1), lf(2, key), lf(3, Uint8Array.of(0x41, 0x1b)))
    expect(protocolErrorOf(() => decodeContactInvite(ctl))).toBeInstanceOf(MalformedError)
    expect(() => encodeContactInvite({ ...contact, displayName: 'a\nb' })).toThrow(InvalidArgumentError)
  })
})

describe('community invites', () => {
  it('round trip, binary and text', () => {
    expect(decodeCommunityInvite(encodeCommunityInvite(community))).toEqual(community)
    const text = formatCommunityInvite(community)
    expect(text).toMatch(/^sotto:g1:[a-z2-7]+$/)
    expect(parseCommunityInvite(text)).toEqual(community)
    expect(parseInvite(text)).toEqual({ type: 'community', invite: community })
  })

  it('epoch 0 and bootstrap addresses', () => {
    const c = { ...community, epoch: 0, addresses: [addr, addr] }
    expect(parseCommunityInvite(formatCommunityInvite(c))).toEqual(c)
  })

  it('rejects bad fields', () => {
    const bad: unknown[] = [
      { ...community, communityId: bytes(31) },
      { ...community, epochKey: bytes(33) },
      { ...community, adminKeys: [] },
      { ...community, adminKeys: [bytes(32), bytes(32)] },
      { ...community, epoch: -1 },
      { ...community, epoch: 2 ** 32 }
    ]
    for (const c of bad) expect(() => encodeCommunityInvite(c as CommunityInvite)).toThrow(InvalidArgumentError)
    const noKey = cat(vf(1, 1), lf(2, bytes(32)), vf(4, 1), lf(6, bytes(32)))
    expect(protocolErrorOf(() => decodeCommunityInvite(noKey))).toBeInstanceOf(MalformedError)
    const dupAdmins = cat(vf(1, 1), lf(2, bytes(32)), lf(5, bytes(32)), lf(6, bytes(32)), lf(6, bytes(32)))
    expect(protocolErrorOf(() => decodeCommunityInvite(dupAdmins))).toBeInstanceOf(MalformedError)
    const bigEpoch = cat(vf(1, 1), lf(2, bytes(32)), vf(4, 2 ** 32), lf(5, bytes(32)), lf(6, bytes(32)))
    expect(protocolErrorOf(() => decodeCommunityInvite(bigEpoch))).toBeInstanceOf(MalformedError)
  })

  it('rejects non-canonical trailing bits in the base32 text', () => {
    const payload = encodeCommunityInvite(community)
    const text = formatCommunityInvite(community)
    // Length 4+payload is not a multiple of 5: the last character carries padding bits; set one.
    const total = payload.length + 4
    if ((total * 8) % 5 !== 0) {
      const last = text[text.length - 1]!
      const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
      const flipped = alphabet[alphabet.indexOf(last) | 1]!
      if (flipped !== last) {
        expect(protocolErrorOf(() => parseCommunityInvite(text.slice(0, -1) + flipped))).toBeInstanceOf(InvalidEncodingError)
      }
    }
    expect(base32Encode(Uint8Array.of(0xff))).toBe('74')
  })
})
