/**
 * Range-based set reconciliation in the manner of Negentropy v1 (docs/PROTOCOL.md §15.5-15.6).
 *
 * Two parties hold sets of items ordered by (timestamp, id). The initiator sends `initiate()`'s message;
 * each side answers the other's message with `reconcile()` until the initiator's `reconcile()` returns no
 * reply. By then the initiator has been told every id it holds that the responder lacks (`haveIds`) and
 * every id the responder holds that it lacks (`needIds`), each once. The traffic grows with the size of
 * the difference, not of the sets: ranges whose fingerprints agree are skipped, ranges that differ are
 * split into buckets until they are small enough to list.
 */
import { SyncUsageError } from './errors.js'
import { FINGERPRINT_BYTES, IdAccumulator } from './fingerprint.js'
import { type Bound, ID_BYTES, MAX_BOUND, MIN_BOUND, minimalBound, type SyncItem, type SyncItemSource } from './items.js'
import { DEFAULT_FRAME_SIZE_LIMIT, DEFAULT_MAX_RANGES, decodeMessage, type MessageLimits, MessageWriter, Mode, type Range } from './message.js'
import { varintLength } from './varint.js'

/** Number of buckets a differing range is split into (§15.6). */
export const BUCKETS = 16

/** A range holding fewer than this many items is sent as an IdList rather than split (§15.6). */
export const ID_LIST_THRESHOLD = 2 * BUCKETS

/** Smallest frame size limit a reconciler accepts. */
export const MIN_FRAME_SIZE_LIMIT = 4_096

/** Smallest range limit a reconciler accepts. */
export const MIN_MAX_RANGES = 64

/** Size of the closing range `Bound(infinity) Fingerprint [16]`: 2 + 1 + 16 bytes. */
const FINAL_RANGE_BYTES = 2 + 1 + FINGERPRINT_BYTES

/** Largest bound: varint timestamp delta (<= 8 bytes) + prefix length (1) + prefix (32). */
const MAX_BOUND_BYTES = 8 + 1 + ID_BYTES

/** Options of a `Reconciler`. Both parties must use the same limits (the defaults are normative). */
export interface ReconcilerOptions {
  /** Largest message produced or accepted, in bytes (default 65,536; at least 4,096). */
  frameSizeLimit?: number
  /** Most ranges in a message produced or accepted (default 4,096; at least 64). */
  maxRanges?: number
}

/** What `reconcile()` returns. */
export interface ReconcileResult {
  /** The message to send back; `undefined` when the initiator is done. A responder always replies. */
  reply?: Uint8Array
  /** Initiator only: ids we hold that the peer lacks, reported once per session. */
  haveIds: Uint8Array[]
  /** Initiator only: ids the peer holds that we lack, reported once per session. */
  needIds: Uint8Array[]
}

/** One side of a reconciliation session over a `SyncItemSource`. */
export class Reconciler {
  readonly #source: SyncItemSource
  readonly #limits: MessageLimits
  #role: 'none' | 'initiator' | 'responder' = 'none'
  #done = false
  #rounds = 0
  readonly #reported = new Set<string>()

  /** Creates a reconciler over `source`. The first call decides its role: `initiate()` or `reconcile()`. */
  constructor(source: SyncItemSource, options: ReconcilerOptions = {}) {
    const frameSizeLimit = options.frameSizeLimit ?? DEFAULT_FRAME_SIZE_LIMIT
    const maxRanges = options.maxRanges ?? DEFAULT_MAX_RANGES
    if (!Number.isSafeInteger(frameSizeLimit) || frameSizeLimit < MIN_FRAME_SIZE_LIMIT) {
      throw new SyncUsageError(`frameSizeLimit must be an integer >= ${MIN_FRAME_SIZE_LIMIT}`)
    }
    if (!Number.isSafeInteger(maxRanges) || maxRanges < MIN_MAX_RANGES) {
      throw new SyncUsageError(`maxRanges must be an integer >= ${MIN_MAX_RANGES}`)
    }
    this.#source = source
    this.#limits = { frameSizeLimit, maxRanges }
  }

  /** True once the initiator has received a message that left it nothing to ask. */
  get done(): boolean {
    return this.#done
  }

  /** Number of messages this reconciler has produced. */
  get rounds(): number {
    return this.#rounds
  }

  /** The limits in force. */
  get limits(): MessageLimits {
    return this.#limits
  }

  /** Makes this reconciler the initiator and returns the first message, covering the whole set. */
  async initiate(): Promise<Uint8Array> {
    if (this.#role !== 'none') throw new SyncUsageError('initiate() must be the first call, and only once')
    this.#role = 'initiator'
    const out = new MessageWriter()
    await this.#split(MIN_BOUND, MAX_BOUND, out)
    if (!this.#fits(out)) {
      // Only reachable with tiny limits: fall back to one fingerprint of everything.
      out.rollback(new MessageWriter().mark())
      out.fingerprint(MAX_BOUND, await this.#fingerprint(MIN_BOUND, MAX_BOUND))
    }
    this.#rounds++
    return out.finish()
  }

  /**
   * Processes the peer's message and builds the reply. Throws a `SyncProtocolError` subclass if the
   * message is malformed or out of bounds (the peer misbehaved), `SyncUsageError` if called after done.
   */
  async reconcile(message: Uint8Array): Promise<ReconcileResult> {
    if (this.#done) throw new SyncUsageError('reconciliation is already done')
    if (this.#role === 'none') this.#role = 'responder'
    const ranges = decodeMessage(message, this.#limits)
    const haveIds: Uint8Array[] = []
    const needIds: Uint8Array[] = []
    const out = new MessageWriter()
    await this.#process(ranges, out, haveIds, needIds)
    if (this.#role === 'initiator' && out.ranges === 0) {
      this.#done = true
      return { haveIds, needIds }
    }
    this.#rounds++
    return { reply: out.finish(), haveIds, needIds }
  }

  async #process(ranges: Range[], out: MessageWriter, haveIds: Uint8Array[], needIds: Uint8Array[]): Promise<void> {
    const initiator = this.#role === 'initiator'
    let lower: Bound = MIN_BOUND
    let pendingSkip = false
    const flushSkip = (): void => {
      if (pendingSkip) out.skip(lower)
      pendingSkip = false
    }
    for (const range of ranges) {
      const mark = out.mark()
      let overflow = false
      let stop = false
      if (range.mode === Mode.Skip) {
        pendingSkip = true
      } else if (range.mode === Mode.Fingerprint) {
        const ours = await this.#fingerprint(lower, range.upper)
        if (equal(ours, range.fingerprint)) {
          pendingSkip = true
        } else {
          flushSkip()
          await this.#split(lower, range.upper, out)
        }
      } else if (initiator) {
        await this.#diff(lower, range.upper, range.ids, haveIds, needIds)
        pendingSkip = true
      } else {
        flushSkip()
        const result = await this.#replyIdList(lower, range.upper, out)
        overflow = result === 'overflow'
        stop = result === 'truncated'
      }
      if (stop) return
      if (overflow || !this.#fits(out)) {
        // Out of room: drop this range's output and leave everything from the last bound written to
        // infinity for a later round, as one fingerprint.
        out.rollback(mark)
        out.fingerprint(MAX_BOUND, await this.#fingerprint(out.lastUpper, MAX_BOUND))
        return
      }
      lower = range.upper
    }
  }

  /** True when the closing range still fits after what was written. */
  #fits(out: MessageWriter): boolean {
    return out.length + FINAL_RANGE_BYTES <= this.#limits.frameSizeLimit && out.ranges + 1 <= this.#limits.maxRanges
  }

  /** Writes our items of [lower, upper) as one IdList, or as B Fingerprint buckets when there are many. */
  async #split(lower: Bound, upper: Bound, out: MessageWriter): Promise<void> {
    const n = await this.#source.count(lower, upper)
    if (n < ID_LIST_THRESHOLD) {
      const ids: Uint8Array[] = []
      await this.#each(lower, upper, (item) => {
        ids.push(item.id)
      })
      out.idList(upper, ids)
      return
    }
    const perBucket = Math.floor(n / BUCKETS)
    const withExtra = n % BUCKETS
    let bucket = 0
    let target = perBucket + (bucket < withExtra ? 1 : 0)
    let acc = new IdAccumulator()
    let pending: { fingerprint: Uint8Array; last: SyncItem } | undefined
    await this.#each(lower, upper, (item) => {
      if (pending !== undefined) {
        out.fingerprint(minimalBound(pending.last, item), pending.fingerprint)
        pending = undefined
      }
      acc.add(item.id)
      if (acc.count === target && bucket < BUCKETS - 1) {
        pending = { fingerprint: acc.fingerprint(), last: item }
        acc = new IdAccumulator()
        bucket++
        target = perBucket + (bucket < withExtra ? 1 : 0)
      }
    })
    // If the source shrank while we read it, the last full bucket absorbs the empty remainder.
    out.fingerprint(upper, pending !== undefined ? pending.fingerprint : acc.fingerprint())
  }

  /**
   * Responder: answers an IdList with our own ids of [lower, upper). If they do not all fit, lists the
   * first k, cuts the range after them and closes the message with a fingerprint of the rest.
   */
  async #replyIdList(lower: Bound, upper: Bound, out: MessageWriter): Promise<'ok' | 'truncated' | 'overflow'> {
    const n = await this.#source.count(lower, upper)
    const full = out.boundLength(upper) + 1 + varintLength(n) + n * ID_BYTES
    if (out.length + full + FINAL_RANGE_BYTES <= this.#limits.frameSizeLimit) {
      const ids: Uint8Array[] = []
      await this.#each(lower, upper, (item) => {
        ids.push(item.id)
      })
      out.idList(upper, ids)
      return 'ok'
    }
    if (out.ranges + 2 > this.#limits.maxRanges) return 'overflow'
    const room = this.#limits.frameSizeLimit - out.length - FINAL_RANGE_BYTES - MAX_BOUND_BYTES - 1 - 3
    const k = Math.min(Math.floor(room / ID_BYTES), n - 1)
    if (k < 1) return 'overflow'
    const items: SyncItem[] = []
    await this.#each(lower, upper, (item) => {
      items.push(item)
      return items.length <= k
    })
    if (items.length <= k) {
      // The source shrank below k + 1 items since count(): list what there is.
      out.idList(upper, items.map((i) => i.id))
      return 'ok'
    }
    const cut = minimalBound(items[k - 1]!, items[k]!)
    out.idList(
      cut,
      items.slice(0, k).map((i) => i.id)
    )
    out.fingerprint(MAX_BOUND, await this.#fingerprint(cut, MAX_BOUND))
    return 'truncated'
  }

  /** Initiator: compares the peer's ids of [lower, upper) with ours. */
  async #diff(lower: Bound, upper: Bound, theirIds: readonly Uint8Array[], haveIds: Uint8Array[], needIds: Uint8Array[]): Promise<void> {
    const theirs = new Map<string, Uint8Array>()
    for (const id of theirIds) theirs.set(hex(id), id)
    await this.#each(lower, upper, (item) => {
      const key = hex(item.id)
      if (theirs.has(key)) theirs.delete(key)
      else this.#report(key, item.id, haveIds)
    })
    for (const [key, id] of theirs) this.#report(key, id, needIds)
  }

  #report(key: string, id: Uint8Array, list: Uint8Array[]): void {
    if (this.#reported.has(key)) return
    this.#reported.add(key)
    list.push(Uint8Array.from(id))
  }

  async #fingerprint(lower: Bound, upper: Bound): Promise<Uint8Array> {
    const acc = new IdAccumulator()
    await this.#each(lower, upper, (item) => {
      acc.add(item.id)
    })
    return acc.fingerprint()
  }

  /** Calls `fn` for each item of [lower, upper) in order; `fn` returning false stops the walk. */
  async #each(lower: Bound, upper: Bound, fn: (item: SyncItem) => unknown): Promise<void> {
    const items = this.#source.iterate(lower, upper)
    if (Symbol.iterator in items) {
      for (const item of items as Iterable<SyncItem>) if (fn(item) === false) return
    } else {
      for await (const item of items) if (fn(item) === false) return
    }
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function hex(id: Uint8Array): string {
  return Buffer.from(id.buffer, id.byteOffset, id.length).toString('hex')
}
