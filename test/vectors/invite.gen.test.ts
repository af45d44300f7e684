// Generator of test/vectors/invite.json (docs/PROTOCOL.md §12, §16): a contact invite and a community invite,
// binary and text, plus text forms that must be rejected and why. With WRITE_VECTORS=1 it writes the file;
// otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { blake2b, concatBytes, toHex, utf8 } from '../../src/crypto/primitives.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import {
  COMMUNITY_INVITE_PREFIX,
  CONTACT_INVITE_PREFIX,
  type CommunityInvite,
  type ContactInvite,
  encodeCommunityInvite,
  encodeContactInvite,
  formatCommunityInvite,
  formatContactInvite,
  parseInvite
} from '../../src/protocol/invite.js'

const FILE = fileURLToPath(new URL('./invite.json', import.meta.url))

/** Deterministic bytes: BLAKE2b-512(UTF-8("sotto/vectors/invite/" || label)) cut to n (n <= 64). */
function seed(label: string, n: number): Uint8Array {
  return blake2b(utf8(`sotto/vectors/invite/${label}`), 64).subarray(0, n)
}

function errorName(text: string): string {
  try {
    parseInvite(text)
  } catch (err) {
    if (err instanceof ProtocolError) return err.name
    throw err
  }
  throw new Error('accepted')
}

/** Builds the vector file's JSON text. */
function buildInviteVectors(): string {
  const identitySeed = seed('identity-seed', 32)
  const identity = IdentityKeyPair.fromSeed(identitySeed)
  const addr = Uint8Array.of(0x04, 192, 168, 1, 20, 0x06, 0x0f, 0xa1) // /ip4/192.168.1.20/tcp/4001
  const relay = Uint8Array.of(0x04, 203, 0, 113, 7, 0x06, 0x0f, 0xa2) // /ip4/203.0.113.7/tcp/4002
  const peerId = concatBytes(Uint8Array.of(0x00, 0x24, 0x08, 0x01, 0x12, 0x20), seed('peer-key', 32))
  const contact: ContactInvite = { identity: identity.publicKey, displayName: 'Ada', peerId, addresses: [addr], relays: [relay] }
  const contactBytes = encodeContactInvite(contact)
  const contactText = formatContactInvite(contact)
  const community: CommunityInvite = {
    communityId: seed('community-id', 32),
    name: 'book club',
    epoch: 7,
    epochKey: seed('epoch-key', 32),
    adminKeys: [identity.publicKey.signingKey, seed('admin-2', 32)],
    addresses: [addr]
  }
  const communityBytes = encodeCommunityInvite(community)
  const communityText = formatCommunityInvite(community)
  const checksum = (prefix: string, payload: Uint8Array) => toHex(blake2b(concatBytes(utf8(prefix), payload), 32).subarray(0, 4))
  const flip = contactText.slice(0, 20) + (contactText[20] === 'a' ? 'b' : 'a') + contactText.slice(21)
  const rejected = [
    { name: 'one character changed', text: flip },
    { name: 'truncated by 8 characters', text: contactText.slice(0, -8) },
    { name: 'contact payload under the community prefix', text: COMMUNITY_INVITE_PREFIX + contactText.slice(CONTACT_INVITE_PREFIX.length) },
    { name: 'unknown type letter', text: `sotto:x1:${contactText.slice(CONTACT_INVITE_PREFIX.length)}` },
    { name: 'unsupported version', text: `sotto:c2:${contactText.slice(CONTACT_INVITE_PREFIX.length)}` },
    { name: 'character outside the alphabet', text: `${contactText.slice(0, -1)}1` }
  ].map((r) => ({ ...r, error: errorName(r.text) }))
  const doc = {
    description:
      'sotto invites (PROTOCOL.md 12): binary protobuf, checksum = BLAKE2b-256(prefix || protobuf)[0..4], text = prefix || ' +
      'base32(protobuf || checksum) (RFC 4648, lowercase, no padding). Byte strings are lowercase hex.',
    contact: {
      identitySeed: toHex(identitySeed),
      identityPublicKey: toHex(identity.publicKey.serialize()),
      displayName: contact.displayName,
      peerId: toHex(peerId),
      addresses: contact.addresses.map(toHex),
      relays: contact.relays.map(toHex),
      encoded: toHex(contactBytes),
      checksum: checksum(CONTACT_INVITE_PREFIX, contactBytes),
      text: contactText
    },
    community: {
      communityId: toHex(community.communityId),
      name: community.name,
      epoch: community.epoch,
      epochKey: toHex(community.epochKey),
      adminKeys: community.adminKeys.map(toHex),
      addresses: community.addresses.map(toHex),
      encoded: toHex(communityBytes),
      checksum: checksum(COMMUNITY_INVITE_PREFIX, communityBytes),
      text: communityText
    },
    rejected
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('test/vectors/invite.json', () => {
  it('is reproduced byte for byte by the code', () => {
    const text = buildInviteVectors()
    if (process.env['WRITE_VECTORS'] === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
