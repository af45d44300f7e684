/**
 * Clearing a conversation's history on this node (`clear`): all of it, or what was stored longer ago than an age; other
 * conversations and other people's copies untouched; nothing comes back after a restart and the peers' sync. A
 * conversation's retention (`retention`): the node deletes what is older, at once and then periodically. Real nodes on
 * 127.0.0.1, real LevelDB.
 */
import { describe, expect, it } from 'vitest'
import { BadArgumentError, UnknownCommunityError, UnknownContactError } from '../../src/app/index.js'
import { FAST, type TestUser, usersOfThisFile, waitForMessage } from '../integration/helpers.js'

const start = usersOfThisFile()
const texts = async (u: TestUser, to: string): Promise<string[]> => (await u.read(to, 1000)).map((m) => m.text)
const DAY = 86_400_000
let n = 0
/** Writes a message into `u`'s store as if its node had stored it `days` ago; returns its text. */
async function oldMessage(u: TestUser, community: string, days = 2): Promise<string> {
  const c = (await u.store.getCommunityByName(community))!
  const text = `old ${++n}`
  const at = Date.now() - days * DAY
  await u.store.addMessage({ id: n.toString(16).padStart(32, '0'), conversation: c.id, direction: 'in', sender: 'cd'.repeat(32), text, sentAt: at, receivedAt: at, status: 'received' })
  return text
}

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

  it('a retention deletes older messages at once and then every retentionCheckMs, only in its conversation, until it is turned off', { timeout: 60_000 }, async () => {
    const alice = await start('alice2', [], undefined, { ...FAST, retentionCheckMs: 100 })
    for (const c of ['club', 'other', 'ticker']) await alice.communityCreate(c)
    expect(await alice.retention('#club')).toBe(0)
    await oldMessage(alice, 'club')
    const recent = await alice.send('#club', 'recent')
    expect(await alice.retention('#club', DAY)).toBe(DAY)
    expect(await alice.retention('#club')).toBe(DAY)
    // Set: what is older goes at once.
    expect(await texts(alice, '#club')).toEqual([recent.text])
    // Then periodically; a conversation without a retention keeps its old messages.
    expect(await alice.retention('#ticker', DAY)).toBe(DAY)
    const kept = await oldMessage(alice, 'other')
    await oldMessage(alice, 'ticker')
    await expect.poll(async () => texts(alice, '#ticker'), { timeout: 10_000 }).toEqual([])
    expect(await texts(alice, '#other')).toEqual([kept])
    // Off: old messages stay (a pass over '#other', which has a retention now, shows the timer ran after they were written).
    expect(await alice.retention('#ticker', 0)).toBe(0)
    const stays = await oldMessage(alice, 'ticker')
    expect(await alice.retention('#other', DAY)).toBe(DAY)
    expect(await texts(alice, '#other')).toEqual([])
    await oldMessage(alice, 'other')
    await expect.poll(async () => texts(alice, '#other'), { timeout: 10_000 }).toEqual([])
    expect(await texts(alice, '#ticker')).toEqual([stays])
    // Bad input: a typed error, and nothing changes.
    await expect(alice.retention('#club', -1)).rejects.toBeInstanceOf(BadArgumentError)
    await expect(alice.retention('nobody', DAY)).rejects.toBeInstanceOf(UnknownContactError)
    await expect(alice.retention('#nowhere')).rejects.toBeInstanceOf(UnknownCommunityError)
    expect(await alice.retention('#club')).toBe(DAY)
    expect(await alice.retention('#ticker')).toBe(0)
  })

  it('a retention survives a restart, and the node prunes when it starts', { timeout: 60_000 }, async () => {
    // The periodic pass is far off: only the start-up pass can delete anything here.
    const slow = { ...FAST, retentionCheckMs: 600_000 }
    const carol = await start('carol', [], undefined, slow)
    await carol.communityCreate('diary')
    expect(await carol.retention('#diary', DAY)).toBe(DAY)
    const old = await oldMessage(carol, 'diary')
    const now = await carol.send('#diary', 'today')
    expect(await texts(carol, '#diary')).toEqual([old, now.text])
    await carol.stop()
    const again = await start('carol', [], carol.home, slow)
    expect(await again.retention('#diary')).toBe(DAY)
    expect(await texts(again, '#diary')).toEqual([now.text])
  })
})
