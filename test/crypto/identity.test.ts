import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import { InvalidKeyError, MalformedError, SignatureError, UnsupportedVersionError } from '../../src/crypto/errors.js'
import { IDENTITY_PUBLIC_BYTES, IdentityKeyPair, IdentityPublicKey } from '../../src/crypto/identity.js'
import { toHex, utf8, x25519Public } from '../../src/crypto/primitives.js'

const seed = (b: number) => new Uint8Array(32).fill(b)

describe('IdentityKeyPair', () => {
  it('is deterministic from its seed and round-trips through serialize', () => {
    const a = IdentityKeyPair.fromSeed(seed(1))
    const b = IdentityKeyPair.fromSeed(seed(1))
    expect(a.publicKey.equals(b.publicKey)).toBe(true)
    const c = IdentityKeyPair.deserialize(a.serialize())
    expect(c.publicKey.equals(a.publicKey)).toBe(true)
    expect(a.serialize()).toEqual(Uint8Array.of(1, ...seed(1)))
    expect(IdentityKeyPair.fromSeed(seed(2)).publicKey.equals(a.publicKey)).toBe(false)
  })

  it('generate uses the random source and differs each time by default', () => {
    const a = IdentityKeyPair.generate()
    const b = IdentityKeyPair.generate()
    expect(a.publicKey.equals(b.publicKey)).toBe(false)
    const c = IdentityKeyPair.generate(() => seed(7))
    expect(c.publicKey.equals(IdentityKeyPair.fromSeed(seed(7)).publicKey)).toBe(true)
  })

  it('signs verifiably and agrees symmetrically', () => {
    const a = IdentityKeyPair.fromSeed(seed(1))
    const b = IdentityKeyPair.fromSeed(seed(2))
    const sig = a.sign(utf8('hello'))
    expect(a.publicKey.verify(utf8('hello'), sig)).toBe(true)
    expect(a.publicKey.verify(utf8('hellO'), sig)).toBe(false)
    expect(b.publicKey.verify(utf8('hello'), sig)).toBe(false)
    expect(toHex(a.agree(b.publicKey.dhKey))).toBe(toHex(b.agree(a.publicKey.dhKey)))
  })

  it('refuses low-order keys in agree', () => {
    const a = IdentityKeyPair.fromSeed(seed(1))
    expect(() => a.agree(new Uint8Array(32))).toThrow(InvalidKeyError)
    const order8 = new Uint8Array(32)
    order8[0] = 1
    expect(() => a.agree(order8)).toThrow(InvalidKeyError)
  })

  it('never prints secrets', () => {
    const a = IdentityKeyPair.fromSeed(seed(9))
    const secretHex = toHex(seed(9)).slice(0, 16)
    for (const text of [String(a), JSON.stringify(a), inspect(a, { showHidden: true, depth: 5 }), `${a}`]) {
      expect(text).not.toContain(secretHex)
      expect(text).toContain('IdentityKeyPair')
    }
    expect(JSON.stringify(a)).toBe(JSON.stringify({ type: 'IdentityKeyPair', id: a.publicKey.id }))
  })

  it('wipe zeroes secrets and blocks further use', () => {
    const a = IdentityKeyPair.fromSeed(seed(3))
    a.wipe()
    expect(() => a.sign(utf8('x'))).toThrow(InvalidKeyError)
    expect(() => a.serialize()).toThrow(InvalidKeyError)
    expect(() => a.agree(IdentityKeyPair.fromSeed(seed(4)).publicKey.dhKey)).toThrow(InvalidKeyError)
  })

  it('rejects bad serialized key pairs', () => {
    expect(() => IdentityKeyPair.deserialize(new Uint8Array(0))).toThrow(MalformedError)
    expect(() => IdentityKeyPair.deserialize(Uint8Array.of(2, ...seed(1)))).toThrow(UnsupportedVersionError)
    expect(() => IdentityKeyPair.deserialize(Uint8Array.of(1, ...seed(1), 0))).toThrow(MalformedError)
  })
})

describe('IdentityPublicKey', () => {
  const pub = IdentityKeyPair.fromSeed(seed(5)).publicKey

  it('has a fixed 129-byte layout that round-trips', () => {
    const bytes = pub.serialize()
    expect(bytes.length).toBe(IDENTITY_PUBLIC_BYTES)
    expect(bytes[0]).toBe(1)
    expect(bytes.subarray(1, 33)).toEqual(pub.signingKey)
    expect(bytes.subarray(33, 65)).toEqual(pub.dhKey)
    expect(bytes.subarray(65)).toEqual(pub.dhKeySignature)
    expect(IdentityPublicKey.deserialize(bytes).equals(pub)).toBe(true)
    expect(pub.id).toBe(toHex(pub.signingKey))
    expect(pub.fingerprint()).toMatch(/^[0-9a-f]{16}$/)
  })

  it('rejects a bad version, length or signature', () => {
    const bytes = pub.serialize()
    expect(() => IdentityPublicKey.deserialize(new Uint8Array(0))).toThrow(MalformedError)
    expect(() => IdentityPublicKey.deserialize(Uint8Array.of(0, ...bytes.subarray(1)))).toThrow(UnsupportedVersionError)
    expect(() => IdentityPublicKey.deserialize(bytes.subarray(0, 128))).toThrow(MalformedError)
    const badSig = bytes.slice()
    badSig[100] ^= 1
    expect(() => IdentityPublicKey.deserialize(badSig)).toThrow(SignatureError)
    // A DH key swapped for another valid key is no longer covered by the signature.
    const swapped = bytes.slice()
    swapped.set(x25519Public(seed(8)), 33)
    expect(() => IdentityPublicKey.deserialize(swapped)).toThrow(SignatureError)
  })

  it('rejects a low-order DH key even when signed', () => {
    const lowOrder = new Uint8Array(32)
    lowOrder[0] = 1
    expect(() => IdentityPublicKey.fromParts(pub.signingKey, lowOrder, pub.dhKeySignature)).toThrow(InvalidKeyError)
  })
})
