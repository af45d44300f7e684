/**
 * A bounded, iterative pre-scan of protobuf bytes against a fixed schema (docs/PROTOCOL.md §11.1).
 *
 * The generated protons codecs skip unknown fields recursively (groups nest without limit) and allocate
 * whatever a length prefix claims. So every decoder in src/protocol first runs {@link scanMessage}: it
 * walks the bytes once, with no recursion driven by the input (nesting follows the schema, whose depth
 * is fixed), and rejects anything but the canonical shape: known field numbers only, the declared wire
 * type, no groups, varints of at most 10 bytes, lengths inside the buffer and under each field's limit,
 * repeated fields under their count limit, singular fields at most once, fields in ascending order.
 * Only then do the protons codecs decode, and the caller re-encodes and compares (canonical check).
 */
import { MalformedError, OversizedError, ProtocolError, UnsupportedVersionError } from './errors.js'

/** Protobuf wire types used by sotto: varint (0) and length-delimited (2). Others are always rejected. */
export const WIRE_VARINT = 0
export const WIRE_LEN = 2

/** The largest varint a protobuf encoder emits: 10 bytes (a 64-bit value). */
export const MAX_VARINT_BYTES = 10

/** What the scanner knows about one field. */
export interface FieldRule {
  /** Wire type 0 (varint) or 2 (length-delimited). */
  wire: typeof WIRE_VARINT | typeof WIRE_LEN
  /** Largest accepted length of a length-delimited field, in bytes. */
  maxBytes?: number
  /** When set, the field is repeated and may occur at most this many times. */
  maxCount?: number
  /** When set, the field is an embedded message, scanned with this schema. */
  message?: MessageRule
}

/** The fields of one message, by field number. */
export interface MessageRule {
  name: string
  fields: ReadonlyMap<number, FieldRule>
}

/** One field found by the scanner (top level only). */
export interface ScannedField {
  field: number
  /** The varint's value for wire type 0 (as bigint, exact), undefined otherwise. */
  value?: bigint
  /** Offset and length of the payload for wire type 2. */
  start: number
  length: number
}

/** Reads a varint at `pos` within `end`; returns the value and the next position. Iterative, at most 10 bytes. */
export function readVarint(bytes: Uint8Array, pos: number, end: number, what: string): [bigint, number] {
  let value = 0n
  let shift = 0n
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (pos >= end) throw new MalformedError(`${what}: truncated varint`)
    const b = bytes[pos++]!
    value |= BigInt(b & 0x7f) << shift
    if ((b & 0x80) === 0) {
      if (value >= 1n << 64n) throw new MalformedError(`${what}: varint exceeds 64 bits`)
      return [value, pos]
    }
    shift += 7n
  }
  throw new MalformedError(`${what}: varint longer than ${MAX_VARINT_BYTES} bytes`)
}

/**
 * Scans `bytes[start, end)` as a message of `rule`; returns its top-level fields in order.
 * Nested messages are scanned in turn (depth bounded by the schema). Throws MalformedError or
 * OversizedError, never anything else.
 */
export function scanMessage(bytes: Uint8Array, rule: MessageRule, start = 0, end = bytes.length): ScannedField[] {
  // Work list instead of recursion on the call stack: each entry is one (sub)message to scan.
  const out: ScannedField[] = []
  const work: Array<{ rule: MessageRule; start: number; end: number; top: boolean }> = [
    { rule, start, end, top: true }
  ]
  while (work.length > 0) {
    const item = work.pop()!
    const counts = new Map<number, number>()
    let last = 0
    let pos = item.start
    while (pos < item.end) {
      const [tag, afterTag] = readVarint(bytes, pos, item.end, item.rule.name)
      if (tag > 0xffffffffn) throw new MalformedError(`${item.rule.name}: tag too large`)
      pos = afterTag
      const field = Number(tag >> 3n)
      const wire = Number(tag & 7n)
      const fr = item.rule.fields.get(field)
      if (fr === undefined) throw new MalformedError(`${item.rule.name}: unknown field ${field}`)
      if (wire !== fr.wire) throw new MalformedError(`${item.rule.name}: field ${field} has wire type ${wire}`)
      if (field < last) throw new MalformedError(`${item.rule.name}: field ${field} out of order`)
      const seen = (counts.get(field) ?? 0) + 1
      counts.set(field, seen)
      if (fr.maxCount === undefined) {
        if (seen > 1) throw new MalformedError(`${item.rule.name}: field ${field} repeated`)
      } else if (seen > fr.maxCount) {
        throw new OversizedError(`${item.rule.name}: field ${field} occurs more than ${fr.maxCount} times`)
      } else if (field !== last && seen > 1) {
        throw new MalformedError(`${item.rule.name}: repeated field ${field} not contiguous`)
      }
      last = field
      if (wire === WIRE_VARINT) {
        const [value, next] = readVarint(bytes, pos, item.end, item.rule.name)
        if (item.top) out.push({ field, value, start: pos, length: next - pos })
        pos = next
      } else {
        const [len, next] = readVarint(bytes, pos, item.end, item.rule.name)
        if (len > BigInt(item.end - next)) throw new MalformedError(`${item.rule.name}: field ${field} truncated`)
        const length = Number(len)
        if (fr.maxBytes !== undefined && length > fr.maxBytes) {
          throw new OversizedError(`${item.rule.name}: field ${field} is ${length} bytes, limit ${fr.maxBytes}`)
        }
        if (item.top) out.push({ field, start: next, length })
        if (fr.message !== undefined) work.push({ rule: fr.message, start: next, end: next + length, top: false })
        pos = next + length
      }
    }
  }
  return out
}

/**
 * A forward reader for the canonical fast paths (decodeCanonicalEnvelope, decodeCanonicalContent): it reads
 * only what a canonical encoder writes and never throws. Every method returns -1 or false on anything
 * else (truncation, a non-minimal varint, another byte), and the caller then leaves the bytes to the full
 * decoder, which finds the exact error.
 */
export class CanonicalReader {
  /** Next byte to read. */
  pos: number

  /** Reads `bytes[pos, end)`. */
  constructor(
    readonly bytes: Uint8Array,
    pos: number,
    readonly end: number
  ) {
    this.pos = pos
  }

  /** Consumes the next byte if it is `b`; false (nothing consumed) otherwise. */
  byte(b: number): boolean {
    if (this.pos >= this.end || this.bytes[this.pos] !== b) return false
    this.pos++
    return true
  }

  /**
   * Reads a minimal varint of at most `maxBytes` bytes (at most 8, so the value is below 2^56 and any value
   * up to Number.MAX_SAFE_INTEGER is exact); -1 when the next bytes are not one.
   */
  varint(maxBytes: number): number {
    let value = 0
    let scale = 1
    for (let i = 0; i < maxBytes; i++) {
      if (this.pos >= this.end) return -1
      const b = this.bytes[this.pos++]!
      value += (b & 0x7f) * scale
      if (b < 0x80) return i > 0 && b === 0 ? -1 : value
      scale *= 128
    }
    return -1
  }

  /**
   * Reads a length prefix (a minimal varint of at most 3 bytes) and skips that many bytes; returns the
   * payload's start, or -1 when the length is not minimal, outside [min, max] or past the end.
   */
  payload(min: number, max: number): number {
    const length = this.varint(3)
    if (length < min || length > max || length > this.end - this.pos) return -1
    const start = this.pos
    this.pos += length
    return start
  }
}

/**
 * The view the generated protons decoders read from (protons-runtime's withArrayBuffer): `bytes` itself when
 * it is backed by an ArrayBuffer, else a copy. The fast paths take their fields from it too, so
 * `view.subarray(..).slice()` gives the same result, of the same class, as the full decoders.
 */
export function protonsView(bytes: Uint8Array): Uint8Array {
  return bytes.buffer instanceof ArrayBuffer ? bytes : bytes.slice()
}

/** Builds a MessageRule from a plain object literal of field rules. */
export function messageRule(name: string, fields: Record<number, FieldRule>): MessageRule {
  return { name, fields: new Map(Object.entries(fields).map(([k, v]) => [Number(k), v])) }
}

/**
 * Runs a generated decoder, turning anything it throws into MalformedError (protons throws plain
 * Errors and RangeErrors). ProtocolErrors pass through unchanged.
 */
export function guard<T>(what: string, fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof ProtocolError) throw err
    throw new MalformedError(`${what}: ${err instanceof Error ? err.message : 'undecodable'}`)
  }
}

/** Byte equality used by the canonical-encoding checks (public data: no need for constant time). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  return Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length))
}

// A lone surrogate: JavaScript strings can hold one, UTF-8 cannot (protons would write it as CESU-8 bytes).
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/** True when `text` is well-formed UTF-16 and so has a valid UTF-8 encoding (§11.1 rule 5). */
export function isWellFormed(text: string): boolean {
  return !LONE_SURROGATE.test(text)
}

/** The UTF-8 length of a string, in bytes. */
export function utf8Length(text: string): number {
  return new TextEncoder().encode(text).length
}

/**
 * Reads the version of protobuf bytes whose field 1 is `uint32 version` (§11.1: canonical encodings
 * start with it). Returns 0 when the first field is not field 1 (the version is absent, i.e. 0).
 */
export function peekVersion(bytes: Uint8Array, what: string): number {
  if (bytes.length === 0 || bytes[0] !== 0x08) return 0
  const [v] = readVarint(bytes, 1, bytes.length, what)
  return v > 0xffffffffn ? 0xffffffff : Number(v)
}

/** Throws UnsupportedVersionError unless min <= version <= current. */
export function checkVersion(what: string, version: number, min: number, current: number): void {
  if (version < min) throw new UnsupportedVersionError(`${what} version ${version} is below the minimum ${min}`)
  if (version > current) throw new UnsupportedVersionError(`${what} version ${version} is not supported`)
}
