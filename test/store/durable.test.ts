// A batch that queues an envelope for publication (putOutbox) holds the sending state that sealed it, which a
// power cut must not roll back behind what was published (PROTOCOL.md §5, §10.8): such a batch is written
// with LevelDB's sync option (fsync); every other batch is not, nor one whose entry says sync: false (community
// sends, whose sender chains are renewed after an unclean shutdown, §8.5). The store records, synced, that it is
// open, so that the next opening can tell an unclean shutdown. Real LevelDB in a temporary directory; the
// options of each write are read where the store hands them to LevelDB.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import { openLevelStore } from '../../src/store/level.js'
import { NameTakenError } from '../../src/store/errors.js'
import type { ContactRecord, OutboxEntry } from '../../src/store/types.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

/** A new store in a temporary directory (removed after each test). Argon2id: TEST_ARGON2 (a test-only setting). */
async function newStore() {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-store-durable-'))
  dirs.push(dir)
  return { dir, store: await openLevelStore(dir, 'durable', { create: true, argon2: TEST_ARGON2 }) }
}

const entry = (id: string): OutboxEntry => ({
  id,
  conversation: 'c1',
  payload: new Uint8Array([1, 2, 3]),
  attempts: 0,
  nextAttemptAt: 1,
  createdAt: 1
})

describe('durable batches', () => {
  it('a batch with an outbox entry is written with sync; one without is not; both are stored', async () => {
    const { store } = await newStore()
    const syncs: boolean[] = []
    const db = store.db as unknown as { batch(ops: unknown[], options?: { sync?: boolean }): Promise<void> }
    const batch = db.batch.bind(db)
    db.batch = (ops, options) => {
      syncs.push(options?.sync === true)
      return batch(ops, options)
    }
    try {
      // A send: the sending state and the envelope's outbox entry together.
      await store.batch().setChainState('c1', 'send:0', new Uint8Array([9])).putOutbox(entry('e1')).commit()
      // A receive: state, envelope and message, nothing to publish.
      await store
        .batch()
        .setChainState('c1', 'recv:0', new Uint8Array([8]))
        .putEnvelope(new Uint8Array(32).fill(1), new Uint8Array(32).fill(2), 1000, new Uint8Array([7]))
        .putMessage({ id: 'm1', conversation: 'c1', direction: 'in', sender: 's', text: 'hi', sentAt: 1, receivedAt: 2, status: 'received' })
        .commit()
      // Bookkeeping: an outbox entry done (deleted), nothing new to publish.
      await store.batch().deleteOutbox('e1').commit()
      expect(syncs).toEqual([true, false, false])
      expect(await store.getChainState('c1', 'send:0')).toEqual(new Uint8Array([9]))
      expect(await store.getChainState('c1', 'recv:0')).toEqual(new Uint8Array([8]))
      expect(await store.getOutbox('e1')).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('an outbox entry put with sync: false leaves its batch unsynced; flush() is one synced write after the writes before it', async () => {
    const { store } = await newStore()
    const writes: string[] = []
    const db = store.db as unknown as {
      batch(ops: unknown[], options?: { sync?: boolean }): Promise<void>
      put(key: unknown, value: unknown, options?: { sync?: boolean }): Promise<void>
    }
    const batch = db.batch.bind(db)
    const put = db.put.bind(db)
    db.batch = (ops, options) => {
      writes.push(options?.sync === true ? 'batch+sync' : 'batch')
      return batch(ops, options)
    }
    db.put = (key, value, options) => {
      writes.push(options?.sync === true ? 'put+sync' : 'put')
      return put(key, value, options)
    }
    try {
      const committed = store.batch().setChainState('c1', 'send:0', new Uint8Array([9])).putOutbox(entry('e1'), { sync: false }).commit()
      const flushed = store.flush()
      await Promise.all([committed, flushed])
      expect(writes).toEqual(['batch', 'put+sync'])
      expect(await store.getOutbox('e1')).toMatchObject({ id: 'e1' })
    } finally {
      await store.close()
    }
  })

  it('commit({ onWrite }) is called once the batch is handed to LevelDB, before it completes; not when the commit fails before', async () => {
    const { store } = await newStore()
    try {
      const events: string[] = []
      const db = store.db as unknown as { batch(ops: unknown[], options?: object): Promise<void> }
      const batch = db.batch.bind(db)
      db.batch = (ops, options) => {
        events.push('batch handed over')
        return batch(ops, options).then(() => {
          events.push('batch landed')
        })
      }
      await store
        .batch()
        .putOutbox(entry('e1'), { sync: false })
        .commit({ onWrite: () => events.push('onWrite') })
      expect(events).toEqual(['batch handed over', 'onWrite', 'batch landed'])
      expect(await store.getOutbox('e1')).toMatchObject({ id: 'e1' })

      // A commit that fails while its records are resolved (a name already taken) writes nothing: no onWrite.
      const contact: ContactRecord = {
        id: 'c1',
        name: 'alice',
        state: 'accepted',
        identityKey: 'c1',
        verified: false,
        identityChanged: false,
        identityHistory: [{ identityKey: 'c1', seenAt: 1 }],
        createdAt: 1
      }
      await store.putContact(contact)
      events.length = 0
      await expect(
        store
          .batch()
          .putContact({ ...contact, id: 'c2', identityKey: 'c2' })
          .putOutbox(entry('e2'), { sync: false })
          .commit({ onWrite: () => events.push('onWrite') })
      ).rejects.toThrow(NameTakenError)
      expect(events).toEqual([])
      expect(await store.getOutbox('e2')).toBeUndefined()
    } finally {
      await store.close()
    }
  })

  it('an opening after a session that did not close (crash, kill, power cut) reports an unclean shutdown; after close() it does not', async () => {
    const { dir, store: first } = await newStore()
    expect(first.uncleanShutdown).toBe(false)
    await first.close()
    const second = await openLevelStore(dir, 'durable', { argon2: TEST_ARGON2 })
    expect(second.uncleanShutdown).toBe(false)
    await second.setSettings({ k: 'v' })
    // The process dies: LevelDB is closed under the store (releasing its lock), close() never runs.
    await (second.db as unknown as { close(): Promise<void> }).close()
    const third = await openLevelStore(dir, 'durable', { argon2: TEST_ARGON2 })
    expect(third.uncleanShutdown).toBe(true)
    expect(await third.getSettings()).toEqual({ k: 'v' })
    await third.close()
    const fourth = await openLevelStore(dir, 'durable', { argon2: TEST_ARGON2 })
    expect(fourth.uncleanShutdown).toBe(false)
    await fourth.close()
  })
})
