// The node's datastore (src/node/dht-store.ts): kad-dht's bounded in-memory store, the LevelDB peer store
// beside it with old DHT entries purged from the disk, and the per-peer request quota.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LevelDatastore } from 'datastore-level'
import { Key } from 'interface-datastore'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { afterEach, describe, expect, it } from 'vitest'
import { utf8 } from '../../src/crypto/primitives.js'
import { BoundedDhtStore, namespaceOfStoredRecord, openNodeDatastore, PeerQuota, WriteBackPeerStore } from '../../src/node/dht-store.js'
import { createSottoNode, RecordRejectedError } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'

/** The datastore key kad-dht uses for a record key. */
function recordKey(key: string): Key {
  return new Key(`/dht/record/${uint8ArrayToString(utf8(key), 'base32')}`, false)
}

function providerKey(i: number): Key {
  return new Key(`/dht/provider/cid${i}/peer${i}`, false)
}

describe('BoundedDhtStore', () => {
  it('reads the record prefix out of a stored key', () => {
    expect(namespaceOfStoredRecord(recordKey('/sotto-prekeys/abc').toString())).toBe('sotto-prekeys')
    expect(namespaceOfStoredRecord(recordKey('no-slash').toString())).toBe('')
    expect(namespaceOfStoredRecord('/dht/record/not base32!')).toBe('')
  })

  it('keeps at most the cap per prefix, evicting the least recently stored; prefixes are counted apart', async () => {
    const store = new BoundedDhtStore({ maxRecordsPerNamespace: 3, maxProviderRecords: 10 })
    for (const k of ['a', 'b', 'c']) await store.put(recordKey(`/sotto-prekeys/${k}`), utf8(k))
    await store.put(recordKey('/sotto-peers/x'), utf8('x'))
    // Replacing b's value makes it the most recent: a is now the oldest.
    await store.put(recordKey('/sotto-prekeys/b'), utf8('b2'))
    await store.put(recordKey('/sotto-prekeys/d'), utf8('d'))
    expect(store.recordCount('sotto-prekeys')).toBe(3)
    expect(store.recordCount('sotto-peers')).toBe(1)
    expect(await store.has(recordKey('/sotto-prekeys/a'))).toBe(false)
    expect(await store.get(recordKey('/sotto-prekeys/b'))).toEqual(utf8('b2'))
    await store.put(recordKey('/sotto-prekeys/e'), utf8('e'))
    expect(await store.has(recordKey('/sotto-prekeys/c'))).toBe(false)
    expect(await store.has(recordKey('/sotto-prekeys/b'))).toBe(true)
    // A deleted record frees its place.
    await store.delete(recordKey('/sotto-prekeys/e'))
    expect(store.recordCount('sotto-prekeys')).toBe(2)
    await store.put(recordKey('/sotto-prekeys/f'), utf8('f'))
    expect(await store.has(recordKey('/sotto-prekeys/b'))).toBe(true)
    expect(await store.has(recordKey('/sotto-peers/x'))).toBe(true)
  })

  it('bounds provider entries the same way', async () => {
    const store = new BoundedDhtStore({ maxRecordsPerNamespace: 10, maxProviderRecords: 4 })
    for (let i = 0; i < 10; i++) await store.put(providerKey(i), Uint8Array.of(i))
    expect(store.providerCount()).toBe(4)
    const held: string[] = []
    for await (const k of store.queryKeys({ prefix: '/dht/provider' })) held.push(k.toString())
    expect(held.sort()).toEqual([6, 7, 8, 9].map((i) => providerKey(i).toString()))
  })

  it('refuses a cap below 1', () => {
    expect(() => new BoundedDhtStore({ maxRecordsPerNamespace: 0, maxProviderRecords: 1 })).toThrow(RangeError)
  })
})

describe('openNodeDatastore', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir != null) await rm(dir, { recursive: true, force: true })
    dir = undefined
  })

  it('keeps the peer store in LevelDB, DHT entries in memory, and removes DHT entries an older version wrote to disk', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sotto-dht-store-'))
    const canary = utf8('CANARY-old-dht-record-7d1c')
    // An older node's directory: a peer-store entry and a DHT record on disk.
    const old = new LevelDatastore(dir)
    await old.open()
    await old.put(new Key('/peers/old-peer'), utf8('peer'))
    await old.put(recordKey('/sotto-prekeys/old'), canary)
    await old.close()

    const opened = await openNodeDatastore(dir, { maxRecordsPerNamespace: 8, maxProviderRecords: 8 })
    expect(opened.peers).toBeDefined()
    expect(new Uint8Array(await opened.datastore.get(new Key('/peers/old-peer')))).toEqual(utf8('peer'))
    expect(await opened.datastore.has(recordKey('/sotto-prekeys/old'))).toBe(false)
    // New writes: the peer entry goes to LevelDB, the record to memory only.
    await opened.datastore.put(new Key('/peers/new-peer'), utf8('peer2'))
    await opened.datastore.put(recordKey('/sotto-prekeys/new'), canary)
    expect(opened.dht.recordCount('sotto-prekeys')).toBe(1)
    // The peer entry reaches LevelDB at the next write-back, the DHT record never.
    const level = opened.peers!.level
    expect(await level.has(new Key('/peers/new-peer'))).toBe(false)
    await opened.peers!.flush()
    expect(await level.has(recordKey('/sotto-prekeys/new'))).toBe(false)
    expect(await level.has(new Key('/peers/new-peer'))).toBe(true)
    await level.close()

    const leaks: string[] = []
    for (const f of await readdir(dir)) if ((await readFile(join(dir, f))).includes(Buffer.from(canary))) leaks.push(f)
    expect(leaks).toEqual([])
  })

  it('without a directory, keeps everything in memory', async () => {
    const opened = await openNodeDatastore(undefined, { maxRecordsPerNamespace: 8, maxProviderRecords: 8 })
    expect(opened.peers).toBeUndefined()
    await opened.datastore.put(new Key('/peers/p'), utf8('p'))
    expect(new Uint8Array(await opened.datastore.get(new Key('/peers/p')))).toEqual(utf8('p'))
  })
})

describe('PeerQuota', () => {
  it('admits `limit` requests per peer per window, peers apart, and again in the next window', () => {
    let now = 1_000
    const quota = new PeerQuota(3, 60_000, () => now)
    expect([1, 2, 3, 4].map(() => quota.take('A'))).toEqual([true, true, true, false])
    expect(quota.take('B')).toBe(true)
    now += 59_999
    expect(quota.take('A')).toBe(false)
    now += 1
    expect(quota.take('A')).toBe(true)
  })
})

describe('the per-peer quota in front of kad-dht', () => {
  it('refuses PUT_VALUE and ADD_PROVIDER requests of a peer past its quota, each type counted apart', async () => {
    const node = await createSottoNode({ dhtPutsPerPeer: 3, dhtProvidesPerPeer: 2 })
    const other = await createSottoNode()
    const libp2p = libp2pOf(node)
    const from = libp2pOf(other).peerId
    const handlers = (libp2p.services.dht as unknown as { rpc: { handlers: Record<string, { handle(p: unknown, m: unknown): Promise<unknown> }> } }).rpc.handlers
    // Empty requests: within the quota kad-dht itself refuses them (no record, no key); past it, the quota does.
    const outcome = async (type: string): Promise<string> => {
      try {
        await handlers[type]!.handle(from, { type, key: new Uint8Array(0) })
        return 'handled'
      } catch (err) {
        return err instanceof RecordRejectedError ? 'over quota' : 'refused by kad-dht'
      }
    }
    const puts: string[] = []
    for (let i = 0; i < 4; i++) puts.push(await outcome('PUT_VALUE'))
    expect(puts).toEqual(['refused by kad-dht', 'refused by kad-dht', 'refused by kad-dht', 'over quota'])
    const provides: string[] = []
    for (let i = 0; i < 3; i++) provides.push(await outcome('ADD_PROVIDER'))
    expect(provides).toEqual(['refused by kad-dht', 'refused by kad-dht', 'over quota'])
  })
})

describe('WriteBackPeerStore', () => {
  it('serves the peer store from memory and writes changes (puts and deletes) back to LevelDB in batches and at stop', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-peer-writeback-'))
    try {
      const level = new LevelDatastore(dir)
      await level.open()
      await level.put(new Key('/peers/a'), utf8('a1'))
      await level.put(new Key('/peers/b'), utf8('b1'))
      const peers = await WriteBackPeerStore.load(level)
      expect(new Uint8Array(await peers.get(new Key('/peers/a')))).toEqual(utf8('a1'))
      // Changes are visible at once, and reach LevelDB only at a write-back.
      await peers.put(new Key('/peers/a'), utf8('a2'))
      peers.delete(new Key('/peers/b'))
      await peers.put(new Key('/peers/c'), utf8('c1'))
      expect(new Uint8Array(await peers.get(new Key('/peers/a')))).toEqual(utf8('a2'))
      expect(await peers.has(new Key('/peers/b'))).toBe(false)
      expect(new Uint8Array(await level.get(new Key('/peers/a')))).toEqual(utf8('a1'))
      expect(await level.has(new Key('/peers/b'))).toBe(true)
      await peers.flush()
      expect(new Uint8Array(await level.get(new Key('/peers/a')))).toEqual(utf8('a2'))
      expect(await level.has(new Key('/peers/b'))).toBe(false)
      expect(new Uint8Array(await level.get(new Key('/peers/c')))).toEqual(utf8('c1'))
      // A change after the last write-back is written by stop().
      peers.start(60_000)
      await peers.put(new Key('/peers/d'), utf8('d1'))
      await peers.stop()
      await level.close()
      const again = await WriteBackPeerStore.load(new LevelDatastore(dir))
      const keys: string[] = []
      for await (const k of again.queryKeys({})) keys.push(k.toString())
      expect(keys.sort()).toEqual(['/peers/a', '/peers/c', '/peers/d'])
      await again.level.close()
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
