/**
 * A community's previous epoch after a key rotation (PROTOCOL.md §8.6, the grace period): a member whose grant has
 * not arrived yet still sends in the epoch it holds, and the members who moved take those messages, but not from a
 * member the rotation removed; the chain states of epochs no longer read are deleted, and when the grace period is
 * over the epoch's topic and chain states go. Real nodes on 127.0.0.1, real LevelDB.
 */
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../src/crypto/primitives.js'
import { communityTopic, rendezvousKey } from '../../src/protocol/index.js'
import { FAST, type TestUser, usersOfThisFile, waitForMessage } from '../integration/helpers.js'

const startUser = usersOfThisFile()

/**
 * A user as test/integration/helpers.ts startUser makes one, but with no periodic sync in the test's time (a grant
 * withheld from gossip must not arrive by sync either) and the grace period given.
 */
async function user(name: string, bootstrap: string[] = [], epochGraceMs?: number, home?: string): Promise<TestUser> {
  const timings = { ...FAST, syncIntervalMs: 600_000, ...(epochGraceMs === undefined ? {} : { epochGraceMs }) }
  return startUser(name, bootstrap, home, timings)
}

/** Alice creates `community` and the others join it by invite; returns once Alice sees them all as members. */
async function community(name: string, admin: TestUser, others: TestUser[]): Promise<void> {
  await admin.communityCreate(name)
  const invite = await admin.communityInvite(name)
  for (const o of others) await o.communityJoin(invite)
  await expect.poll(async () => (await admin.communityMembers(name)).length, { timeout: 20_000 }).toBe(others.length + 1)
}

/** Withholds every 1:1 message from `u` (its grants among them): its node takes only community envelopes. */
function withholdDirect(u: TestUser): void {
  const own = u.node.getTopicValidator()!
  u.node.setTopicValidator((topic, data) => (topic.startsWith('/sotto/1/c/') ? own(topic, data) : 'ignore'))
}

async function topicOf(u: TestUser, name: string): Promise<string> {
  const c = (await u.communityList()).find((x) => x.name === name)!
  return communityTopic(fromHex(c.topicId))
}

async function texts(u: TestUser, name: string): Promise<string[]> {
  return (await u.read(`#${name}`, 1000)).map((m) => m.text)
}

/** The epochs whose keys `u` holds for the community. */
async function keyEpochs(u: TestUser, name: string): Promise<number[]> {
  const c = (await u.store.getCommunityByName(name))!
  return (await u.store.listEpochKeys(c.id)).map((k) => k.epoch).sort((a, b) => a - b)
}

/** The epochs of `u`'s chain states (sender and receiver) of the community. */
async function chainEpochs(u: TestUser, name: string): Promise<number[]> {
  const c = (await u.store.getCommunityByName(name))!
  return [...new Set((await u.store.listChainStates(c.id)).map((s) => Number(s.chainId.split(':')[1])))].sort((a, b) => a - b)
}

describe('the previous epoch after a rotation', () => {
  it('a member whose grant has not arrived sends in the old epoch, and the members who moved store it; a removed member and a leaked invite are refused', { timeout: 90_000 }, async () => {
    const alice = await user('alice')
    const bob = await user('bob', alice.node.addresses())
    const carol = await user('carol', alice.node.addresses())
    const mallory = await user('mallory', alice.node.addresses())
    await community('club', alice, [bob, carol, mallory])
    // Carol joined after Bob's profile went out: a text of his makes him a member she knows (without the sync this
    // test turns off, his profile would come to her with the epoch's history).
    const hello = await bob.send('#club', 'hello from bob')
    await waitForMessage(carol, (m) => m.id === hello.id)
    const oldTopic = await topicOf(alice, 'club')
    const old = (await alice.communityList())[0]!.epoch
    const leaked = await alice.communityInvite('club')
    // Every envelope of the old epoch Alice's node takes from gossip (the router check passes for all of them).
    let onOldTopic = 0
    alice.node.on('message', (m) => {
      if (m.topic === oldTopic) onOldTopic++
    })
    withholdDirect(bob)
    const rotated = await alice.communityRotate('club', 'mallory')
    expect(rotated.epoch).toBe(old + 1)
    await expect.poll(async () => (await carol.communityList())[0]!.epoch, { timeout: 15_000 }).toBe(old + 1)
    // Alice and Carol read both epochs now: the new one, and the old one while its grace period lasts.
    for (const u of [alice, carol]) {
      expect(u.node.topics()).toContain(oldTopic)
      expect(u.node.topics()).toContain(await topicOf(u, 'club'))
    }
    // Eve joins with an invite of the old epoch, after the rotation (she posts her profile, then a text).
    const eve = await user('eve', alice.node.addresses())
    await eve.communityJoin(leaked)
    await eve.node.waitForTopicPeers(oldTopic, 1, AbortSignal.timeout(10_000))
    const fromEve = await eve.send('#club', 'eve, with a leaked invite')
    // Mallory (removed) and Bob (no grant yet) both still hold the old epoch and post in it.
    const fromMallory = await mallory.send('#club', 'mallory, after her removal')
    expect((await bob.communityList())[0]!.epoch).toBe(old)
    const fromBob = await bob.send('#club', 'bob, before his grant')
    expect((await bob.communityList())[0]!.epoch).toBe(old)
    for (const u of [alice, carol]) await waitForMessage(u, (m) => m.id === fromBob.id)
    // Alice's node took all four envelopes; a post in the new epoch, received after them, shows her app is past them.
    await expect.poll(() => onOldTopic, { timeout: 15_000 }).toBeGreaterThanOrEqual(4)
    const fromCarol = await carol.send('#club', 'carol, in the new epoch')
    await waitForMessage(alice, (m) => m.id === fromCarol.id)
    for (const u of [alice, carol]) {
      const got = await texts(u, 'club')
      expect(got).toContain('bob, before his grant')
      expect(got).not.toContain('mallory, after her removal')
      expect(got).not.toContain('eve, with a leaked invite')
      const ids = (await u.read('#club', 1000)).map((m) => m.id)
      expect(ids).not.toContain(fromMallory.id)
      expect(ids).not.toContain(fromEve.id)
    }
    expect((await alice.communityMembers('club')).map((m) => m.name)).not.toContain('eve')
  })

  it('a rotation announces the epoch it leaves as well, and deletes the keys and chain states of the epochs before that one', { timeout: 90_000 }, async () => {
    const alice = await user('alice2')
    const bob = await user('bob2', alice.node.addresses())
    await community('pub', alice, [bob])
    const e0 = await topicOf(alice, 'pub')
    const one = await bob.send('#pub', 'in epoch 0')
    await waitForMessage(alice, (m) => m.id === one.id)
    await alice.send('#pub', 'alice in epoch 0')
    expect(await chainEpochs(alice, 'pub')).toEqual([0])

    // Every rendezvous key Alice's node announces in the DHT from now on.
    const provided: string[] = []
    const provide = alice.node.provide.bind(alice.node)
    alice.node.provide = (key, options) => {
      provided.push(toHex(key))
      return provide(key, options)
    }
    const e0Id = fromHex((await alice.communityList())[0]!.topicId)
    await alice.communityRotate('pub')
    await expect.poll(async () => (await bob.communityList())[0]!.epoch, { timeout: 15_000 }).toBe(1)
    const e1 = await topicOf(alice, 'pub')
    // She announces the new epoch, and the one left, where members still in it look for members.
    const e1Id = fromHex((await alice.communityList())[0]!.topicId)
    await expect.poll(() => provided, { timeout: 15_000 }).toEqual(expect.arrayContaining([toHex(rendezvousKey(e1Id)), toHex(rendezvousKey(e0Id))]))
    const two = await bob.send('#pub', 'in epoch 1')
    await waitForMessage(alice, (m) => m.id === two.id)
    await alice.send('#pub', 'alice in epoch 1')
    // Epoch 0 is in its grace period: its key and states stay, and Alice still reads its topic.
    expect(await chainEpochs(alice, 'pub')).toEqual([0, 1])
    expect(await keyEpochs(alice, 'pub')).toEqual([0, 1])
    expect(alice.node.topics()).toEqual(expect.arrayContaining([e0, e1]))

    await alice.communityRotate('pub')
    await expect.poll(async () => (await bob.communityList())[0]!.epoch, { timeout: 15_000 }).toBe(2)
    // The rotation to epoch 2 leaves epoch 1 (its grace period begins) and ends epoch 0's: topic and states gone.
    // (Epoch 2's chains are those of the profiles each posts in an epoch it moves to.)
    expect(await chainEpochs(alice, 'pub')).toEqual([1, 2])
    expect(await keyEpochs(alice, 'pub')).toEqual([1, 2])
    expect(alice.node.topics()).not.toContain(e0)
    expect(alice.node.topics()).toContain(e1)
    expect(await chainEpochs(bob, 'pub')).toEqual([1, 2])
    expect(await keyEpochs(bob, 'pub')).toEqual([1, 2])

    expect((await alice.store.getCommunityByName('pub'))!.extra?.['previousEpoch']).toMatchObject({ epoch: 1 })
  })

  it('once the grace period is over, the old epoch is refused, and its topic, key, chain states and record entry go, for good', { timeout: 90_000 }, async () => {
    // Alice's grace period ends a millisecond after her rotation.
    const alice = await user('alice3', [], 1)
    const bob = await user('bob3', alice.node.addresses())
    await community('late', alice, [bob])
    const e0 = await topicOf(alice, 'late')
    const one = await bob.send('#late', 'in epoch 0')
    await waitForMessage(alice, (m) => m.id === one.id)
    expect(await chainEpochs(alice, 'late')).toEqual([0])
    withholdDirect(bob)
    await alice.communityRotate('late')
    // Bob, still in epoch 0, posts there; Alice refuses it, and that ends the grace period she had not ended yet.
    const late = await bob.send('#late', 'too late')
    expect((await bob.communityList())[0]!.epoch).toBe(0)
    await expect.poll(() => alice.node.topics().includes(e0), { timeout: 15_000 }).toBe(false)
    expect(await texts(alice, 'late')).not.toContain('too late')
    expect((await alice.read('#late', 1000)).map((m) => m.id)).not.toContain(late.id)
    // Epoch 1's chain is that of the profile she posted there at her rotation.
    expect(await chainEpochs(alice, 'late')).toEqual([1])
    expect(await keyEpochs(alice, 'late')).toEqual([1])
    expect((await alice.store.getCommunityByName('late'))!.extra?.['previousEpoch']).toBeUndefined()
    // After a restart, still nothing of epoch 0: the new epoch only.
    await alice.stop()
    const again = await user('alice3', [bob.node.addresses()[0]!], 1, alice.home)
    expect(again.node.topics()).not.toContain(e0)
    expect(again.node.topics()).toContain(await topicOf(again, 'late'))
  })

  it('a malformed previous epoch in the community record (from disk) is ignored: no grace period, and the node works', { timeout: 90_000 }, async () => {
    const alice = await user('alice4')
    const bob = await user('bob4', alice.node.addresses())
    await community('odd', alice, [bob])
    const e0 = await topicOf(alice, 'odd')
    await alice.communityRotate('odd')
    await expect.poll(async () => (await bob.communityList())[0]!.epoch, { timeout: 15_000 }).toBe(1)
    let node = alice
    for (const bad of ['soon', [1], { epoch: 1, until: Date.now() + 60_000, removed: [] }, { epoch: 0, until: 'later', removed: [] }, { epoch: 0, until: Date.now() + 60_000, removed: [7] }]) {
      const record = (await node.store.getCommunityByName('odd'))!
      await node.store.putCommunity({ ...record, extra: { ...record.extra, previousEpoch: bad } })
      await node.stop()
      node = await user('alice4', [bob.node.addresses()[0]!], undefined, alice.home)
      // Only the current epoch's topic is read; the record and the community work as before.
      expect(node.node.topics().filter((t) => t.startsWith('/sotto/1/c/'))).toEqual([await topicOf(node, 'odd')])
      expect(node.node.topics()).not.toContain(e0)
      const sent = await bob.send('#odd', `after ${JSON.stringify(bad)}`)
      await waitForMessage(node, (m) => m.id === sent.id, 20_000)
    }
  })
})

describe('members across rotations', () => {
  it('a member who never writes is known to an admin who joined after her, and gets the key at that admin\'s rotation', { timeout: 120_000 }, async () => {
    // Periodic sync on: Carol learns the epoch's history (the profiles in it) from the others.
    const alice = await startUser('alice5')
    const bob = await startUser('bob5', alice.node.addresses())
    await community('lurk', alice, [bob])
    // Bob never writes a text. Alice rotates; Bob's profile of epoch 0 is in an epoch Carol will never hold.
    await alice.communityRotate('lurk')
    await expect.poll(async () => (await bob.communityList())[0]!.epoch, { timeout: 15_000 }).toBe(1)
    const carol = await startUser('carol5', alice.node.addresses())
    await carol.communityJoin(await alice.communityInvite('lurk'))
    // Carol knows Bob from what he posted in epoch 1 (his profile there, which she gets with the epoch's history).
    await expect.poll(async () => (await carol.communityMembers('lurk')).map((m) => m.name).sort(), { timeout: 20_000 }).toEqual(['alice5', 'bob5', 'carol5'])
    await expect.poll(async () => (await alice.communityMembers('lurk')).length, { timeout: 20_000 }).toBe(3)
    await alice.communityPromote('lurk', 'carol5')
    await expect.poll(async () => (await carol.communityMembers('lurk')).find((m) => m.name === 'carol5')?.role, { timeout: 15_000 }).toBe('admin')
    await carol.communityRotate('lurk')
    for (const u of [alice, bob]) await expect.poll(async () => (await u.communityList())[0]!.epoch, { timeout: 20_000 }).toBe(2)
    const sent = await bob.send('#lurk', 'bob in epoch 2')
    for (const u of [alice, carol]) await waitForMessage(u, (m) => m.id === sent.id, 20_000)
  })
})
