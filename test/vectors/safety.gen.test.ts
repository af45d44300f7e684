/**
 * Generator and check of test/vectors/safety.json (docs/PROTOCOL.md §7). `WRITE_VECTORS=1` rewrites the
 * file; otherwise the code must reproduce it byte for byte.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, sha256, sha512, toHex, utf8 } from '../../src/crypto/primitives.js'
import {
  compareScanned,
  FINGERPRINT_ITERATIONS,
  fingerprintHash,
  formatSafetyNumber,
  ownFingerprintDigits,
  safetyNumber,
  scannableFingerprint
} from '../../src/crypto/safety.js'

function writeOrCheck(name: string, value: unknown): void {
  const url = new URL(`./${name}`, import.meta.url)
  const text = `${JSON.stringify(value, null, 2)}\n`
  if (process.env['WRITE_VECTORS'] === '1') writeFileSync(url, text)
  expect(readFileSync(url, 'utf8')).toBe(text)
}

function side(label: string) {
  const seed = sha256(utf8(`sotto test vector: safety ${label} identity seed`))
  const key = IdentityKeyPair.fromSeed(seed).publicKey
  const h0 = concatBytes(Uint8Array.of(0, 0), key.signingKey, key.signingKey)
  const h1 = sha512(concatBytes(h0, key.signingKey))
  return {
    key,
    json: {
      identitySeed: toHex(seed),
      signingKey: toHex(key.signingKey),
      h0: toHex(h0),
      h1: toHex(h1),
      fingerprintHash: toHex(fingerprintHash(key)),
      digits: ownFingerprintDigits(key)
    }
  }
}

function build() {
  const alice = side('alice')
  const bob = side('bob')
  const number = safetyNumber(alice.key, bob.key)
  const aliceShows = scannableFingerprint(alice.key, bob.key)
  const bobShows = scannableFingerprint(bob.key, alice.key)
  expect(compareScanned(bob.key, alice.key, aliceShows)).toBe(true)
  expect(compareScanned(alice.key, bob.key, bobShows)).toBe(true)
  return {
    description: `sotto safety number, docs/PROTOCOL.md §7: Signal numeric fingerprint version 0, ${FINGERPRINT_ITERATIONS} iterations of SHA-512, key = identifier = Ed25519 signing key. h0 and h1 are the hash input before the first iteration and after it.`,
    iterations: FINGERPRINT_ITERATIONS,
    alice: alice.json,
    bob: bob.json,
    safetyNumber: number,
    formatted: formatSafetyNumber(number),
    scannableShownByAlice: toHex(aliceShows),
    scannableShownByBob: toHex(bobShows)
  }
}

describe('safety number vectors', () => {
  it('safety.json is reproduced byte for byte', () => {
    writeOrCheck('safety.json', build())
  })
})
