// Generator of test/vectors/peer_record.json (docs/PROTOCOL.md §13.13, §16): a peer record signed by a fixed
// identity, its DHT key, and mutations that must be rejected. With WRITE_VECTORS=1 it writes the file;
// otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { blake2b, concatBytes, ed25519Verify, fromHex, toHex, utf8 } from '../../src/crypto/primitives.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import { decodePeerRecord, encodePeerRecord, PEER_RECORD_LABEL, peerRecordKey } from '../../src/protocol/peer-record.js'

const FILE = fileURLToPath(new URL('./peer_record.json', import.meta.url))

/** Deterministic bytes: BLAKE2b-512(UTF-8("sotto/vectors/peer-record/" || label)) cut to n (n <= 64). */
function seed(label: string, n: number): Uint8Array {
  return blake2b(utf8(`sotto/vectors/peer-record/${label}`), 64).subarray(0, n)
}

function rejection(bytes: Uint8Array): string {
  try {
    decodePeerRecord(bytes)
  } catch (err) {
    if (err instanceof ProtocolError) return err.name
    throw err
  }
  throw new Error('accepted')
}

function build(): string {
  const identity = IdentityKeyPair.fromSeed(seed('identity', 32))
  const signingKey = identity.publicKey.signingKey
  // A peer id multihash (identity hash of a 36-byte protobuf public key) and two binary multiaddrs.
  const peerId = concatBytes(Uint8Array.of(0x00, 0x24), seed('peer-id', 36))
  const addresses = [fromHex('047f000001060fa1'), fromHex('04c0a80102060fa1')]
  const relays = [concatBytes(fromHex('04cb00710706115c'), Uint8Array.of(0xa5, 0x03, 0x26), peerId)]
  const sequence = 1_790_000_000_000
  const record = encodePeerRecord({ signingKey, sequence, peerId, addresses, relays }, (m) => identity.sign(m))
  const body = record.subarray(0, record.length - 64)
  const signature = record.subarray(record.length - 64)
  expect(ed25519Verify(signingKey, concatBytes(utf8(PEER_RECORD_LABEL), body), signature)).toBe(true)
  const flipped = record.slice()
  flipped[50]! ^= 1
  const vectors = {
    description: 'sotto peer record (docs/PROTOCOL.md §13.13): identity seed -> signed record and DHT key',
    identitySeed: toHex(seed('identity', 32)),
    signingKey: toHex(signingKey),
    sequence,
    peerId: toHex(peerId),
    addresses: addresses.map(toHex),
    relays: relays.map(toHex),
    signedMessage: toHex(concatBytes(utf8(PEER_RECORD_LABEL), body)),
    signature: toHex(signature),
    record: toHex(record),
    dhtKey: new TextDecoder().decode(peerRecordKey(signingKey)),
    invalid: [
      { comment: 'one bit flipped in the peer id', record: toHex(flipped), error: rejection(flipped) },
      { comment: 'truncated by one byte', record: toHex(record.subarray(0, record.length - 1)), error: rejection(record.subarray(0, record.length - 1)) },
      { comment: 'version 2', record: toHex(concatBytes(Uint8Array.of(2), record.subarray(1))), error: rejection(concatBytes(Uint8Array.of(2), record.subarray(1))) }
    ]
  }
  return `${JSON.stringify(vectors, null, 2)}\n`
}

describe('test/vectors/peer_record.json', () => {
  it('is reproduced byte for byte (WRITE_VECTORS=1 rewrites it)', () => {
    const text = build()
    if (process.env['WRITE_VECTORS'] === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
    const v = JSON.parse(text) as { record: string }
    expect(decodePeerRecord(fromHex(v.record)).sequence).toBe(1_790_000_000_000)
  })
})
