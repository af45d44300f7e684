/**
 * Where a sotto node keeps its data (docs/PROTOCOL.md 13.10, "Storage and bounds"): libp2p's peer store
 * (peer ids, addresses, protocols) persists in LevelDB when a directory is given, while everything kad-dht
 * keeps under its datastore prefix `/dht` (records it holds for others and for itself, provider records)
 * lives in memory only and is bounded. DHT records name identities (prekey bundles and peer records carry
 * identity keys), so they are never written to disk; the peer store is, so that a restarted node rejoins.
 * The per-peer quota on inbound `PUT_VALUE` and `ADD_PROVIDER` requests is here too.
 */
import { logger } from '@libp2p/logger'
import { MemoryDatastore, MountDatastore } from 'datastore-core'
import { LevelDatastore } from 'datastore-level'
import { type Datastore, Key } from 'interface-datastore'
import { fromString as uint8ArrayFromString } from 'uint8arrays/from-string'

const log = logger('sotto:node:store')

/** kad-dht's datastore prefix (its default): its records are under `/dht/record/`, providers under `/dht/provider/`. */
export const DHT_DATASTORE_PREFIX = '/dht'
const RECORD_PREFIX = `${DHT_DATASTORE_PREFIX}/record/`
const PROVIDER_PREFIX = `${DHT_DATASTORE_PREFIX}/provider/`

/** Bounds of a `BoundedDhtStore`. */
export interface DhtStoreBounds {
  /** Records kept per record prefix (`sotto-prekeys`, `sotto-peers`, ...); the least recently stored go first. */
  maxRecordsPerNamespace: number
  /** Provider entries (one per rendezvous CID and provider) kept; the least recently stored go first. */
  maxProviderRecords: number
}

/**
 * The record prefix of a stored record's datastore key `/dht/record/<base32 of the record key>`: the record
 * key's first path segment, or '' when the key cannot be read (such a key still counts, under '').
 */
export function namespaceOfStoredRecord(datastoreKey: string): string {
  try {
    const recordKey = new TextDecoder().decode(uint8ArrayFromString(datastoreKey.slice(RECORD_PREFIX.length), 'base32'))
    const parts = recordKey.split('/')
    return parts.length >= 3 && parts[0] === '' ? parts[1] : ''
  } catch {
    return ''
  }
}

/**
 * kad-dht's in-memory store, bounded: at most `maxRecordsPerNamespace` records per record prefix and
 * `maxProviderRecords` provider entries. Storing a new key into a full class first evicts the entry of that
 * class stored (or last replaced) longest ago; replacing a key's value makes it the most recent.
 * Eviction rather than refusal: a flood then displaces records only while it lasts (owners re-put theirs),
 * whereas refusal would let a flood lock every later record out of this node until the flood's own expire.
 */
export class BoundedDhtStore extends MemoryDatastore {
  readonly bounds: DhtStoreBounds
  /** Keys of each class in the order they were last stored: the first is the next to evict. */
  private readonly classes = new Map<string, Set<string>>()

  constructor(bounds: DhtStoreBounds) {
    super()
    if (!(bounds.maxRecordsPerNamespace >= 1) || !(bounds.maxProviderRecords >= 1)) {
      throw new RangeError('bounds: maxRecordsPerNamespace and maxProviderRecords must be at least 1')
    }
    this.bounds = bounds
  }

  /** Number of records held under a record prefix (e.g. `sotto-prekeys`). */
  recordCount(namespace: string): number {
    return this.classes.get(`record:${namespace}`)?.size ?? 0
  }

  /** Number of provider entries held. */
  providerCount(): number {
    return this.classes.get('provider')?.size ?? 0
  }

  override put(key: Key, val: Uint8Array, options?: { signal?: AbortSignal }): Key | Promise<Key> {
    options?.signal?.throwIfAborted()
    const k = key.toString()
    const cls = this.classOf(k)
    if (cls != null) {
      const [name, cap] = cls
      let keys = this.classes.get(name)
      if (keys == null) {
        keys = new Set()
        this.classes.set(name, keys)
      }
      if (keys.has(k)) {
        keys.delete(k)
      } else {
        for (const oldest of keys) {
          if (keys.size < cap) break
          keys.delete(oldest)
          super.delete(new Key(oldest, false))
          log('%s full (%d): evicted %s', name, cap, oldest)
        }
      }
      keys.add(k)
    }
    return super.put(key, val, options)
  }

  override delete(key: Key, options?: { signal?: AbortSignal }): void {
    const k = key.toString()
    const cls = this.classOf(k)
    if (cls != null) this.classes.get(cls[0])?.delete(k)
    super.delete(key, options)
  }

  /** The bounded class of a datastore key and its cap, or undefined (unbounded: kad-dht keeps nothing else). */
  private classOf(k: string): [string, number] | undefined {
    if (k.startsWith(RECORD_PREFIX)) return [`record:${namespaceOfStoredRecord(k)}`, this.bounds.maxRecordsPerNamespace]
    if (k.startsWith(PROVIDER_PREFIX)) return ['provider', this.bounds.maxProviderRecords]
    return undefined
  }
}

/**
 * LevelDB's memory for the peer store's datastore: it holds a record per known peer (rewritten by libp2p on
 * every identify and incoming stream), a few kilobytes in all, so a 256 KiB block cache and write buffer do;
 * classic-level's defaults (8 MiB and 4 MiB) let each node's memtable grow to 4 MiB of rewrites before a flush.
 */
export const PEER_STORE_LEVEL_MEMORY: Readonly<{ cacheSize: number; writeBufferSize: number }> = Object.freeze({
  cacheSize: 256 * 1024,
  writeBufferSize: 256 * 1024
})

/** How often the peer store's changes are written to LevelDB, ms (and at stop). */
export const PEER_STORE_WRITE_BACK_MS = 5_000

/**
 * The peer store's datastore when it persists: every entry in memory, loaded from LevelDB at opening, with the
 * changes written back to LevelDB in one batch every PEER_STORE_WRITE_BACK_MS and at stop. libp2p reads a peer's
 * record on every incoming stream and every gossipsub mesh change and rewrites it often; served from LevelDB, that
 * cost each node of the end-to-end benchmark about 1.3 s of CPU in 80 s (asynchronous gets and puts through the
 * thread pool). A crash loses at most the last interval of peer-store changes: addresses and protocols learnt
 * again from the network.
 */
export class WriteBackPeerStore extends MemoryDatastore {
  readonly level: LevelDatastore
  /** Keys changed since the last write-back: the new value, or null for a deletion. */
  private readonly dirty = new Map<string, Uint8Array | null>()
  private timer: ReturnType<typeof setInterval> | undefined
  private writing: Promise<void> = Promise.resolve()

  private constructor(level: LevelDatastore) {
    super()
    this.level = level
  }

  /** Opens `level` (if closed) and loads every entry it holds into memory. */
  static async load(level: LevelDatastore): Promise<WriteBackPeerStore> {
    if (level.db.status !== 'open') await level.open()
    const store = new WriteBackPeerStore(level)
    for await (const { key, value } of level.query({})) await store.put(key, value)
    store.dirty.clear()
    return store
  }

  /** Writes back every `intervalMs` until stop(). */
  start(intervalMs = PEER_STORE_WRITE_BACK_MS): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => void this.flush().catch((err: unknown) => log.error('peer store write-back failed: %e', err)), intervalMs)
    this.timer.unref?.()
  }

  /** Stops the timer and writes back what changed (LevelDB stays open). */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    this.timer = undefined
    await this.flush()
  }

  /** Writes the changes since the last write-back to LevelDB, in one batch. */
  flush(): Promise<void> {
    this.writing = this.writing.then(async () => {
      if (this.dirty.size === 0 || this.level.db.status !== 'open') return
      const batch = this.level.batch()
      for (const [k, v] of this.dirty) {
        const key = new Key(k, false)
        if (v === null) batch.delete(key)
        else batch.put(key, v)
      }
      this.dirty.clear()
      await batch.commit()
    })
    return this.writing
  }

  override put(key: Key, val: Uint8Array, options?: { signal?: AbortSignal }): Key | Promise<Key> {
    this.dirty.set(key.toString(), val)
    return super.put(key, val, options)
  }

  override delete(key: Key, options?: { signal?: AbortSignal }): void {
    this.dirty.set(key.toString(), null)
    super.delete(key, options)
  }
}

/** The datastore handed to libp2p, with its parts. */
export interface NodeDatastore {
  /** What libp2p sees: `/dht/...` goes to `dht`, every other key to `peers` (or to memory without a directory). */
  datastore: Datastore
  /** kad-dht's bounded in-memory store. */
  dht: BoundedDhtStore
  /** The peer store, in memory and written back to LevelDB, when a directory was given. */
  peers?: WriteBackPeerStore
}

/**
 * Opens the node's datastore. With `path`, the LevelDB there is opened, and DHT entries an older version
 * wrote to it (anything under `/dht`) are deleted and that key range compacted, so they leave the disk.
 */
export async function openNodeDatastore(path: string | undefined, bounds: DhtStoreBounds): Promise<NodeDatastore> {
  const dht = new BoundedDhtStore(bounds)
  const dhtMount = { prefix: new Key(DHT_DATASTORE_PREFIX), datastore: dht }
  if (path == null) {
    return { datastore: new MountDatastore([dhtMount, { prefix: new Key('/'), datastore: new MemoryDatastore() }]), dht }
  }
  const level = new LevelDatastore(path, PEER_STORE_LEVEL_MEMORY)
  await level.open()
  await purgeDhtEntries(level)
  const peers = await WriteBackPeerStore.load(level)
  return { datastore: new MountDatastore([dhtMount, { prefix: new Key('/'), datastore: peers }]), dht, peers }
}

/** Deletes what kad-dht stored in LevelDB before its entries were kept in memory, and compacts that range. */
async function purgeDhtEntries(level: LevelDatastore): Promise<void> {
  let n = 0
  for await (const key of level.queryKeys({ prefix: DHT_DATASTORE_PREFIX })) {
    await level.delete(key)
    n++
  }
  if (n === 0) return
  // Deleted values stay in LevelDB's log and table files until a compaction rewrites them: force one.
  // (classic-level has compactRange; the `level` package's type does not declare it.)
  const db = level.db as unknown as { compactRange?: (start: string, end: string) => Promise<void> }
  await db.compactRange?.(`${DHT_DATASTORE_PREFIX}/`, `${DHT_DATASTORE_PREFIX}0`)
  log('removed %d DHT entries from the peer store directory', n)
}

/**
 * A per-peer rate limit: at most `limit` requests per peer in each window of `windowMs` (a fixed window
 * that starts with the peer's first request after the previous one ended).
 */
export class PeerQuota {
  private readonly windows = new Map<string, { start: number; count: number }>()

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now
  ) {}

  /** Counts a request of `peer`; false when it is over the quota (the request must be refused). */
  take(peer: string): boolean {
    const t = this.now()
    if (this.windows.size > 1024) {
      for (const [p, w] of this.windows) if (t - w.start >= this.windowMs) this.windows.delete(p)
    }
    let w = this.windows.get(peer)
    if (w == null || t - w.start >= this.windowMs) {
      w = { start: t, count: 0 }
      this.windows.set(peer, w)
    }
    if (w.count >= this.limit) return false
    w.count++
    return true
  }
}
