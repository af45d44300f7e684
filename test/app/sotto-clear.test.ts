/**
 * Clearing a conversation's history on this node (`clear`): all of it, or what was stored longer ago than an age; other
 * conversations and other people's copies untouched; nothing comes back after a restart and the peers' sync. Real nodes
 * on 127.0.0.1, real LevelDB.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { BadArgumentError, UnknownCommunityError } from '../../src/app/index.js'
import { cleanup, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

const users: TestUser[] = []
const start = async (name: string, bootstrap: string[] = [], home?: string): Promise<TestUser> => {
  const u = await startUser(name, bootstrap, home)
  users.push(u)
  return u
}
const texts = async (u: TestUser, to: string): Promise<string[]> => (await u.read(to, 1000)).map((m) => m.text)

afterAll(async () => {
  await Promise.all(users.map((u) => u.stop().catch(() => undefined)))
  await cleanup()
})

describe('clear', () => {
  it('deletes what was stored longer ago than an age, then everything; others keep theirs; nothing comes back after a restart', { timeout: 90_000 }, async () => {
    const alice = await start('alice')
    const bob = await start('bob', alice.node.addresses())
    await alice.communityCreate('club')
    await bob.communityJoin(await alice.communityInvite('club'))
    await alice.communityCreate('other')
    await alice.send('#other', 'in another conversation')
    const one = await bob.send('#club', 'one')
    const two = await bob.send('#club', 'two')
    for (const m of [one, two]) await waitForMessage(alice, (x) => x.id === m.id)
    const mine = await alice.send('#club', 'mine')

    // A message Alice's node stored ten days ago (written straight to her store, with that time).
    const club = (await alice.store.getCommunityByName('club'))!
    const day = 86_400_000
    await alice.store.addMessage({ id: 'ab'.repeat(16), conversation: club.id, direction: 'in', sender: 'cd'.repeat(32), text: 'ten days old', sentAt: Date.now() - 10 * day, receivedAt: Date.now() - 10 * day, status: 'received' })
    expect(await texts(alice, '#club')).toEqual(['ten days old', 'one', 'two', 'mine'])

    expect(await alice.clear('#club', 7 * day)).toBe(1)
    expect(await texts(alice, '#club')).toEqual(['one', 'two', 'mine'])
    expect(await alice.clear('#club', 7 * day)).toBe(0)

    expect(await alice.clear('#club')).toBe(3)
    expect(await texts(alice, '#club')).toEqual([])
    expect(await texts(alice, '#other')).toEqual(['in another conversation'])
    await waitForMessage(bob, (x) => x.id === mine.id)
    expect(await texts(bob, '#club')).toEqual(['one', 'two', 'mine'])

    // Bad input: a typed error, and nothing changes.
    await expect(alice.clear('#nowhere')).rejects.toBeInstanceOf(UnknownCommunityError)
    await expect(alice.clear('#other', -1)).rejects.toBeInstanceOf(BadArgumentError)
    await expect(alice.clear('#other', 1.5)).rejects.toBeInstanceOf(BadArgumentError)
    expect(await texts(alice, '#other')).toEqual(['in another conversation'])

    // After a restart and a sync with Bob, who holds every envelope, the cleared messages stay cleared.
    await alice.stop()
    const again = await start('alice', bob.node.addresses(), alice.home)
    const three = await bob.send('#club', 'three')
    await waitForMessage(again, (x) => x.id === three.id, 20_000)
    await expect.poll(async () => (await again.status()).sync.envelopesToFetch === (await again.status()).sync.envelopesFetched, { timeout: 20_000 }).toBe(true)
    expect(await texts(again, '#club')).toEqual(['three'])
  })
})
