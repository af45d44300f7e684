/**
 * An outbox entry is written with sync (fsync) once, when it is queued with the state that sealed it (PROTOCOL.md
 * §10.8); the retries of an entry that was not delivered only change its schedule, and are not synced. Real nodes
 * on 127.0.0.1, real LevelDB; the options of each write are read where the store hands them to LevelDB.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

describe('Sotto: outbox retries', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop().catch(() => undefined)))
    await cleanup()
  })

  it('a text to an offline contact is synced when queued; its retries are not', { timeout: 60_000 }, async () => {
    const alice = await startUser('alice')
    users.push(alice)
    const bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    await alice.contactAdd((await bob.id()).invite, 'bob')
    const first = await alice.send('bob', 'one')
    await waitForMessage(alice, (m) => m.id === first.id && m.status === 'delivered')
    await bob.stop()

    const synced: boolean[] = []
    const db = (alice.store as unknown as { db: { batch(ops: unknown[], options?: { sync?: boolean }): Promise<void> } }).db
    const batch = db.batch.bind(db)
    db.batch = (ops, options) => {
      synced.push(options?.sync === true)
      return batch(ops, options)
    }
    const queued = await alice.send('bob', 'while you were away')
    expect(queued.status).toBe('queued')
    expect(synced).toContain(true)
    const syncedAtSend = synced.filter(Boolean).length
    // The outbox pass tries again every 100 ms (test timings) and backs off: wait for three more attempts.
    const entry = async () => (await alice.store.listOutbox()).find((e) => e.messageId === queued.id)
    await expect.poll(async () => (await entry())?.attempts ?? 0, { timeout: 20_000 }).toBeGreaterThanOrEqual(3)
    expect(synced.filter(Boolean).length).toBe(syncedAtSend)
    expect((await entry())?.payload.length).toBeGreaterThan(0)
  })
})
