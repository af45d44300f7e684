/**
 * Reconciliation messages (docs/PROTOCOL.md §15.5), byte-compatible with Negentropy protocol v1:
 *
 *     Message := u8(0x61) Range*
 *     Range   := Bound varint(mode) payload
 *     Bound   := varint(encodedTimestamp) varint(prefixLength) prefix[prefixLength]
 *     mode 0 Skip: empty; 1 Fingerprint: [16]; 2 IdList: varint(n) id[32]*n
 *
 * Decoding is strict and bounded: size, range count, strictly increasing bounds, nothing after the range
 * ending at infinity, IdList lengths checked against the bytes present, no duplicate ids in an IdList.
 */
import { MalformedSyncMessageError, SyncLimitError, UnsupportedSyncVersionError } from './errors.js'
import { FINGERPRINT_BYTES } from './fingerprint.js'
import { type Bound, compareItems, ID_BYTES, INFINITY, MAX_TIMESTAMP, MIN_BOUND } from './items.js'
import { encodeVarint, Reader, varintLength } from './varint.js'

/** The protocol version byte of Negentropy v1, the only version sotto speaks. */
export const PROTOCOL_VERSION = 0x61

/** Range modes. */
export const Mode = { Skip: 0, Fingerprint: 1, IdList: 2 } as const

/** Largest message, in bytes, a reconciler produces or accepts (§15.6). */
export const DEFAULT_FRAME_SIZE_LIMIT = 65_536

/** Most ranges a message may hold (§15.6). */
export const DEFAULT_MAX_RANGES = 4_096

/** One range of a message; its lower bound is the previous range's upper bound (or `MIN_BOUND`). */
export type Range =
  | { readonly upper: Bound; readonly mode: typeof Mode.Skip }
  | { readonly upper: Bound; readonly mode: typeof Mode.Fingerprint; readonly fingerprint: Uint8Array }
  | { readonly upper: Bound; readonly mode: typeof Mode.IdList; readonly ids: readonly Uint8Array[] }

/** Bounds applied when decoding (and encoding) messages. */
export interface MessageLimits {
  /** Largest message in bytes. */
  readonly frameSizeLimit: number
  /** Most ranges in a message. */
  readonly maxRanges: number
}

/** The limits of §15.6. */
export const DEFAULT_MESSAGE_LIMITS: MessageLimits = Object.freeze({
  frameSizeLimit: DEFAULT_FRAME_SIZE_LIMIT,
  maxRanges: DEFAULT_MAX_RANGES
})

/** Decodes and validates a message. Throws a `SyncProtocolError` subclass on any defect. */
export function decodeMessage(bytes: Uint8Array, limits: MessageLimits = DEFAULT_MESSAGE_LIMITS): Range[] {
  if (bytes.length > limits.frameSizeLimit) {
    throw new SyncLimitError(`message of ${bytes.length} bytes exceeds ${limits.frameSizeLimit}`)
  }
  const r = new Reader(bytes)
  const version = r.byte('version')
  if (version !== PROTOCOL_VERSION) {
    throw new UnsupportedSyncVersionError(`version byte 0x${version.toString(16).padStart(2, '0')}`)
  }
  const ranges: Range[] = []
  let lastTimestamp = 0
  let prev: Bound = MIN_BOUND
  while (r.remaining > 0) {
    if (prev.timestamp === INFINITY) throw new MalformedSyncMessageError('bytes after the range ending at infinity')
    if (ranges.length >= limits.maxRanges) throw new SyncLimitError(`more than ${limits.maxRanges} ranges`)
    const encoded = r.varint('bound timestamp')
    let timestamp: number
    if (encoded === 0) {
      timestamp = INFINITY
    } else {
      timestamp = lastTimestamp + (encoded - 1)
      if (timestamp > MAX_TIMESTAMP) throw new MalformedSyncMessageError('bound timestamp above 2^53-1')
      lastTimestamp = timestamp
    }
    const prefixLength = r.varint('bound prefix length')
    if (prefixLength > ID_BYTES) throw new MalformedSyncMessageError('bound prefix longer than 32 bytes')
    const prefix = r.bytes(prefixLength, 'bound prefix')
    const upper: Bound = { timestamp, id: timestamp === INFINITY ? prefix.slice(0, 0) : prefix.slice() }
    if (compareItems(upper, prev) <= 0) throw new MalformedSyncMessageError('bounds are not strictly increasing')
    const mode = r.varint('mode')
    if (mode === Mode.Skip) {
      ranges.push({ upper, mode })
    } else if (mode === Mode.Fingerprint) {
      ranges.push({ upper, mode, fingerprint: r.bytes(FINGERPRINT_BYTES, 'fingerprint').slice() })
    } else if (mode === Mode.IdList) {
      const n = r.varint('id count')
      if (n * ID_BYTES > r.remaining) throw new MalformedSyncMessageError('id list longer than the message')
      const ids: Uint8Array[] = []
      const seen = new Set<string>()
      for (let i = 0; i < n; i++) {
        const id = r.bytes(ID_BYTES, 'id').slice()
        const key = Buffer.from(id).toString('hex')
        if (seen.has(key)) throw new MalformedSyncMessageError('duplicate id in an id list')
        seen.add(key)
        ids.push(id)
      }
      ranges.push({ upper, mode, ids })
    } else {
      throw new MalformedSyncMessageError(`unknown mode ${mode}`)
    }
    prev = upper
  }
  return ranges
}

/** Encodes ranges as a message (no limits applied; see `MessageWriter` for bounded output). */
export function encodeMessage(ranges: readonly Range[]): Uint8Array {
  const w = new MessageWriter()
  for (const range of ranges) {
    if (range.mode === Mode.Skip) w.skip(range.upper)
    else if (range.mode === Mode.Fingerprint) w.fingerprint(range.upper, range.fingerprint)
    else w.idList(range.upper, range.ids)
  }
  return w.finish()
}

/** A position in a `MessageWriter` to roll back to. */
export interface WriterMark {
  readonly chunks: number
  readonly length: number
  readonly ranges: number
  readonly lastTimestamp: number
  readonly lastUpper: Bound
}

/** Builds a message range by range, tracking its size and range count, with roll-back. */
export class MessageWriter {
  readonly #chunks: Uint8Array[] = [Uint8Array.of(PROTOCOL_VERSION)]
  #length = 1
  #ranges = 0
  #lastTimestamp = 0
  #lastUpper: Bound = MIN_BOUND

  /** Bytes written so far, the version byte included. */
  get length(): number {
    return this.#length
  }

  /** Ranges written so far. */
  get ranges(): number {
    return this.#ranges
  }

  /** The upper bound of the last range written (`MIN_BOUND` if none). */
  get lastUpper(): Bound {
    return this.#lastUpper
  }

  /** The size in bytes the bound would take if written now. */
  boundLength(bound: Bound): number {
    if (bound.timestamp === INFINITY) return 2
    return varintLength(bound.timestamp - this.#lastTimestamp + 1) + varintLength(bound.id.length) + bound.id.length
  }

  /** Writes a Skip range. */
  skip(upper: Bound): void {
    this.#bound(upper)
    this.#push(encodeVarint(Mode.Skip))
  }

  /** Writes a Fingerprint range. */
  fingerprint(upper: Bound, fingerprint: Uint8Array): void {
    this.#bound(upper)
    this.#push(encodeVarint(Mode.Fingerprint))
    this.#push(fingerprint)
  }

  /** Writes an IdList range. */
  idList(upper: Bound, ids: readonly Uint8Array[]): void {
    this.#bound(upper)
    this.#push(encodeVarint(Mode.IdList))
    this.#push(encodeVarint(ids.length))
    for (const id of ids) this.#push(id)
  }

  /** The current position. */
  mark(): WriterMark {
    return {
      chunks: this.#chunks.length,
      length: this.#length,
      ranges: this.#ranges,
      lastTimestamp: this.#lastTimestamp,
      lastUpper: this.#lastUpper
    }
  }

  /** Drops everything written after `mark`. */
  rollback(mark: WriterMark): void {
    this.#chunks.length = mark.chunks
    this.#length = mark.length
    this.#ranges = mark.ranges
    this.#lastTimestamp = mark.lastTimestamp
    this.#lastUpper = mark.lastUpper
  }

  /** The message bytes. */
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length)
    let o = 0
    for (const c of this.#chunks) {
      out.set(c, o)
      o += c.length
    }
    return out
  }

  #bound(bound: Bound): void {
    if (bound.timestamp === INFINITY) {
      this.#push(Uint8Array.of(0, 0))
    } else {
      this.#push(encodeVarint(bound.timestamp - this.#lastTimestamp + 1))
      this.#lastTimestamp = bound.timestamp
      this.#push(encodeVarint(bound.id.length))
      this.#push(bound.id)
    }
    this.#ranges++
    this.#lastUpper = bound
  }

  #push(bytes: Uint8Array): void {
    this.#chunks.push(bytes)
    this.#length += bytes.length
  }
}
