/**
 * Base32 of RFC 4648 §6, lowercase alphabet `a-z2-7`, without padding (docs/PROTOCOL.md §12.3).
 * Decoding accepts either case and rejects anything non-canonical: characters outside the alphabet,
 * impossible lengths (1, 3 or 6 characters mod 8) and non-zero trailing bits.
 */
import { InvalidEncodingError } from './errors.js'

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz234567'
const LOOKUP = new Int8Array(128).fill(-1)
for (let i = 0; i < 32; i++) {
  LOOKUP[ALPHABET.charCodeAt(i)] = i
  LOOKUP[ALPHABET.toUpperCase().charCodeAt(i)] = i
}

/** Encodes bytes as lowercase unpadded base32. */
export function base32Encode(bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const b of bytes) {
    buffer = (buffer << 8) | b
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(buffer >>> bits) & 31]
    }
    buffer &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31]
  return out
}

/** Decodes unpadded base32 (either case). Throws InvalidEncodingError on anything non-canonical. */
export function base32Decode(text: string): Uint8Array {
  const rem = text.length % 8
  if (rem === 1 || rem === 3 || rem === 6) throw new InvalidEncodingError('base32 text has an impossible length')
  const out = new Uint8Array(Math.floor((text.length * 5) / 8))
  let buffer = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    const v = c < 128 ? LOOKUP[c]! : -1
    if (v < 0) throw new InvalidEncodingError(`invalid base32 character at position ${i}`)
    buffer = ((buffer << 5) | v) & 0xffff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (buffer >>> bits) & 0xff
    }
  }
  if ((buffer & ((1 << bits) - 1)) !== 0) throw new InvalidEncodingError('base32 text has non-zero trailing bits')
  return out
}
