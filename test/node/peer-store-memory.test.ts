// The peer store's LevelDB (libp2p rewrites a peer's record on every identify and incoming stream) holds at
// most PEER_STORE_LEVEL_MEMORY in memory: after 4 MiB of rewrites of a few records, LevelDB's approximate
// memory usage (block cache charge + memtables) stays within its cache plus two write buffers.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Key } from 'interface-datastore'
import { describe, expect, it } from 'vitest'
import { openNodeDatastore, PEER_STORE_LEVEL_MEMORY } from '../../src/node/dht-store.js'

describe('peer store LevelDB memory', () => {
  it('stays within its block cache and two write buffers under record rewrites', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-peerstore-memory-'))
    const opened = await openNodeDatastore(dir, { maxRecordsPerNamespace: 8, maxProviderRecords: 8 })
    const level = opened.peers!.level
    const usage = (): number => Number((level.db as unknown as { getProperty(name: string): string }).getProperty('leveldb.approximate-memory-usage'))
    const bound = PEER_STORE_LEVEL_MEMORY.cacheSize + 2 * PEER_STORE_LEVEL_MEMORY.writeBufferSize
    let peak = 0
    try {
      for (let i = 0; i < 2048; i++) {
        // 2 KiB records of 16 peers, rewritten over and over (random bytes: not compressible)
        await opened.datastore.put(new Key(`/peers/p${i % 16}`), randomBytes(2048))
        // Written back after every put: the most LevelDB would ever see (the node writes back every few seconds).
        await opened.peers!.flush()
        peak = Math.max(peak, usage())
      }
      for (let i = 0; i < 16; i++) expect((await opened.datastore.get(new Key(`/peers/p${i}`))).length).toBe(2048)
      peak = Math.max(peak, usage())
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThanOrEqual(bound)
    } finally {
      await level.close()
      await rm(dir, { recursive: true, force: true })
    }
  })
})
