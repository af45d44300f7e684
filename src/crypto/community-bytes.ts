/**
 * Fixed-layout byte encoding helpers for the community modules (docs/PROTOCOL.md §8): big-endian
 * integers and a bounds-checked reader that throws MalformedError on truncated input.
 * Internal to src/crypto/community*.ts.
 */
import { InvalidArgumentError, MalformedError } from './errors.js'

/** Largest u32. */
export const U32_MAX = 0xffffffff

/** u8(x). */
export function u8(value: number): Uint8Array {
  return Uint8Array.of(value)
}

/** u16be(x). */
export function u16be(value: number): Uint8Array {
  const out = new Uint8Array(2)
  new DataView(out.buffer).setUint16(0, value, false)
  return out
}

/** u32be(x); throws InvalidArgumentError unless 0 <= x <= 2^32 - 1. */
export function u32be(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new InvalidArgumentError('value must be a u32')
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value, false)
  return out
}

/** u64be(x) of a non-negative safe integer (x <= 2^53 - 1). */
export function u64be(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError('value must be a non-negative safe integer')
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(value), false)
  return out
}

/**
 * Writes a fixed layout into one array of the length given in advance (no array per field, no concatenation);
 * `end` checks that exactly that length was written.
 */
export class ByteWriter {
  readonly #out: Uint8Array
  readonly #view: DataView
  #at = 0

  constructor(length: number) {
    this.#out = new Uint8Array(length)
    this.#view = new DataView(this.#out.buffer)
  }

  u8(value: number): this {
    this.#view.setUint8(this.#at, value)
    this.#at += 1
    return this
  }

  /** Throws InvalidArgumentError unless 0 <= value <= 2^32 - 1. */
  u32(value: number): this {
    if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new InvalidArgumentError('value must be a u32')
    this.#view.setUint32(this.#at, value, false)
    this.#at += 4
    return this
  }

  bytes(value: Uint8Array): this {
    this.#out.set(value, this.#at)
    this.#at += value.length
    return this
  }

  /** The bytes written; throws InvalidArgumentError when they are not exactly the length given. */
  end(): Uint8Array {
    if (this.#at !== this.#out.length) throw new InvalidArgumentError(`wrote ${this.#at} bytes of ${this.#out.length}`)
    return this.#out
  }
}

/** A cursor over bytes; every read checks the remaining length and throws MalformedError when short. */
export class ByteReader {
  #bytes: Uint8Array
  #view: DataView
  #offset = 0

  /** Reads `bytes`; `what` names the object in error messages. */
  constructor(
    bytes: Uint8Array,
    private readonly what: string
  ) {
    this.#bytes = bytes
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Bytes not yet read. */
  get remaining(): number {
    return this.#bytes.length - this.#offset
  }

  #need(n: number): void {
    if (this.remaining < n) throw new MalformedError(`${this.what} is truncated`)
  }

  /** Reads one byte. */
  u8(): number {
    this.#need(1)
    return this.#bytes[this.#offset++]!
  }

  /** Reads a big-endian u16. */
  u16(): number {
    this.#need(2)
    const v = this.#view.getUint16(this.#offset, false)
    this.#offset += 2
    return v
  }

  /** Reads a big-endian u32. */
  u32(): number {
    this.#need(4)
    const v = this.#view.getUint32(this.#offset, false)
    this.#offset += 4
    return v
  }

  /** Reads a big-endian u64; throws MalformedError above 2^53 - 1. */
  u64(): number {
    this.#need(8)
    const v = this.#view.getBigUint64(this.#offset, false)
    this.#offset += 8
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError(`${this.what}: integer above 2^53 - 1`)
    return Number(v)
  }

  /** Reads `n` bytes (a copy). */
  bytes(n: number): Uint8Array {
    this.#need(n)
    const out = new Uint8Array(this.#bytes.subarray(this.#offset, this.#offset + n))
    this.#offset += n
    return out
  }

  /** Reads `n` bytes as a view into the input (no copy; valid while the input is not changed). */
  view(n: number): Uint8Array {
    this.#need(n)
    const out = this.#bytes.subarray(this.#offset, this.#offset + n)
    this.#offset += n
    return out
  }

  /** Reads everything left (a copy). */
  rest(): Uint8Array {
    return this.bytes(this.remaining)
  }

  /** Throws MalformedError if any bytes are left. */
  end(): void {
    if (this.remaining !== 0) throw new MalformedError(`${this.what} has ${this.remaining} trailing bytes`)
  }
}

/** Lexicographic comparison of two byte strings (for canonical ordering). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) {
    if (a[i] !== b[i]) return a[i]! - b[i]!
  }
  return a.length - b.length
}

/** Node's util.inspect hook symbol (without importing node:util into the crypto layer). */
export const INSPECT = Symbol.for('nodejs.util.inspect.custom')
