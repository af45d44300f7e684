import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import {
  decodePeerRecord,
  encodePeerRecord,
  MAX_PEER_RECORD_BYTES,
  peerRecordKey,
  selectPeerRecord,
  validatePeerRecord
} from '../../src/protocol/peer-record.js'

const alice = IdentityKeyPair.generate()
const mallory = IdentityKeyPair.generate()
const record = (sequence: number, signer = alice, key = alice.publicKey.signingKey) =>
  encodePeerRecord({ signingKey: key, sequence, peerId: Uint8Array.of(0, 36, 8, 1), addresses: [Uint8Array.of(4, 127, 0, 0, 1)], relays: [Uint8Array.of(4, 10, 0, 0, 1)] }, (m) =>
    signer.sign(m)
  )

describe('peer records', () => {
  it('round-trips and validates under the identity key', () => {
    const bytes = record(7)
    const r = validatePeerRecord(peerRecordKey(alice.publicKey.signingKey), bytes)
    expect(r.sequence).toBe(7)
    expect(Array.from(r.addresses[0]!)).toEqual([4, 127, 0, 0, 1])
    expect(Array.from(r.relays[0]!)).toEqual([4, 10, 0, 0, 1])
  })
  it('rejects a record signed by another key, or stored under another identity', () => {
    expect(() => decodePeerRecord(record(1, mallory))).toThrow(ProtocolError)
    expect(() => validatePeerRecord(peerRecordKey(mallory.publicKey.signingKey), record(1))).toThrow(ProtocolError)
  })
  it('the selector picks the highest sequence and never an invalid record', () => {
    const key = peerRecordKey(alice.publicKey.signingKey)
    expect(selectPeerRecord(key, [record(1), record(5), record(3, mallory)])).toBe(1)
    expect(() => selectPeerRecord(key, [record(9, mallory)])).toThrow(ProtocolError)
  })
  it('any mutation or truncation is rejected with a ProtocolError, never anything else', () => {
    const good = record(2)
    fc.assert(
      fc.property(fc.nat(good.length - 1), fc.integer({ min: 1, max: 255 }), fc.nat(good.length), (i, x, cut) => {
        const flipped = good.slice()
        flipped[i]! ^= x
        expect(() => decodePeerRecord(flipped)).toThrow(ProtocolError)
        if (cut < good.length) expect(() => decodePeerRecord(good.subarray(0, cut))).toThrow(ProtocolError)
      }),
      { numRuns: 300 }
    )
    expect(() => decodePeerRecord(new Uint8Array(MAX_PEER_RECORD_BYTES + 1))).toThrow(ProtocolError)
  })
})
