import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { base32Decode, base32Encode } from '../../src/protocol/base32.js'
import { InvalidEncodingError } from '../../src/protocol/errors.js'

const enc = (s: string) => new TextEncoder().encode(s)

describe('base32 (RFC 4648 §6, lowercase, unpadded)', () => {
  it('matches the RFC 4648 §10 test vectors', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'my'],
      ['fo', 'mzxq'],
      ['foo', 'mzxw6'],
      ['foob', 'mzxw6yq'],
      ['fooba', 'mzxw6ytb'],
      ['foobar', 'mzxw6ytboi']
    ]
    for (const [plain, coded] of vectors) {
      expect(base32Encode(enc(plain))).toBe(coded)
      expect(base32Decode(coded)).toEqual(enc(plain))
      expect(base32Decode(coded.toUpperCase())).toEqual(enc(plain))
    }
  })

  it('round trips any bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
      expect(base32Decode(base32Encode(b))).toEqual(b)
    }))
  })

  it('rejects bad characters, impossible lengths, non-zero trailing bits', () => {
    for (const bad of ['m1', 'mzxw6=', 'a', 'abc', 'abcdef', 'mz', 'mzxr', 'é']) {
      expect(() => base32Decode(bad)).toThrow(InvalidEncodingError)
    }
  })
})
