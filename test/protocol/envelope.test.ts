import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  coarseTimestamp,
  decodeEnvelope,
  ENVELOPE_BUCKETS,
  encodeEnvelope,
  type Envelope,
  envelopeId,
  MAX_ENVELOPE_BYTES,
  MAX_PREKEY_HEADER_BYTES,
  MAX_COMMUNITY_SEALED_BYTES,
  MIN_COMMUNITY_SEALED_BYTES,
  RATCHET_HEADER_BYTES,
  paddingForGap
} from '../../src/protocol/envelope.js'
import {
  InvalidArgumentError,
  MalformedError,
  OversizedError,
  UnsupportedVersionError
} from '../../src/protocol/errors.js'
import { bytes, cat, lf, padEnvelope, protocolErrorOf, vf } from './helpers.js'

const T = 1_700_000_000_000

const direct: Envelope = { kind: 'direct', timestamp: T, ratchetHeader: bytes(81, 7), ciphertext: bytes(300, 9) }
const prekey: Envelope = {
  kind: 'direct-prekey',
  timestamp: T,
  prekeyHeader: bytes(1200, 3),
  ratchetHeader: bytes(81, 7),
  ciphertext: bytes(300, 9)
}
const community: Envelope = { kind: 'community', timestamp: T, sealed: bytes(441, 5) }

/** A valid DIRECT body (version 1, kind 2, timestamp, header, ciphertext), unpadded. */
function directBody(extra: { version?: number; kind?: number } = {}): Uint8Array {
  return cat(vf(1, extra.version ?? 1), vf(2, extra.kind ?? 2), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300)))
}

describe('envelope round trip', () => {
  it.each([direct, prekey, community])('decodes what it encodes ($kind)', (env) => {
    const encoded = encodeEnvelope(env)
    expect(ENVELOPE_BUCKETS).toContain(encoded.length)
    expect(decodeEnvelope(encoded)).toEqual(env)
  })

  it('a hand-built canonical encoding decodes (the spec, not the codec, defines the bytes)', () => {
    expect(decodeEnvelope(padEnvelope(directBody()))).toEqual({
      kind: 'direct',
      timestamp: T,
      ratchetHeader: bytes(81),
      ciphertext: bytes(300)
    })
    expect(encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: bytes(81), ciphertext: bytes(300) })).toEqual(
      padEnvelope(directBody())
    )
  })

  it('every ciphertext length lands exactly in the smallest reachable bucket', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 65_000 }), (n) => {
        const encoded = encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: bytes(81), ciphertext: bytes(n) })
        expect(ENVELOPE_BUCKETS).toContain(encoded.length)
        // Independently: the unpadded fields plus the padding of §11.3 for the smallest reachable bucket.
        const body = cat(vf(1, 1), vf(2, 2), vf(3, T), lf(5, bytes(81)), lf(6, bytes(n)))
        expect(Buffer.from(encoded).equals(padEnvelope(body))).toBe(true)
      }),
      { numRuns: 200 }
    )
    fc.assert(
      fc.property(fc.integer({ min: MIN_COMMUNITY_SEALED_BYTES, max: 65_000 }), (n) => {
        const encoded = encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(n) })
        const body = cat(vf(1, 1), vf(2, 3), vf(3, T), lf(6, bytes(n)))
        expect(Buffer.from(encoded).equals(padEnvelope(body))).toBe(true)
      }),
      { numRuns: 100 }
    )
  })

  it('gaps that no padding field can fill move to the next bucket', () => {
    expect([1, 2, 130, 16387].map(paddingForGap)).toEqual([undefined, undefined, undefined, undefined])
    expect(paddingForGap(0)).toBe(0)
    expect(paddingForGap(3)).toBe(1)
    expect(paddingForGap(129)).toBe(127)
    expect(paddingForGap(131)).toBe(128)
    for (let gap = 0; gap < 20_000; gap++) {
      const k = paddingForGap(gap)
      if (k === undefined || k === 0) continue
      expect(1 + (k < 128 ? 1 : k < 16384 ? 2 : 3) + k).toBe(gap)
    }
    // Find a ciphertext length whose unpadded envelope is 1 byte short of 512: it must go to 1024.
    for (let n = 380; n < 440; n++) {
      const fields = cat(vf(1, 1), vf(2, 2), vf(3, T), lf(5, bytes(81)), lf(6, bytes(n)))
      const out = encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: bytes(81), ciphertext: bytes(n) })
      if (fields.length === 511 || fields.length === 510) expect(out.length).toBe(1024)
      if (fields.length === 512) expect(out).toEqual(fields)
    }
  })

  it('the envelope id is BLAKE2b-256 of the encoding: 32 bytes, stable, changed by any bit', () => {
    const encoded = encodeEnvelope(direct)
    const id = envelopeId(encoded)
    expect(id.length).toBe(32)
    expect(envelopeId(encodeEnvelope(direct))).toEqual(id)
    const flipped = encoded.slice()
    flipped[100]! ^= 1
    expect(envelopeId(flipped)).not.toEqual(id)
  })

  it('coarseTimestamp rounds down to a whole second', () => {
    expect(coarseTimestamp(1_700_000_000_999)).toBe(1_700_000_000_000)
    expect(coarseTimestamp(1_700_000_000_000)).toBe(1_700_000_000_000)
  })
})

describe('envelope encoder rejects bad input', () => {
  it.each([
    ['timestamp not a whole second', { ...direct, timestamp: T + 1 }],
    ['timestamp zero', { ...direct, timestamp: 0 }],
    ['timestamp negative', { ...direct, timestamp: -1000 }],
    ['empty ciphertext', { ...direct, ciphertext: new Uint8Array(0) }],
    ['empty ratchet header', { ...direct, ratchetHeader: new Uint8Array(0) }],
    ['unknown kind', { ...direct, kind: 'other' }]
  ])('%s', (_name, env) => {
    expect(() => encodeEnvelope(env as Envelope)).toThrow(InvalidArgumentError)
  })

  it('oversized fields and envelopes', () => {
    expect(() => encodeEnvelope({ ...direct, ratchetHeader: bytes(RATCHET_HEADER_BYTES + 1) })).toThrow(OversizedError)
    expect(() => encodeEnvelope({ ...prekey, prekeyHeader: bytes(MAX_PREKEY_HEADER_BYTES + 1) } as Envelope)).toThrow(
      OversizedError
    )
    expect(() => encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(MAX_COMMUNITY_SEALED_BYTES + 1) })).toThrow(
      OversizedError
    )
    expect(() => encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(MIN_COMMUNITY_SEALED_BYTES - 1) })).toThrow(
      InvalidArgumentError
    )
    expect(() => encodeEnvelope({ ...direct, ratchetHeader: bytes(RATCHET_HEADER_BYTES - 1) })).toThrow(InvalidArgumentError)
    expect(() => encodeEnvelope({ ...direct, ciphertext: bytes(MAX_ENVELOPE_BYTES - 100) })).toThrow(OversizedError)
    // 65406 bytes before padding: the gap of 130 to the largest bucket cannot be filled (§11.3).
    expect(() => encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(65391) })).toThrow(OversizedError)
    expect(encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(65390) }).length).toBe(MAX_ENVELOPE_BYTES)
  })
})

describe('envelope decoder rejects (attacks 14, 15)', () => {
  it('input longer than the largest bucket, before parsing', () => {
    expect(protocolErrorOf(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1)))).toBeInstanceOf(OversizedError)
  })

  it('a missing (0), lowered or unknown version: downgrade rejected', () => {
    const noVersion = padEnvelope(cat(vf(2, 2), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    expect(protocolErrorOf(() => decodeEnvelope(noVersion))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(directBody({ version: 0 }))))).toBeInstanceOf(
      UnsupportedVersionError
    )
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(directBody({ version: 2 }))))).toBeInstanceOf(
      UnsupportedVersionError
    )
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(directBody({ version: 2 ** 32 + 1 }))))).toBeInstanceOf(
      UnsupportedVersionError
    )
  })

  it('an unknown or missing kind', () => {
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(directBody({ kind: 4 }))))).toBeInstanceOf(MalformedError)
    const noKind = padEnvelope(cat(vf(1, 1), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    expect(protocolErrorOf(() => decodeEnvelope(noKind))).toBeInstanceOf(MalformedError)
  })

  it('a size that is not a bucket (truncated, extended, unpadded)', () => {
    const good = encodeEnvelope(direct)
    for (const bad of [good.subarray(0, good.length - 1), cat(good, bytes(1)), directBody(), good.subarray(0, 10)]) {
      expect(protocolErrorOf(() => decodeEnvelope(bad))).toBeInstanceOf(MalformedError)
    }
  })

  it('huge varints and varints past 64 bits', () => {
    const long = cat(vf(1, 1), vf(2, 2), Uint8Array.of(0x18), bytes(11, 0xff), Uint8Array.of(0x01))
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(cat(long, lf(5, bytes(81)), lf(6, bytes(300))))))).toBeInstanceOf(
      MalformedError
    )
    const over64 = cat(vf(1, 1), vf(2, 2), Uint8Array.of(0x18), bytes(9, 0xff), Uint8Array.of(0x7f))
    expect(protocolErrorOf(() => decodeEnvelope(padEnvelope(cat(over64, lf(5, bytes(81)), lf(6, bytes(300))))))).toBeInstanceOf(
      MalformedError
    )
  })

  it('a length prefix past the end, and a length prefix of 2^63', () => {
    const body = cat(vf(1, 1), vf(2, 2), vf(3, T), lf(5, bytes(81)), Uint8Array.of(0x32), Uint8Array.of(0xff, 0x0f))
    const padded = cat(body, new Uint8Array(512 - body.length))
    expect(protocolErrorOf(() => decodeEnvelope(padded))).toBeInstanceOf(MalformedError)
    const huge = cat(vf(1, 1), vf(2, 2), vf(3, T), Uint8Array.of(0x32), bytes(8, 0xff), Uint8Array.of(0x7f))
    expect(protocolErrorOf(() => decodeEnvelope(cat(huge, new Uint8Array(512 - huge.length))))).toBeInstanceOf(
      MalformedError
    )
  })

  it('deeply nested groups are rejected at once, without recursion', () => {
    const groups = cat(vf(1, 1), new Uint8Array(65536 - 2).fill(0x0b)) // field 1, wire type 3, repeated
    const start = performance.now()
    expect(protocolErrorOf(() => decodeEnvelope(groups))).toBeInstanceOf(MalformedError)
    const deep = cat(vf(1, 1), vf(2, 2), new Uint8Array(65536 - 4).fill(0x23)) // field 4 start-group, nested
    expect(protocolErrorOf(() => decodeEnvelope(deep))).toBeInstanceOf(MalformedError)
    expect(performance.now() - start).toBeLessThan(200)
  })

  it('unknown fields, repeated fields, fields out of order', () => {
    const unknown = padEnvelope(cat(directBody(), lf(7, bytes(3))))
    const repeated = padEnvelope(cat(vf(1, 1), vf(2, 2), vf(3, T), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    const order = padEnvelope(cat(vf(1, 1), vf(3, T), vf(2, 2), lf(5, bytes(81)), lf(6, bytes(300))))
    for (const bad of [unknown, repeated, order]) expect(protocolErrorOf(() => decodeEnvelope(bad))).toBeInstanceOf(MalformedError)
  })

  it('non-canonical encodings: non-minimal varint, explicit defaults, wrong wire type', () => {
    const nonMinimal = padEnvelope(cat(vf(1, 1), Uint8Array.of(0x10, 0x82, 0x00), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    const explicitEmpty = padEnvelope(cat(vf(1, 1), vf(2, 2), vf(3, T), lf(4, new Uint8Array(0)), lf(5, bytes(81)), lf(6, bytes(300))))
    const wireType = padEnvelope(cat(vf(1, 1), vf(2, 2), lf(3, bytes(6)), lf(5, bytes(81)), lf(6, bytes(300))))
    for (const bad of [nonMinimal, explicitEmpty, wireType]) {
      expect(protocolErrorOf(() => decodeEnvelope(bad))).toBeInstanceOf(MalformedError)
    }
  })

  it('padding that is not zero, or that reaches a larger bucket than needed', () => {
    const good = encodeEnvelope(direct)
    const nonZero = good.slice()
    nonZero[nonZero.length - 1] = 1
    expect(protocolErrorOf(() => decodeEnvelope(nonZero))).toBeInstanceOf(MalformedError)
    const body = directBody()
    const k = 1024 - body.length - 1 - 2
    const tooMuch = cat(body, lf(15, new Uint8Array(k)))
    expect(tooMuch.length).toBe(1024)
    expect(protocolErrorOf(() => decodeEnvelope(tooMuch))).toBeInstanceOf(MalformedError)
  })

  it('fields that do not belong to the kind, and missing required fields', () => {
    const directWithPrekey = padEnvelope(cat(vf(1, 1), vf(2, 2), vf(3, T), lf(4, bytes(10)), lf(5, bytes(81)), lf(6, bytes(300))))
    const communityWithHeader = padEnvelope(cat(vf(1, 1), vf(2, 3), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    const prekeyWithoutHeader = padEnvelope(cat(vf(1, 1), vf(2, 1), vf(3, T), lf(5, bytes(81)), lf(6, bytes(300))))
    const noCiphertext = padEnvelope(cat(vf(1, 1), vf(2, 2), vf(3, T), lf(5, bytes(81))))
    for (const bad of [directWithPrekey, communityWithHeader, prekeyWithoutHeader, noCiphertext]) {
      expect(protocolErrorOf(() => decodeEnvelope(bad))).toBeInstanceOf(MalformedError)
    }
  })

  it('timestamps: missing, not a whole second, beyond 2^53', () => {
    for (const ts of [undefined, T + 1, 2 ** 60]) {
      const parts = [vf(1, 1), vf(2, 2)]
      if (ts !== undefined) parts.push(vf(3, BigInt(ts)))
      const bad = padEnvelope(cat(...parts, lf(5, bytes(81)), lf(6, bytes(300))))
      expect(protocolErrorOf(() => decodeEnvelope(bad))).toBeInstanceOf(MalformedError)
    }
  })

  it('oversized fields inside a valid-size envelope', () => {
    const bigHeader = padEnvelope(cat(vf(1, 1), vf(2, 2), vf(3, T), lf(5, bytes(RATCHET_HEADER_BYTES + 1)), lf(6, bytes(300))))
    expect(protocolErrorOf(() => decodeEnvelope(bigHeader))).toBeInstanceOf(OversizedError)
  })

  it('the decoded fields are copies: mutating the input afterwards changes nothing', () => {
    const encoded = encodeEnvelope(direct)
    const decoded = decodeEnvelope(encoded)
    encoded.fill(0)
    expect(decoded).toEqual(direct)
  })
})
