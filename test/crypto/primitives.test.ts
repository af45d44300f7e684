import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, InvalidKeyError } from '../../src/crypto/errors.js'
import { aeadDecrypt, aeadEncrypt, hkdf, hmacSha256, toHex, utf8, x25519 } from '../../src/crypto/primitives.js'

describe('primitives', () => {
  it('HKDF-SHA-256 reproduces RFC 5869 test case 1', () => {
    const ikm = new Uint8Array(22).fill(0x0b)
    const salt = Uint8Array.from({ length: 13 }, (_, i) => i)
    const info = Uint8Array.from({ length: 10 }, (_, i) => 0xf0 + i)
    expect(toHex(hkdf(ikm, salt, info, 42))).toBe(
      '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865'
    )
  })
  it('HMAC accepts keys of any length', () => {
    expect(hmacSha256(new Uint8Array(100), utf8('x')).length).toBe(32)
  })
  it('AEAD round trip and tamper detection', () => {
    const key = new Uint8Array(32).fill(1)
    const nonce = new Uint8Array(24).fill(2)
    const ct = aeadEncrypt(key, nonce, utf8('hello'), utf8('ad'))
    expect(new TextDecoder().decode(aeadDecrypt(key, nonce, ct, utf8('ad')))).toBe('hello')
    expect(() => aeadDecrypt(key, nonce, ct, utf8('other'))).toThrow()
    expect(() => aeadEncrypt(new Uint8Array(31), nonce, utf8('x'), utf8(''))).toThrow(InvalidArgumentError)
  })
  it('X25519 refuses the all-zero public key', () => {
    expect(() => x25519(new Uint8Array(32).fill(9), new Uint8Array(32))).toThrow(InvalidKeyError)
  })
})

describe('randomBytes', () => {
  it('fills lengths above one getRandomValues chunk and differs between calls', async () => {
    const { randomBytes } = await import('../../src/crypto/primitives.js')
    const big = randomBytes(200_000)
    expect(big.length).toBe(200_000)
    // the last chunk was filled too (2^-(8*1000) chance of a false failure)
    expect(big.subarray(199_000).some((b) => b !== 0)).toBe(true)
    expect(toHex(randomBytes(32))).not.toBe(toHex(randomBytes(32)))
    expect(randomBytes(0).length).toBe(0)
  })
})
