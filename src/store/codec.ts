/**
 * Record keys and value encoding of the store (docs/PROTOCOL.md §10.4, §10.5). Pure functions over bytes.
 */
import { blindKey, type DatabaseKey } from '../crypto/atrest.js'
import { concatBytes, utf8 } from '../crypto/primitives.js'
import { InvalidStoreValueError } from './errors.js'
import type { StoreValue } from './types.js'

/** Namespace bytes: the first byte of every record key (§10.5). */
export const NS = {
  /** Plaintext metadata: schema version and wrapped database key. */
  meta: 0x00,
  local: 0x01,
  contact: 0x02,
  contactName: 0x03,
  contactKey: 0x04,
  session: 0x05,
  community: 0x06,
  communityName: 0x07,
  communityData: 0x08,
  conversation: 0x09,
  message: 0x0a,
  messageId: 0x0b,
  outbox: 0x0c,
  topic: 0x0d,
  envelope: 0x0e,
  envelopeId: 0x0f,
  seen: 0x10
} as const

/** Sub-namespaces under `communityData || B(community, id)`. */
export const COMMUNITY_SUB = { epoch: 0x01, member: 0x02, chain: 0x03 } as const

const NS_NAMES: Record<number, string> = Object.fromEntries(Object.entries(NS).map(([k, v]) => [v, k]))

/** LevelDB write option: fsync the write before it completes (PROTOCOL.md §10.8). */
export const SYNC = Object.freeze({ sync: true })

/** Bytes as a string, one char per byte: the key of an overlay map (a commit's, the journal's), of topic sets and of blind memos. */
export function keyText(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('latin1')
}

/** A readable name of a record key's namespace (for error messages; never the key itself). */
export function namespaceName(key: Uint8Array): string {
  return NS_NAMES[key[0] ?? -1] ?? 'unknown'
}

/** Plaintext metadata keys. */
export const META_VERSION_KEY = concatBytes(Uint8Array.of(NS.meta), utf8('version'))
export const META_DBKEY_KEY = concatBytes(Uint8Array.of(NS.meta), utf8('dbkey'))
/** Present while the store is open (written with sync at opening, deleted with sync at a clean close), §10.8. */
export const META_RUNNING_KEY = concatBytes(Uint8Array.of(NS.meta), utf8('running'))

/** Names of the local singleton records (`0x01 || name`). */
export type LocalName = 'identity' | 'prekeys' | 'peer-key' | 'settings' | 'schema'

/** `0x01 || name`: local singletons (fixed names reveal nothing). */
export function localKey(name: LocalName): Uint8Array {
  return concatBytes(Uint8Array.of(NS.local), utf8(name))
}

/** Slab size and the largest array carved from a slab (see allocBytes). */
const SLAB_BYTES = 64 * 1024
const SLAB_MAX_ALLOC = 4096
let slab = new ArrayBuffer(0)
let slabUsed = 0

/**
 * A zero-filled byte array for keys and sealed values. Arrays up to 4 KiB are views into shared 64 KiB
 * slabs, handed out once each and never reused (a slab is freed when no view into it is left): an ArrayBuffer
 * of its own per array (a dozen per received message) cost more than the bytes written into them.
 */
export function allocBytes(length: number): Uint8Array {
  if (length > SLAB_MAX_ALLOC) return new Uint8Array(length)
  if (slabUsed + length > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES)
    slabUsed = 0
  }
  const out = new Uint8Array(slab, slabUsed, length)
  slabUsed += length
  return out
}

/** `ns || parts...`. */
export function recordKey(ns: number, ...parts: Uint8Array[]): Uint8Array {
  let length = 1
  for (const p of parts) length += p.length
  const out = allocBytes(length)
  out[0] = ns
  let offset = 1
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** u32be. */
export function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new InvalidStoreValueError(`not a u32: ${n}`)
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

/** u64be of a non-negative safe integer. */
export function u64(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new InvalidStoreValueError(`not a non-negative safe integer: ${n}`)
  // Two u32 halves (a safe integer is below 2^53), byte by byte: no BigInt or DataView per key.
  const hi = Math.floor(n / 0x100000000)
  const lo = n >>> 0
  return Uint8Array.of(hi >>> 24, (hi >>> 16) & 0xff, (hi >>> 8) & 0xff, hi & 0xff, lo >>> 24, (lo >>> 16) & 0xff, (lo >>> 8) & 0xff, lo & 0xff)
}

/** Reads a u64be at `offset` as a number. */
export function readU64(bytes: Uint8Array, offset: number): number {
  return Number(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(offset))
}

/** Reads a u32be at `offset`. */
export function readU32(bytes: Uint8Array, offset: number): number {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(offset)
}

/** The smallest key greater than every key starting with `prefix` (for exclusive range ends). */
export function prefixEnd(prefix: Uint8Array): Uint8Array {
  const out = Uint8Array.from(prefix)
  for (let i = out.length - 1; i >= 0; i--) {
    if (out[i] !== 0xff) {
      out[i] = (out[i] as number) + 1
      return out.subarray(0, i + 1)
    }
  }
  // All 0xff: no finite upper bound; a key one byte longer than any we make works as one.
  return concatBytes(prefix, new Uint8Array(64).fill(0xff))
}

/** Blinded component `B(parts)` (§10.3). */
export function blind(dbKey: DatabaseKey, ...parts: Array<string | Uint8Array>): Uint8Array {
  return blindKey(dbKey, parts)
}

// --- Values (§10.4) ------------------------------------------------------------------------------

/** Tag byte: the value is raw bytes. */
export const TAG_BYTES = 0x00
/** Tag byte: the value is UTF-8 JSON, with byte strings as {"$bytes": base64}. */
export const TAG_JSON = 0x01
const BYTES_KEY = '$bytes'

/** Where a value that cannot be stored sits, for the error message (built only when one is thrown). */
type Path = { parent: Path | undefined; step: string | number } | undefined

function pathText(path: Path): string {
  let out = ''
  for (let p = path; p !== undefined; p = p.parent) out = (typeof p.step === 'number' ? `[${p.step}]` : `.${p.step}`) + out
  return `value${out}`
}

function toJsonable(value: StoreValue, path: Path): unknown {
  if (value instanceof Uint8Array) return { [BYTES_KEY]: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') }
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new InvalidStoreValueError(`${pathText(path)} is not a finite number`)
    return value
  }
  if (Array.isArray(value)) return value.map((v, i) => toJsonable(v, { parent: path, step: i }))
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      if (k === BYTES_KEY) throw new InvalidStoreValueError(`${pathText(path)} uses the reserved key ${BYTES_KEY}`)
      if (v === undefined) continue
      out[k] = toJsonable(v, { parent: path, step: k })
    }
    return out
  }
  throw new InvalidStoreValueError(`${pathText(path)} cannot be stored (${typeof value})`)
}

/**
 * True for a plain object whose members are all strings, booleans, null, finite numbers or undefined (most
 * records and every index): JSON.stringify gives it exactly the text of toJsonable's copy (same members in
 * the same order, undefined ones omitted), so no copy is made. Anything else, byte strings included, goes
 * through toJsonable.
 */
function isFlatRecord(value: StoreValue): boolean {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) return false
  const obj = value as Record<string, unknown>
  for (const k of Object.keys(obj)) {
    // An own "__proto__" member (from JSON.parse) is one toJsonable's copy does not keep: leave it to toJsonable.
    if (k === BYTES_KEY || k === '__proto__') return false
    const v = obj[k]
    const t = typeof v
    if (t === 'string' || t === 'boolean' || v === null || v === undefined) continue
    if (t === 'number' && Number.isFinite(v)) continue
    return false
  }
  return true
}

/** The JSON text of a non-bytes value (§10.5): byte strings as {"$bytes": base64}. Throws InvalidStoreValueError. */
export function jsonText(value: StoreValue): string {
  return JSON.stringify(isFlatRecord(value) ? value : toJsonable(value, undefined))
}

/**
 * The JSON text of a flat record (see isFlatRecord), else undefined. A flat record's text is final when it
 * is made: its members are immutable values, so a later change by the caller cannot reach them.
 */
export function flatJsonText(value: StoreValue): string | undefined {
  return isFlatRecord(value) ? JSON.stringify(value) : undefined
}

const textEncoder = new TextEncoder()

/**
 * Encodes plaintexts into one reused buffer, for a commit that seals each value right away: no array per
 * value. A result is valid until the next call; wipe() zeroes what the last one used.
 */
export class PlainScratch {
  #buf = new Uint8Array(4096)
  #used = 0

  #room(length: number): Uint8Array {
    if (this.#buf.length < length) this.#buf = new Uint8Array(Math.max(length, 2 * this.#buf.length))
    return this.#buf
  }

  /** encodeValue(value), into the scratch buffer. */
  encode(value: StoreValue): Uint8Array {
    if (!(value instanceof Uint8Array)) return this.json(jsonText(value))
    const buf = this.#room(1 + value.length)
    buf[0] = TAG_BYTES
    buf.set(value, 1)
    return this.#result(1 + value.length)
  }

  /** `0x01 || UTF-8(text)` for a JSON text that jsonText made, into the scratch buffer. */
  json(text: string): Uint8Array {
    // Room for the longest UTF-8 of `text` (3 bytes per UTF-16 unit), so that encodeInto never stops short.
    const buf = this.#room(1 + 3 * text.length)
    buf[0] = TAG_JSON
    return this.#result(1 + textEncoder.encodeInto(text, buf.subarray(1)).written)
  }

  #result(length: number): Uint8Array {
    if (length > this.#used) this.#used = length
    return this.#buf.subarray(0, length)
  }

  /** Zeroes every byte used since the last wipe (and lets go of a buffer grown past 64 KiB). */
  wipe(): void {
    this.#buf.fill(0, 0, this.#used)
    this.#used = 0
    if (this.#buf.length > 64 * 1024) this.#buf = new Uint8Array(4096)
  }
}

function fromJsonable(value: unknown): StoreValue {
  if (Array.isArray(value)) return value.map(fromJsonable)
  if (value !== null && typeof value === 'object') {
    const obj = value as Record<string, unknown>
    const b = obj[BYTES_KEY]
    if (typeof b === 'string' && Object.keys(obj).length === 1) return new Uint8Array(Buffer.from(b, 'base64'))
    const out: Record<string, StoreValue> = {}
    for (const [k, v] of Object.entries(obj)) out[k] = fromJsonable(v)
    return out
  }
  return value as StoreValue
}

/** Encodes a value to its plaintext bytes: `0x00 || bytes` or `0x01 || UTF-8 JSON`. */
export function encodeValue(value: StoreValue): Uint8Array {
  if (value instanceof Uint8Array) {
    const out = new Uint8Array(1 + value.length)
    out[0] = TAG_BYTES
    out.set(value, 1)
    return out
  }
  const text = utf8(jsonText(value))
  const out = new Uint8Array(1 + text.length)
  out[0] = TAG_JSON
  out.set(text, 1)
  return out
}

/** Decodes plaintext bytes made by encodeValue. */
export function decodeValue(plain: Uint8Array): StoreValue {
  const tag = plain[0]
  if (tag === TAG_BYTES) return new Uint8Array(plain.subarray(1))
  if (tag === TAG_JSON) return fromJsonable(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(plain.subarray(1))))
  throw new InvalidStoreValueError(`unknown value tag ${tag}`)
}
