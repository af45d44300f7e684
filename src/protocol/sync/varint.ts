/**
 * Negentropy varints (docs/PROTOCOL.md §15.3): base-128 digits, most significant digit first, the high bit
 * set on every byte but the last, as few digits as possible. sotto bounds them to 0..2^53-1 (at most 8
 * bytes) and rejects non-minimal encodings (a leading 0x80 byte).
 */
import { MalformedSyncMessageError } from './errors.js'

/** Most bytes a varint may take: 8 digits carry 56 bits, enough for 2^53-1. */
export const MAX_VARINT_BYTES = 8

/** Encodes a non-negative safe integer. */
export function encodeVarint(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('varint: value must be an integer in 0..2^53-1')
  const digits: number[] = []
  do {
    digits.push(n % 128)
    n = Math.floor(n / 128)
  } while (n > 0)
  digits.reverse()
  for (let i = 0; i < digits.length - 1; i++) digits[i]! |= 0x80
  return Uint8Array.from(digits)
}

/** Number of bytes `encodeVarint(n)` takes. */
export function varintLength(n: number): number {
  let len = 1
  while (n >= 128) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/** A cursor over a received message; every read checks the bytes remaining. */
export class Reader {
  readonly #bytes: Uint8Array
  #pos = 0

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#pos
  }

  /** Reads one byte. */
  byte(what: string): number {
    if (this.remaining < 1) throw new MalformedSyncMessageError(`${what}: message ends early`)
    return this.#bytes[this.#pos++]!
  }

  /** Reads `n` bytes (a view into the message). */
  bytes(n: number, what: string): Uint8Array {
    if (this.remaining < n) throw new MalformedSyncMessageError(`${what}: message ends early`)
    const out = this.#bytes.subarray(this.#pos, this.#pos + n)
    this.#pos += n
    return out
  }

  /** Reads a varint (strict: minimal, at most 8 bytes, at most 2^53-1). */
  varint(what: string): number {
    let value = 0
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      const b = this.byte(what)
      if (i === 0 && b === 0x80) throw new MalformedSyncMessageError(`${what}: non-minimal varint`)
      value = value * 128 + (b & 0x7f)
      if ((b & 0x80) === 0) {
        if (!Number.isSafeInteger(value)) throw new MalformedSyncMessageError(`${what}: varint above 2^53-1`)
        return value
      }
    }
    throw new MalformedSyncMessageError(`${what}: varint longer than ${MAX_VARINT_BYTES} bytes`)
  }
}
