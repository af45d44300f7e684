/**
 * Items, bounds and item sources of the sync protocol (docs/PROTOCOL.md §15.1-15.2).
 *
 * An item is an envelope's (timestamp, id): `timestamp` in milliseconds since the Unix epoch and `id`, the
 * envelope's 32-byte id. Items are ordered by timestamp, then by id compared byte by byte (unsigned). A
 * bound is a timestamp and an id prefix of 0..32 bytes, the missing bytes taken as zero; a range
 * [lower, upper) holds the items with lower <= item < upper. The bound with timestamp `INFINITY` is above
 * every item.
 */
import { SyncUsageError } from './errors.js'

/** Length of an item id in bytes. */
export const ID_BYTES = 32

/** Largest timestamp an item may carry (2^53 - 1: sotto timestamps are JavaScript-safe integers). */
export const MAX_TIMESTAMP = Number.MAX_SAFE_INTEGER

/** The timestamp of the upper bound above every item (Negentropy's "infinity", encoded as 0). */
export const INFINITY = Number.POSITIVE_INFINITY

/** One element of a synced set: an envelope's timestamp and id. */
export interface SyncItem {
  readonly timestamp: number
  readonly id: Uint8Array
}

/** A position between items: a timestamp (or `INFINITY`) and an id prefix of 0..32 bytes. */
export interface Bound {
  readonly timestamp: number
  readonly id: Uint8Array
}

const EMPTY = new Uint8Array(0)

/** The lowest bound (timestamp 0, empty prefix): the lower bound of the first range of every message. */
export const MIN_BOUND: Bound = Object.freeze({ timestamp: 0, id: EMPTY })

/** The bound above every item. */
export const MAX_BOUND: Bound = Object.freeze({ timestamp: INFINITY, id: EMPTY })

/** Compares two ids (or id prefixes, missing bytes taken as zero) byte by byte. */
export function compareIds(a: Uint8Array, b: Uint8Array): number {
  const n = Math.max(a.length, b.length)
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? a[i]! : 0
    const y = i < b.length ? b[i]! : 0
    if (x !== y) return x < y ? -1 : 1
  }
  return 0
}

/** Orders items (or bounds) by timestamp, then id. Returns a negative, zero or positive number. */
export function compareItems(a: SyncItem | Bound, b: SyncItem | Bound): number {
  if (a.timestamp !== b.timestamp) return a.timestamp < b.timestamp ? -1 : 1
  if (a.timestamp === INFINITY) return 0
  return compareIds(a.id, b.id)
}

/** True when `item` lies in [lower, upper). */
export function inRange(item: SyncItem, lower: Bound, upper: Bound): boolean {
  return compareItems(item, lower) >= 0 && compareItems(item, upper) < 0
}

/**
 * The shortest bound that separates `prev` from `next` (prev < next): `next`'s timestamp with an empty
 * prefix when the timestamps differ, else `next`'s id cut just after the first byte that differs.
 */
export function minimalBound(prev: SyncItem, next: SyncItem): Bound {
  if (prev.timestamp !== next.timestamp) return { timestamp: next.timestamp, id: EMPTY }
  let shared = 0
  while (shared < ID_BYTES && prev.id[shared] === next.id[shared]) shared++
  return { timestamp: next.timestamp, id: next.id.subarray(0, Math.min(shared + 1, ID_BYTES)) }
}

/** Checks that `item` is a well-formed item: an integer timestamp in 0..2^53-1 and a 32-byte id. */
export function checkItem(item: SyncItem, what = 'item'): void {
  if (!Number.isSafeInteger(item.timestamp) || item.timestamp < 0) {
    throw new SyncUsageError(`${what}: timestamp must be an integer in 0..2^53-1`)
  }
  if (!(item.id instanceof Uint8Array) || item.id.length !== ID_BYTES) {
    throw new SyncUsageError(`${what}: id must be ${ID_BYTES} bytes`)
  }
}

/**
 * The 40-byte sort key `u64be(timestamp) || id` of an item, whose byte order is the item order. A store
 * that keeps envelopes under such keys can answer range queries with plain key ranges.
 */
export function itemKey(item: SyncItem): Uint8Array {
  const key = new Uint8Array(8 + ID_BYTES)
  new DataView(key.buffer).setBigUint64(0, BigInt(item.timestamp))
  key.set(item.id, 8)
  return key
}

/**
 * The 40-byte sort key of a bound (prefix padded with zeros), or `undefined` for a bound at `INFINITY`.
 * Items in [lower, upper) are exactly those whose `itemKey` is >= `boundKey(lower)` and < `boundKey(upper)`.
 */
export function boundKey(bound: Bound): Uint8Array | undefined {
  if (bound.timestamp === INFINITY) return undefined
  const key = new Uint8Array(8 + ID_BYTES)
  new DataView(key.buffer).setBigUint64(0, BigInt(bound.timestamp))
  key.set(bound.id.subarray(0, ID_BYTES), 8)
  return key
}

/**
 * What the reconciler reads: a set of items ordered by (timestamp, id). The store implements this over
 * its envelopes of one topic; `MemorySyncItemSource` is an in-memory implementation.
 */
export interface SyncItemSource {
  /** The number of items in [lower, upper). */
  count(lower: Bound, upper: Bound): number | Promise<number>
  /** The items in [lower, upper), in ascending order. */
  iterate(lower: Bound, upper: Bound): Iterable<SyncItem> | AsyncIterable<SyncItem>
}

/** A `SyncItemSource` over a sorted array, with binary search. Insertions keep it sorted. */
export class MemorySyncItemSource implements SyncItemSource {
  readonly #items: SyncItem[] = []
  readonly #keys = new Set<string>()

  /** Builds a source from items in any order; duplicates (same timestamp and id) are kept once. */
  constructor(items: Iterable<SyncItem> = []) {
    const list: SyncItem[] = []
    for (const item of items) {
      checkItem(item)
      const key = itemKeyString(item)
      if (this.#keys.has(key)) continue
      this.#keys.add(key)
      list.push({ timestamp: item.timestamp, id: Uint8Array.from(item.id) })
    }
    list.sort(compareItems)
    this.#items = list
  }

  /** The number of items held. */
  get size(): number {
    return this.#items.length
  }

  /** Adds an item; returns false when it was already present. */
  add(item: SyncItem): boolean {
    checkItem(item)
    const key = itemKeyString(item)
    if (this.#keys.has(key)) return false
    this.#keys.add(key)
    this.#items.splice(this.#lowerIndex(item), 0, { timestamp: item.timestamp, id: Uint8Array.from(item.id) })
    return true
  }

  /** True when the item is present. */
  has(item: SyncItem): boolean {
    return this.#keys.has(itemKeyString(item))
  }

  /** All items, in order (a copy of the list; the items themselves are shared). */
  items(): SyncItem[] {
    return this.#items.slice()
  }

  /** {@inheritDoc SyncItemSource.count} */
  count(lower: Bound, upper: Bound): number {
    return Math.max(0, this.#lowerIndex(upper) - this.#lowerIndex(lower))
  }

  /** {@inheritDoc SyncItemSource.iterate} */
  iterate(lower: Bound, upper: Bound): Iterable<SyncItem> {
    const start = this.#lowerIndex(lower)
    const end = this.#lowerIndex(upper)
    return this.#items.slice(start, Math.max(start, end))
  }

  /** Index of the first item >= bound. */
  #lowerIndex(bound: Bound | SyncItem): number {
    let lo = 0
    let hi = this.#items.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareItems(this.#items[mid]!, bound) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

function itemKeyString(item: SyncItem): string {
  return `${item.timestamp}:${Buffer.from(item.id.buffer, item.id.byteOffset, item.id.length).toString('hex')}`
}

/** A point of an envelope store's (timestamp, id) order, as the store's range queries take it. */
export interface EnvelopeStoreBound {
  timestamp: number
  id?: Uint8Array
}

/**
 * The part of the store's envelope API a sync source needs, written structurally (the protocol layer
 * does not import the store): ranges are [gte, lt) in (timestamp, id) order, an id may be a prefix.
 */
export interface EnvelopeKeyReader {
  countEnvelopes(topic: Uint8Array, range?: { gte?: EnvelopeStoreBound; lt?: EnvelopeStoreBound }): Promise<number>
  listEnvelopeKeys(topic: Uint8Array, range?: { gte?: EnvelopeStoreBound; lt?: EnvelopeStoreBound }): AsyncIterable<SyncItem>
}

/** A `SyncItemSource` over the envelopes a store holds for one topic (e.g. `LevelStore`). */
export function envelopeStoreSource(store: EnvelopeKeyReader, topic: Uint8Array): SyncItemSource {
  const range = (lower: Bound, upper: Bound) => ({
    gte: { timestamp: lower.timestamp, id: lower.id },
    ...(upper.timestamp === INFINITY ? {} : { lt: { timestamp: upper.timestamp, id: upper.id } })
  })
  return {
    count: (lower, upper) => (lower.timestamp === INFINITY ? 0 : store.countEnvelopes(topic, range(lower, upper))),
    iterate: (lower, upper) => (lower.timestamp === INFINITY ? [] : store.listEnvelopeKeys(topic, range(lower, upper)))
  }
}

/**
 * A read-only `SyncItemSource` over items already in order, packed into two typed arrays (8 + 32 bytes per
 * item), for per-session snapshots of large topics.
 */
export class PackedSyncItemSource implements SyncItemSource {
  readonly #timestamps: Float64Array
  readonly #ids: Uint8Array

  /** `timestamps[i]` and `ids[32i .. 32i+32]` are item i; items must be strictly ascending (checked). */
  constructor(timestamps: Float64Array, ids: Uint8Array) {
    if (ids.length !== timestamps.length * ID_BYTES) throw new SyncUsageError('ids must hold 32 bytes per timestamp')
    this.#timestamps = timestamps
    this.#ids = ids
    for (let i = 1; i < timestamps.length; i++) {
      if (compareItems(this.#item(i - 1), this.#item(i)) >= 0) throw new SyncUsageError('items must be strictly ascending')
    }
  }

  /** The number of items held. */
  get size(): number {
    return this.#timestamps.length
  }

  /** {@inheritDoc SyncItemSource.count} */
  count(lower: Bound, upper: Bound): number {
    return Math.max(0, this.#lowerIndex(upper) - this.#lowerIndex(lower))
  }

  /** {@inheritDoc SyncItemSource.iterate} */
  *iterate(lower: Bound, upper: Bound): Iterable<SyncItem> {
    const end = this.#lowerIndex(upper)
    for (let i = this.#lowerIndex(lower); i < end; i++) yield this.#item(i)
  }

  #item(i: number): SyncItem {
    return { timestamp: this.#timestamps[i]!, id: this.#ids.subarray(i * ID_BYTES, (i + 1) * ID_BYTES) }
  }

  #lowerIndex(bound: Bound): number {
    let lo = 0
    let hi = this.#timestamps.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (compareItems(this.#item(mid), bound) < 0) lo = mid + 1
      else hi = mid
    }
    return lo
  }
}

/**
 * Reads a whole source into memory once (one pass, 40 bytes per item) when it holds at most `maxItems`
 * items, so that a session's rounds work on a consistent, fast copy; returns `source` itself when it holds
 * more, or when it does not yield its items in strictly ascending order.
 */
export async function snapshotSource(source: SyncItemSource, maxItems: number): Promise<SyncItemSource> {
  let timestamps = new Float64Array(1024)
  let ids = new Uint8Array(1024 * ID_BYTES)
  let n = 0
  let prev: SyncItem | undefined
  const take = (item: SyncItem): boolean => {
    if (n >= maxItems || item.id.length !== ID_BYTES) return false
    if (prev !== undefined && compareItems(prev, item) >= 0) return false
    if (n === timestamps.length) {
      const t = new Float64Array(n * 2)
      t.set(timestamps)
      timestamps = t
      const d = new Uint8Array(n * 2 * ID_BYTES)
      d.set(ids)
      ids = d
    }
    timestamps[n] = item.timestamp
    ids.set(item.id, n * ID_BYTES)
    prev = { timestamp: item.timestamp, id: ids.subarray(n * ID_BYTES, (n + 1) * ID_BYTES) }
    n++
    return true
  }
  const all = source.iterate(MIN_BOUND, MAX_BOUND)
  if (Symbol.iterator in all) {
    for (const item of all as Iterable<SyncItem>) if (!take(item)) return source
  } else {
    for await (const item of all) if (!take(item)) return source
  }
  return new PackedSyncItemSource(timestamps.slice(0, n), ids.slice(0, n * ID_BYTES))
}
