import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, MalformedError, PaddingError } from '../../src/crypto/errors.js'
import { MAX_PADDED_PLAINTEXT_BYTES, PADDING_BUCKETS, pad, paddedLength, unpad } from '../../src/crypto/padding.js'

describe('padding (PROTOCOL.md §9)', () => {
  it('pads to the smallest bucket >= len + 1, with 0x80 then zeros', () => {
    const p = pad(Uint8Array.of(1, 2, 3))
    expect(p.length).toBe(256)
    expect(Array.from(p.subarray(0, 5))).toEqual([1, 2, 3, 0x80, 0])
    expect(p.subarray(4).every((b) => b === 0)).toBe(true)
  })

  it('puts the bucket boundaries where the spec says', () => {
    expect(paddedLength(0)).toBe(256)
    expect(paddedLength(255)).toBe(256)
    expect(paddedLength(256)).toBe(512)
    expect(paddedLength(511)).toBe(512)
    expect(paddedLength(65534)).toBe(65536)
    expect(paddedLength(MAX_PADDED_PLAINTEXT_BYTES)).toBe(65536)
    expect(pad(new Uint8Array(0))[0]).toBe(0x80)
    // A plaintext that ends in 0x80 or zeros survives the round trip.
    const tricky = Uint8Array.of(0x80, 0, 0, 0x80, 0)
    expect(unpad(pad(tricky))).toEqual(tricky)
  })

  it('refuses plaintexts above the maximum and bad lengths', () => {
    expect(() => pad(new Uint8Array(MAX_PADDED_PLAINTEXT_BYTES + 1))).toThrow(InvalidArgumentError)
    expect(() => paddedLength(-1)).toThrow(InvalidArgumentError)
    expect(() => paddedLength(1.5)).toThrow(InvalidArgumentError)
    expect(() => pad('x' as unknown as Uint8Array)).toThrow(InvalidArgumentError)
  })

  it('rejects a length that is not a bucket', () => {
    expect(() => unpad(new Uint8Array(255))).toThrow(PaddingError)
    expect(() => unpad(new Uint8Array(0))).toThrow(PaddingError)
    expect(() => unpad(new Uint8Array(65537))).toThrow(PaddingError)
  })

  it('rejects all zeros, a missing marker and a non-zero byte after the marker', () => {
    expect(() => unpad(new Uint8Array(256))).toThrow(PaddingError)
    const noMarker = new Uint8Array(256).fill(7)
    expect(() => unpad(noMarker)).toThrow(PaddingError)
    const junkAfter = pad(Uint8Array.of(1))
    junkAfter[200] = 1
    expect(() => unpad(junkAfter)).toThrow(PaddingError)
    const wrongMarker = pad(Uint8Array.of(1))
    wrongMarker[1] = 0x81
    expect(() => unpad(wrongMarker)).toThrow(PaddingError)
  })

  it('rejects a plaintext padded to a larger bucket than its smallest (non-canonical)', () => {
    const big = new Uint8Array(512)
    big[10] = 0x80
    expect(() => unpad(big)).toThrow(PaddingError)
    // PaddingError is a MalformedError, so callers can branch on either.
    expect(() => unpad(big)).toThrow(MalformedError)
  })

  it('property: unpad(pad(p)) = p and the length is a bucket', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), (p) => {
        const padded = pad(p)
        expect(PADDING_BUCKETS).toContain(padded.length)
        expect(unpad(padded)).toEqual(p)
      })
    )
  })

  // Turning the marker into 0x00 can yield a different valid plaintext (inherent to ISO/IEC 7816-4; the
  // pad is only ever removed after authenticated decryption), so the marker is changed to non-zero values.
  it('property: any single-byte change in the pad region (marker kept non-zero) is rejected', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.integer({ min: 1, max: 255 }), (p, at, delta) => {
        const padded = pad(p)
        const pos = p.length + (at % (padded.length - p.length))
        padded[pos] = (padded[pos]! + delta) & 0xff
        if (pos === p.length && padded[pos] === 0) padded[pos] = 1
        // A 0x80 written after the marker is the canonical padding of a longer plaintext, not a corruption.
        fc.pre(!(pos > p.length && padded[pos] === 0x80))
        expect(() => unpad(padded)).toThrow(PaddingError)
      })
    )
  })
})
