import { describe, expect, it } from 'vitest'
import { DecryptionError } from '../../src/crypto/errors.js'
import {
  aeadDecrypt,
  aeadEncrypt,
  hkdf,
  hkdfExpand,
  hkdfExtract,
  hmacSha256,
  hmacSha256Each,
  toHex
} from '../../src/crypto/primitives.js'
import { sodium } from '../../src/crypto/sodium.js'

// The HMAC, HKDF and AEAD functions call libsodium's exports through one scratch region (inputs up to 8 KiB)
// and fall back to the wrappers above it. These check both paths against the libsodium wrappers and RFC 5869
// built from them, over lengths around every boundary, with a fixed pseudo-random fill (no randomness).

function bytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

function refHmac(key: Uint8Array, data: Uint8Array): Uint8Array {
  const state = sodium.crypto_auth_hmacsha256_init(key)
  sodium.crypto_auth_hmacsha256_update(state, data)
  return sodium.crypto_auth_hmacsha256_final(state)
}

function refHkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const prk = refHmac(salt.length === 0 ? new Uint8Array(32) : salt, ikm)
  const out = new Uint8Array(length)
  let t: Uint8Array = new Uint8Array(0)
  for (let i = 1, o = 0; o < length; i++) {
    const block = new Uint8Array(t.length + info.length + 1)
    block.set(t)
    block.set(info, t.length)
    block[block.length - 1] = i
    t = refHmac(prk, block)
    out.set(t.subarray(0, Math.min(32, length - o)), o)
    o += 32
  }
  return out
}

const LENGTHS = [0, 1, 31, 32, 33, 55, 56, 64, 65, 200, 4096, 8159, 8160, 8161, 8192, 8193, 20000]

describe('primitives through the scratch region', () => {
  it('HMAC-SHA-256 equals the wrappers for keys and data of every size class', () => {
    for (const k of [1, 16, 32, 33, 64, 65, 100, 9000]) {
      for (const d of LENGTHS) {
        const key = bytes(k, k * 7 + d)
        const data = bytes(d, d + 3)
        expect(toHex(hmacSha256(key, data))).toBe(toHex(refHmac(key, data)))
      }
    }
  })

  it('hmacSha256Each equals one hmacSha256 per message', () => {
    const key = bytes(32, 9)
    const messages = LENGTHS.map((d) => bytes(d, d))
    expect(hmacSha256Each(key, messages).map(toHex)).toEqual(messages.map((m) => toHex(refHmac(key, m))))
    const longKey = bytes(70, 10)
    expect(hmacSha256Each(longKey, [Uint8Array.of(1), Uint8Array.of(2)]).map(toHex)).toEqual(
      [Uint8Array.of(1), Uint8Array.of(2)].map((m) => toHex(refHmac(longKey, m)))
    )
  })

  it('HKDF (whole, extract, expand) equals RFC 5869 built from the wrappers', () => {
    for (const s of [0, 13, 32, 80, 9000]) {
      for (const i of [0, 10, 24, 100, 9000]) {
        for (const len of [0, 1, 32, 56, 96, 100]) {
          const ikm = bytes(65 + s, s + i)
          const salt = bytes(s, s + 1)
          const info = bytes(i, i + 2)
          const want = toHex(refHkdf(ikm, salt, info, len))
          expect(toHex(hkdf(ikm, salt, info, len))).toBe(want)
          expect(toHex(hkdfExpand(hkdfExtract(salt, ikm), info, len))).toBe(want)
        }
      }
    }
  })

  it('XChaCha20-Poly1305 equals the wrappers on both sides of the scratch limit, and refuses tampering', () => {
    const key = bytes(32, 1)
    const nonce = bytes(24, 2)
    for (const ad of [0, 64, 145, 5000]) {
      for (const m of LENGTHS) {
        const plaintext = bytes(m, m + ad)
        const a = bytes(ad, ad + 5)
        const want = sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, a, null, nonce, key)
        const got = aeadEncrypt(key, nonce, plaintext, a)
        expect(toHex(got)).toBe(toHex(want))
        expect(toHex(aeadDecrypt(key, nonce, got, a))).toBe(toHex(plaintext))
        const bad = got.slice()
        bad[bad.length - 1]! ^= 1
        expect(() => aeadDecrypt(key, nonce, bad, a)).toThrow(DecryptionError)
      }
    }
  })
})
