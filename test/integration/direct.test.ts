import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, startUser, type TestUser, waitForMessage } from './helpers.js'

describe('1:1 messages between two real nodes', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it('alice adds bob by invite, sends, bob stores and reads it; alice sees delivered', async () => {
    const alice = await startUser('alice')
    users.push(alice)
    const bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    const bobId = await bob.id()
    await alice.contactAdd(bobId.invite, 'bob')
    const sent = await alice.send('bob', 'hello bob')
    expect(sent.status).toBe('queued')
    const got = await waitForMessage(bob, (m) => m.id === sent.id)
    expect(got.text).toBe('hello bob')
    // the profile that opens every new session names the request after alice
    await expect.poll(async () => (await bob.contactList()).map((c) => c.name)).toEqual(['alice'])
    expect((await bob.read('alice')).map((m) => m.from)).toEqual(['alice'])
    const delivered = await waitForMessage(alice, (m) => m.id === sent.id && m.status === 'delivered')
    expect(delivered.status).toBe('delivered')
    // nothing is left to resend: the text was acknowledged, the session's profile was taken by bob's node
    await expect.poll(async () => (await alice.status()).outbox, { timeout: 5_000 }).toBe(0)
    // bob got a contact request named after alice's profile; he accepts and answers
    const contacts = await bob.contactList()
    expect(contacts.map((c) => [c.name, c.state])).toEqual([['alice', 'request']])
    await bob.contactAccept('alice')
    const reply = await bob.send('alice', 'hi alice')
    const back = await waitForMessage(alice, (m) => m.id === reply.id)
    expect(back.text).toBe('hi alice')
    const history = await bob.read('alice')
    expect(history.map((m) => m.text)).toEqual(['hello bob', 'hi alice'])
  })
})
