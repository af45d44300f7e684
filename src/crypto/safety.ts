/**
 * Safety numbers (docs/PROTOCOL.md §7): Signal's numeric fingerprint (libsignal NumericFingerprintGenerator,
 * version 0, 5200 iterations of SHA-512) over each side's Ed25519 identity signing key, which is also its
 * stable identifier; 60 digits for the pair, and a 65-byte form for QR codes.
 */
import { InvalidArgumentError, MalformedError, UnsupportedVersionError } from './errors.js'
import { IdentityPublicKey } from './identity.js'
import { checkBytes, concatBytes, ED25519_PUBLIC_BYTES, equalBytes, sha512 } from './primitives.js'

/** Fingerprint version, hashed as u16be and sent as the first byte of the scannable form. */
export const FINGERPRINT_VERSION = 0
/** SHA-512 iterations per side (Signal's value). */
export const FINGERPRINT_ITERATIONS = 5200
/** Bytes of each side's hash in the scannable form. */
export const SCANNABLE_FINGERPRINT_BYTES = 32
/** Length of the scannable form: version, our fingerprint, their fingerprint. */
export const SCANNABLE_BYTES = 1 + 2 * SCANNABLE_FINGERPRINT_BYTES

type KeyInput = IdentityPublicKey | Uint8Array

function signingKeyOf(name: string, key: KeyInput): Uint8Array {
  if (key instanceof IdentityPublicKey) return key.signingKey
  checkBytes(name, key, ED25519_PUBLIC_BYTES)
  return key
}

/**
 * Signal's iterated fingerprint hash (64 bytes) of any key and stable identifier:
 * h0 = u16be(0) || key || identifier, then `iterations` times h = SHA-512(h || key).
 */
export function numericFingerprintHash(key: Uint8Array, identifier: Uint8Array, iterations = FINGERPRINT_ITERATIONS): Uint8Array {
  checkBytes('key', key)
  checkBytes('identifier', identifier)
  let hash = concatBytes(Uint8Array.of(FINGERPRINT_VERSION >> 8, FINGERPRINT_VERSION & 0xff), key, identifier)
  for (let i = 0; i < iterations; i++) hash = sha512(concatBytes(hash, key))
  return hash
}

/** sotto's fingerprint hash of one identity: numericFingerprintHash(signingKey, signingKey) (§7). */
export function fingerprintHash(key: KeyInput): Uint8Array {
  const k = signingKeyOf('key', key)
  return numericFingerprintHash(k, k)
}

/** 30 digits of a fingerprint hash: six 5-byte chunks, each a big-endian uint40 mod 100000, zero-padded to 5. */
export function fingerprintDigits(hash: Uint8Array): string {
  checkBytes('hash', hash, 64)
  let out = ''
  for (let chunk = 0; chunk < 6; chunk++) {
    let value = 0
    for (let i = 0; i < 5; i++) value = value * 256 + hash[chunk * 5 + i]!
    out += String(value % 100000).padStart(5, '0')
  }
  return out
}

/** The 30 digits of one identity (its half of every safety number it is in). */
export function ownFingerprintDigits(key: KeyInput): string {
  return fingerprintDigits(fingerprintHash(key))
}

/**
 * The 60-digit safety number of two identities: both 30-digit halves, the smaller (as a string) first, so
 * that both sides see the same number.
 */
export function safetyNumber(ourKey: KeyInput, theirKey: KeyInput): string {
  const ours = ownFingerprintDigits(ourKey)
  const theirs = ownFingerprintDigits(theirKey)
  return ours <= theirs ? ours + theirs : theirs + ours
}

/** "12345 67890 ..." : a 60-digit safety number as 12 groups of 5 digits separated by single spaces. */
export function formatSafetyNumber(digits: string): string {
  if (!/^[0-9]{60}$/.test(digits)) throw new InvalidArgumentError('a safety number is 60 digits')
  return digits.match(/[0-9]{5}/g)!.join(' ')
}

/** The QR-friendly form shown by our side: `u8(0) || ourHash[0..32] || theirHash[0..32]` (65 bytes). */
export function scannableFingerprint(ourKey: KeyInput, theirKey: KeyInput): Uint8Array {
  return concatBytes(
    Uint8Array.of(FINGERPRINT_VERSION),
    fingerprintHash(ourKey).subarray(0, SCANNABLE_FINGERPRINT_BYTES),
    fingerprintHash(theirKey).subarray(0, SCANNABLE_FINGERPRINT_BYTES)
  )
}

/**
 * Checks a scannable form scanned from the other side's screen: true when its first fingerprint is theirs
 * and its second is ours (in constant time). Throws UnsupportedVersionError or MalformedError.
 */
export function compareScanned(ourKey: KeyInput, theirKey: KeyInput, scanned: Uint8Array): boolean {
  checkBytes('scanned', scanned)
  if (scanned.length < 1) throw new MalformedError('scanned fingerprint is empty')
  if (scanned[0] !== FINGERPRINT_VERSION) throw new UnsupportedVersionError(`fingerprint version ${scanned[0]}`)
  if (scanned.length !== SCANNABLE_BYTES) throw new MalformedError(`scanned fingerprint must be ${SCANNABLE_BYTES} bytes`)
  const expected = scannableFingerprint(theirKey, ourKey)
  return equalBytes(expected, scanned)
}
