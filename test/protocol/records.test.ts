import { describe, expect, it } from 'vitest'
import { CommunityEpoch } from '../../src/crypto/community.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { sha256, toHex } from '../../src/crypto/primitives.js'
import { InvalidRecordError, MalformedError, OversizedError, UnsupportedVersionError } from '../../src/protocol/errors.js'
import {
  decodePrekeyRecord,
  encodePrekeyRecord,
  MAX_PREKEY_RECORD_BYTES,
  PREKEY_RECORD_NAMESPACE,
  prekeyRecordKey,
  rendezvousKey,
  selectPrekeyRecord,
  validatePrekeyRecord
} from '../../src/protocol/records.js'
import { bytes, cat, lf, protocolErrorOf, vf } from './helpers.js'

const alice = IdentityKeyPair.fromSeed(bytes(32, 0xa1))
const mallory = IdentityKeyPair.fromSeed(bytes(32, 0xee))
const prekeys = LocalPrekeys.generate(alice, { oneTimeCount: 4, now: 1_700_000_000_000 })
const older = encodePrekeyRecord(prekeys.bundle(alice, { now: 1_700_000_000_000 }).encode())
const newer = encodePrekeyRecord(prekeys.bundle(alice, { now: 1_700_000_100_000 }).encode())
const key = prekeyRecordKey(alice.publicKey.signingKey)

describe('prekey records (attack 6: forged, older, oversized bundles)', () => {
  it('the key is opaque: namespace and 64 hex characters, no identity bytes in it', () => {
    const text = new TextDecoder().decode(key)
    expect(text).toMatch(new RegExp(`^/${PREKEY_RECORD_NAMESPACE}/[0-9a-f]{64}$`))
    expect(text).not.toContain(toHex(alice.publicKey.signingKey))
    expect(prekeyRecordKey(mallory.publicKey.signingKey)).not.toEqual(key)
  })

  it('a valid record validates and yields its bundle', () => {
    const bundle = validatePrekeyRecord(key, newer)
    expect(bundle.identity.equals(alice.publicKey)).toBe(true)
    expect(decodePrekeyRecord(newer).length).toBeGreaterThan(100)
  })

  it('the selector picks the newest valid record, whatever the order, and skips invalid ones', () => {
    expect(selectPrekeyRecord(key, [older, newer])).toBe(1)
    expect(selectPrekeyRecord(key, [newer, older])).toBe(0)
    expect(selectPrekeyRecord(key, [bytes(10), older])).toBe(1)
    expect(() => selectPrekeyRecord(key, [bytes(10)])).toThrow(InvalidRecordError)
    expect(() => selectPrekeyRecord(key, [])).toThrow(InvalidRecordError)
  })

  it('a bundle signed by someone else, stored under the victim key, is rejected', () => {
    const forged = encodePrekeyRecord(LocalPrekeys.generate(mallory, { oneTimeCount: 1 }).bundle(mallory).encode())
    expect(protocolErrorOf(() => validatePrekeyRecord(key, forged))).toBeInstanceOf(InvalidRecordError)
    expect(selectPrekeyRecord(key, [forged, older])).toBe(1)
  })

  it('a tampered bundle (any byte after the identity) is rejected', () => {
    const bundle = decodePrekeyRecord(newer)
    for (const i of [140, 200, bundle.length - 1]) {
      const t = bundle.slice()
      t[i]! ^= 0x01
      expect(protocolErrorOf(() => validatePrekeyRecord(key, encodePrekeyRecord(t)))).toBeInstanceOf(InvalidRecordError)
    }
  })

  it('wrappers: lowered or unknown version, unknown field, oversized, empty', () => {
    const b = decodePrekeyRecord(newer)
    expect(protocolErrorOf(() => decodePrekeyRecord(lf(2, b)))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodePrekeyRecord(cat(vf(1, 2), lf(2, b))))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodePrekeyRecord(cat(vf(1, 1), lf(2, b), vf(3, 1))))).toBeInstanceOf(MalformedError)
    expect(protocolErrorOf(() => decodePrekeyRecord(vf(1, 1)))).toBeInstanceOf(MalformedError)
    expect(protocolErrorOf(() => decodePrekeyRecord(new Uint8Array(MAX_PREKEY_RECORD_BYTES + 1)))).toBeInstanceOf(
      OversizedError
    )
    expect(protocolErrorOf(() => validatePrekeyRecord(bytes(200), newer))).toBeInstanceOf(InvalidRecordError)
  })
})

describe('community rendezvous', () => {
  it('is the §8.2 key', () => {
    const epoch = CommunityEpoch.fromEpochKey(bytes(32, 1), 0, bytes(32, 2))
    const digest = rendezvousKey(epoch.topicId)
    expect(digest).toEqual(epoch.rendezvousKey)
    expect(digest).toEqual(sha256(cat(new TextEncoder().encode('sotto/community/v1/rendezvous'), epoch.topicId)))
  })
})
