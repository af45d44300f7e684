// Generator of test/vectors/padding.json (docs/PROTOCOL.md §9, §16). With WRITE_VECTORS=1 it writes the file;
// otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { PaddingError } from '../../src/crypto/errors.js'
import { MAX_PADDED_PLAINTEXT_BYTES, PADDING_BUCKETS, pad, unpad } from '../../src/crypto/padding.js'
import { fromHex, sha256, toHex } from '../../src/crypto/primitives.js'

const FILE = fileURLToPath(new URL('./padding.json', import.meta.url))

/** The plaintext of length n: byte i is i mod 256. */
function plaintext(n: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => i & 0xff)
}

/** Full hex up to this padded length; above it only the SHA-256 of the padded bytes. */
const FULL_HEX_LIMIT = 1024

function buildPaddingVectors(): string {
  const lengths = [0, 1, 5, 254, 255, 256, 300, 511, 1000, 1023, 4095, 16384, MAX_PADDED_PLAINTEXT_BYTES]
  const valid = lengths.map((n) => {
    const padded = pad(plaintext(n))
    return {
      plaintextLength: n,
      paddedLength: padded.length,
      ...(padded.length <= FULL_HEX_LIMIT ? { padded: toHex(padded) } : { paddedSha256: toHex(sha256(padded)) })
    }
  })
  const invalid = [
    { why: 'length 255 is not a bucket', padded: toHex(new Uint8Array(255).fill(0x80)) },
    { why: 'all zero: no 0x80 marker', padded: toHex(new Uint8Array(256)) },
    { why: 'last non-zero byte is 0x01, not 0x80', padded: toHex(Uint8Array.from({ length: 256 }, (_, i) => (i < 10 ? 1 : 0))) },
    {
      why: 'non-zero byte after the marker',
      padded: toHex(Uint8Array.from({ length: 256 }, (_, i) => (i === 3 ? 0x80 : i === 200 ? 1 : 0)))
    },
    {
      why: 'not the smallest bucket: 3-byte plaintext padded to 512',
      padded: toHex(Uint8Array.from({ length: 512 }, (_, i) => (i < 3 ? 7 : i === 3 ? 0x80 : 0)))
    }
  ]
  const doc = {
    description:
      'Padding to size buckets (PROTOCOL.md §9): plaintext || 0x80 || zeros to the smallest bucket >= len + 1. ' +
      'The plaintext of length n has byte i = i mod 256. Padded bytes are given in hex up to 1024 bytes, above that as SHA-256. ' +
      'Every "invalid" input must be rejected by unpad.',
    buckets: [...PADDING_BUCKETS],
    maxPlaintextLength: MAX_PADDED_PLAINTEXT_BYTES,
    valid,
    invalid
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('test/vectors/padding.json', () => {
  it('is reproduced byte for byte by the code', () => {
    const text = buildPaddingVectors()
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })

  it('every valid case unpads to its plaintext and every invalid case is rejected', () => {
    const doc = JSON.parse(readFileSync(FILE, 'utf8')) as {
      valid: { plaintextLength: number; padded?: string }[]
      invalid: { padded: string }[]
    }
    for (const v of doc.valid) {
      if (v.padded !== undefined) expect(toHex(unpad(fromHex(v.padded)))).toBe(toHex(plaintext(v.plaintextLength)))
    }
    for (const v of doc.invalid) expect(() => unpad(fromHex(v.padded))).toThrow(PaddingError)
  })
})
