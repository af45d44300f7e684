/**
 * Padding of plaintexts to size buckets before encryption (docs/PROTOCOL.md §9), so that a ciphertext's
 * length tells an observer only which bucket its plaintext fell into.
 *
 * The pad is ISO/IEC 7816-4 style (also ISO/IEC 9797-1 method 2): one 0x80 byte, then zero bytes up to
 * the smallest bucket of PADDING_BUCKETS that is at least len(plaintext) + 1.
 */
import { InvalidArgumentError, PaddingError } from './errors.js'
import { checkBytes } from './primitives.js'

/** The bucket sizes, in bytes, ascending (§9). A padded plaintext is always exactly one of these long. */
export const PADDING_BUCKETS: readonly number[] = Object.freeze([
  256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536
])

/** The largest plaintext that can be padded: the largest bucket minus the one 0x80 byte. */
export const MAX_PADDED_PLAINTEXT_BYTES = 65535

/** The 0x80 marker that ends the plaintext and starts the pad (ISO/IEC 7816-4). */
export const PAD_MARKER = 0x80

/** The bucket a plaintext of `plaintextLength` bytes is padded to (the smallest bucket >= length + 1). */
export function paddedLength(plaintextLength: number): number {
  if (!Number.isInteger(plaintextLength) || plaintextLength < 0) {
    throw new InvalidArgumentError('plaintextLength must be a non-negative integer')
  }
  for (const bucket of PADDING_BUCKETS) {
    if (bucket >= plaintextLength + 1) return bucket
  }
  throw new InvalidArgumentError(
    `plaintext must be at most ${MAX_PADDED_PLAINTEXT_BYTES} bytes, got ${plaintextLength}`
  )
}

/** Pads `plaintext` to its bucket: plaintext || 0x80 || 0x00 * (bucket - len - 1). Returns a new array. */
export function pad(plaintext: Uint8Array): Uint8Array {
  checkBytes('plaintext', plaintext)
  const out = new Uint8Array(paddedLength(plaintext.length))
  out.set(plaintext, 0)
  out[plaintext.length] = PAD_MARKER
  return out
}

/**
 * Removes the pad. Throws PaddingError unless the length is one of PADDING_BUCKETS, the input ends
 * with 0x80 followed only by zero bytes, and that bucket is the smallest one the plaintext fits (so
 * every plaintext has exactly one padded form). Returns a copy of the plaintext.
 *
 * Not constant time in the position of the marker: callers unpad only after authenticated decryption,
 * so the input was produced by a key holder and its length is already visible as the bucket.
 */
export function unpad(padded: Uint8Array): Uint8Array {
  checkBytes('padded', padded)
  if (!PADDING_BUCKETS.includes(padded.length)) {
    throw new PaddingError(`padded length ${padded.length} is not a padding bucket`)
  }
  let i = padded.length - 1
  while (i >= 0 && padded[i] === 0) i--
  if (i < 0 || padded[i] !== PAD_MARKER) throw new PaddingError('padding does not end in 0x80 followed by zeros')
  // Canonical form only: a plaintext that fits a smaller bucket must have been padded to that bucket.
  if (paddedLength(i) !== padded.length) throw new PaddingError('plaintext was not padded to its smallest bucket')
  return padded.slice(0, i)
}
