// Property-based tests of the store's value encoding and key helpers (PROTOCOL.md §10.5, §10.6).
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeValue, encodeValue, prefixEnd, readU64, u64 } from '../../src/store/codec.js'
import type { StoreValue } from '../../src/store/types.js'

const storeValue: fc.Arbitrary<StoreValue> = fc.letrec<{ value: StoreValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
    fc.string(),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(
      fc.string().filter((k) => k !== '$bytes' && k !== '__proto__'),
      tie('value'),
      { maxKeys: 5 }
    )
  )
})).value

describe('value encoding', () => {
  it('round-trips any JSON value with byte strings anywhere', () => {
    fc.assert(
      fc.property(storeValue, (v) => {
        expect(decodeValue(encodeValue(v))).toEqual(v)
      }),
      { numRuns: 500 }
    )
  })

  it('omits undefined object members', () => {
    expect(decodeValue(encodeValue({ a: 1, b: undefined }))).toEqual({ a: 1 })
  })

  it('tags bytes 0x00 and JSON 0x01', () => {
    expect(encodeValue(Uint8Array.of(7))).toEqual(Uint8Array.of(0, 7))
    expect(Buffer.from(encodeValue({ a: Uint8Array.of(1, 2) })).toString()).toBe('\u0001{"a":{"$bytes":"AQI="}}')
  })
})

describe('key helpers', () => {
  it('u64 keeps numeric order as byte order', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.maxSafeNat(), (a, b) => {
        expect(Math.sign(Buffer.compare(u64(a), u64(b)))).toBe(Math.sign(a - b))
        expect(readU64(u64(a), 0)).toBe(a)
      })
    )
  })

  it('prefixEnd is above every key with the prefix and below every larger key', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 8 }), (prefix, rest) => {
        const end = prefixEnd(prefix)
        expect(Buffer.compare(Buffer.concat([prefix, rest]), end)).toBe(-1)
        expect(Buffer.compare(prefix, end)).toBe(-1)
      })
    )
  })
})
