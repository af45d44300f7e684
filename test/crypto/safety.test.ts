import { describe, expect, it } from 'vitest'
import { InvalidArgumentError, MalformedError, UnsupportedVersionError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { fromHex, toHex, utf8 } from '../../src/crypto/primitives.js'
import {
  compareScanned,
  fingerprintDigits,
  fingerprintHash,
  formatSafetyNumber,
  numericFingerprintHash,
  ownFingerprintDigits,
  SCANNABLE_BYTES,
  safetyNumber,
  scannableFingerprint
} from '../../src/crypto/safety.js'

const alice = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0x11)).publicKey
const bob = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0x22)).publicKey
const carol = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0x33)).publicKey

describe('numeric fingerprint', () => {
  it("reproduces libsignal's NumericFingerprintGenerator test vector (5200 iterations, version 0)", () => {
    // Constants of libsignal's fingerprint tests: 33-byte Curve25519 identity keys, phone numbers as identifiers.
    const aliceKey = fromHex('0506863bc66d02b40d27b8d49ca7c09e9239236f9d7d25d6fcca5ce13c7064d868')
    const bobKey = fromHex('05f781b6fb32fed9ba1cf2de978d4d5da28dc34046ae814402b5c0dbd96fda907b')
    const a = numericFingerprintHash(aliceKey, utf8('+14152222222'))
    const b = numericFingerprintHash(bobKey, utf8('+14153333333'))
    expect(toHex(a.subarray(0, 32))).toBe('1e301a0353dce3dbe7684cb8336e85136cdc0ee96219494ada305d62a7bd61df')
    expect(toHex(b.subarray(0, 32))).toBe('d62cbf73a11592015b6b9f1682ac306fea3aaf3885b84d12bca631e9d4fb3a4d')
    const [x, y] = [fingerprintDigits(a), fingerprintDigits(b)].sort()
    expect(x! + y!).toBe('300354477692869396892869876765458257569162576843440918079131')
  })

  it('is symmetric, 60 digits, and built from both halves', () => {
    const n = safetyNumber(alice, bob)
    expect(n).toMatch(/^[0-9]{60}$/)
    expect(safetyNumber(bob, alice)).toBe(n)
    expect(safetyNumber(alice.signingKey, bob.signingKey)).toBe(n)
    const halves = [ownFingerprintDigits(alice), ownFingerprintDigits(bob)].sort()
    expect(n).toBe(halves.join(''))
    expect(safetyNumber(alice, carol)).not.toBe(n)
    expect(toHex(fingerprintHash(alice))).toBe(toHex(numericFingerprintHash(alice.signingKey, alice.signingKey)))
  })

  it('formats as 12 groups of 5 and refuses other input', () => {
    const f = formatSafetyNumber(safetyNumber(alice, bob))
    expect(f).toMatch(/^[0-9]{5}( [0-9]{5}){11}$/)
    expect(() => formatSafetyNumber('123')).toThrow(InvalidArgumentError)
    expect(() => safetyNumber(new Uint8Array(31), bob)).toThrow(InvalidArgumentError)
  })
})

describe('scannable form', () => {
  it('matches when each side scans the other, and only then', () => {
    const shownByAlice = scannableFingerprint(alice, bob)
    const shownByBob = scannableFingerprint(bob, alice)
    expect(shownByAlice.length).toBe(SCANNABLE_BYTES)
    expect(shownByAlice[0]).toBe(0)
    expect(toHex(shownByAlice.subarray(1, 33))).toBe(toHex(fingerprintHash(alice).subarray(0, 32)))
    expect(compareScanned(bob, alice, shownByAlice)).toBe(true)
    expect(compareScanned(alice, bob, shownByBob)).toBe(true)
    expect(compareScanned(alice, bob, shownByAlice)).toBe(false) // own code scanned back
    expect(compareScanned(bob, carol, shownByAlice)).toBe(false) // someone else
    const flipped = shownByAlice.slice()
    flipped[40] ^= 1
    expect(compareScanned(bob, alice, flipped)).toBe(false)
  })

  it('refuses other versions and lengths', () => {
    const shown = scannableFingerprint(alice, bob)
    const v = shown.slice()
    v[0] = 1
    expect(() => compareScanned(bob, alice, v)).toThrow(UnsupportedVersionError)
    expect(() => compareScanned(bob, alice, shown.subarray(0, 64))).toThrow(MalformedError)
    expect(() => compareScanned(bob, alice, new Uint8Array(0))).toThrow(MalformedError)
  })
})
