// LevelDB's own memory per store is bounded by LEVEL_STORE_MEMORY (block cache + write buffers), not by
// classic-level's server-sized defaults: after writing and reading back 8 MiB of envelopes, LevelDB's
// approximate memory usage (block cache charge + memtables) stays within the cache plus two write buffers.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import { LEVEL_STORE_MEMORY, openLevelStore } from '../../src/store/level.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

describe('LevelDB memory of a store', () => {
  it('stays within the block cache and two write buffers while 8 MiB are written and read back', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-store-memory-'))
    dirs.push(dir)
    // Argon2id: TEST_ARGON2 (a test-only setting).
    const store = await openLevelStore(dir, 'memory bound', { create: true, argon2: TEST_ARGON2 })
    const usage = (): number =>
      Number((store.db as unknown as { level: { getProperty(name: string): string } }).level.getProperty('leveldb.approximate-memory-usage'))
    const bound = LEVEL_STORE_MEMORY.cacheSize + 2 * LEVEL_STORE_MEMORY.writeBufferSize
    const topic = new Uint8Array(32).fill(7)
    let peak = 0
    try {
      for (let i = 0; i < 2048; i++) {
        const b = store.batch()
        // 4 KiB of random bytes per envelope: LevelDB cannot compress them away.
        b.putEnvelope(topic, randomBytes(32), 1_700_000_000_000 + i, randomBytes(4096))
        await b.commit()
        peak = Math.max(peak, usage())
      }
      let read = 0
      for await (const key of store.listEnvelopeKeys(topic)) {
        if ((await store.getEnvelope(topic, key.id)) !== undefined) read++
      }
      peak = Math.max(peak, usage())
      expect(read).toBe(2048)
      expect(peak).toBeGreaterThan(0)
      expect(peak).toBeLessThanOrEqual(bound)
    } finally {
      await store.close()
    }
  })
})
