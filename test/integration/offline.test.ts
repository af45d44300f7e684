import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, startUser, type TestUser, waitForMessage } from './helpers.js'

describe('offline contacts and restarts', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop().catch(() => undefined)))
    await cleanup()
  })

  it('a message to an offline contact waits in the outbox and is delivered when they return', async () => {
    const alice = await startUser('alice')
    users.push(alice)
    const bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    await alice.contactAdd((await bob.id()).invite, 'bob')
    const first = await alice.send('bob', 'one')
    await waitForMessage(alice, (m) => m.id === first.id && m.status === 'delivered')
    const home = bob.home
    await bob.stop()
    const queued = await alice.send('bob', 'while you were away')
    expect(queued.status).toBe('queued')
    // nothing can be delivered while bob is down
    expect((await alice.status()).outbox).toBeGreaterThan(0)
    const back = await startUser('bob', alice.node.addresses(), home)
    users.push(back)
    const got = await waitForMessage(back, (m) => m.id === queued.id, 30_000)
    expect(got.text).toBe('while you were away')
    await waitForMessage(alice, (m) => m.id === queued.id && m.status === 'delivered', 30_000)
    // shown once
    expect((await back.read('alice')).filter((m) => m.id === queued.id)).toHaveLength(1)
  }, 60_000)

  it('a restart keeps identity, peer id, contacts, sessions and history', async () => {
    const alice = await startUser('alice2')
    users.push(alice)
    const bob = await startUser('bob2', alice.node.addresses())
    users.push(bob)
    await alice.contactAdd((await bob.id()).invite, 'bob')
    const m1 = await alice.send('bob', 'before restart')
    await waitForMessage(bob, (m) => m.id === m1.id)
    const before = await alice.id()
    const home = alice.home
    await alice.stop()
    const again = await startUser('alice2', [bob.node.addresses()[0]!], home)
    users.push(again)
    const after = await again.id()
    expect(after.peerId).toBe(before.peerId)
    expect(after.fingerprint).toBe(before.fingerprint)
    expect((await again.contactList()).map((c) => c.name)).toEqual(['bob'])
    expect((await again.read('bob')).map((m) => m.text)).toEqual(['before restart'])
    // the session survived: a new message needs no new set-up and bob decrypts it
    const m2 = await again.send('bob', 'after restart')
    expect((await waitForMessage(bob, (m) => m.id === m2.id, 30_000)).text).toBe('after restart')
  }, 60_000)
})
