/**
 * A community epoch's receiver state is stored in parts (src/app/sotto.ts #writeReceiverState; PROTOCOL.md §10.6):
 * a message received writes its sender's chain entry (and the skipped keys when they changed), not every sender's
 * chain, so its cost does not grow with the number of members. A state stored whole by an earlier version is read,
 * and its next commit replaces it with parts. Real nodes on 127.0.0.1, real LevelDB.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { CommunityEpoch, CommunityReceiverState } from '../../src/crypto/community.js'
import { fromHex } from '../../src/crypto/primitives.js'
import { openLevelStore, storeDirectory } from '../../src/store/index.js'
import { ARGON2, cleanup, PASSPHRASE, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

/** The chain ids each of `u`'s commits writes or deletes from now on. */
function chainWrites(u: TestUser): string[][] {
  const perCommit: string[][] = []
  const batch = u.store.batch.bind(u.store)
  u.store.batch = () => {
    const b = batch()
    const ids: string[] = []
    const set = b.setChainState.bind(b)
    const del = b.deleteChainState.bind(b)
    b.setChainState = (communityId, chainId, state) => {
      ids.push(`set ${chainId}`)
      return set(communityId, chainId, state)
    }
    b.deleteChainState = (communityId, chainId) => {
      ids.push(`delete ${chainId}`)
      return del(communityId, chainId)
    }
    const commit = b.commit.bind(b)
    b.commit = async (...args: Parameters<typeof commit>) => {
      const r = await commit(...args)
      if (r.messages.some((m) => m.direction === 'in')) perCommit.push(ids)
      return r
    }
    return b
  }
  return perCommit
}

describe('Sotto: community receiver state in parts', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it("a message writes its sender's chain entry only; a state stored whole is read and then replaced by parts", { timeout: 90_000 }, async () => {
    let alice = await startUser('alice')
    users.push(alice)
    const bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    const carol = await startUser('carol', alice.node.addresses())
    users.push(carol)
    await alice.communityCreate('club')
    const invite = await alice.communityInvite('club')
    await bob.communityJoin(invite)
    await carol.communityJoin(invite)
    await expect.poll(async () => (await alice.communityMembers('club')).length, { timeout: 20_000 }).toBe(3)
    const c = (await alice.store.getCommunityByName('club'))!
    const recv = `recv:${c.epoch}`
    const epoch = CommunityEpoch.deserialize((await alice.store.getEpochKey(c.id, c.epoch))!)
    const entries = async () =>
      (await alice.store.listChainStates(c.id)).filter((s) => s.chainId.startsWith(`${recv}:`) && s.chainId !== `${recv}:skipped`)
    /** Alice's receiver state, from its parts. */
    const stored = async () =>
      CommunityReceiverState.fromParts(
        epoch.communityId,
        c.epoch,
        (await entries()).map((e) => e.state),
        (await alice.store.getChainState(c.id, `${recv}:skipped`)) ?? new Uint8Array(4)
      )

    // Bob and Carol each post; Alice stores both.
    const b1 = await bob.send('#club', 'bob one')
    await waitForMessage(alice, (m) => m.id === b1.id)
    const c1 = await carol.send('#club', 'carol one')
    await waitForMessage(alice, (m) => m.id === c1.id)
    // One entry per sender chain Alice received (profiles and texts of Bob and Carol), none whole.
    expect((await entries()).length).toBeGreaterThanOrEqual(2)
    expect(await alice.store.getChainState(c.id, recv)).toBeUndefined()
    const state = await stored()

    // Bob's next text: Alice's commit writes one chain entry, Bob's, whose next index moved by one.
    const writes = chainWrites(alice)
    const b2 = await bob.send('#club', 'bob two')
    await waitForMessage(alice, (m) => m.id === b2.id)
    expect(writes.length).toBe(1)
    expect(writes[0]!.length).toBe(1)
    const written = writes[0]![0]!
    expect(written.startsWith(`set ${recv}:`)).toBe(true)
    const bobKey = written.slice(`set ${recv}:`.length)
    expect(bobKey).not.toBe('skipped')
    const after = await stored()
    expect(after.nextIndexOf(fromHex(bobKey))).toBe(state.nextIndexOf(fromHex(bobKey)) + 1)
    expect(after.senderCount).toBe(state.senderCount)

    // An earlier version's store: the whole state in one record, no parts.
    await alice.stop()
    const disk = await openLevelStore(storeDirectory(alice.home), PASSPHRASE, { argon2: ARGON2 })
    const old = disk.batch().setChainState(c.id, recv, after.serialize())
    for (const p of await disk.listChainStates(c.id)) if (p.chainId.startsWith(`${recv}:`)) old.deleteChainState(c.id, p.chainId)
    await old.commit()
    await disk.close()

    alice = await startUser('alice', [bob.node.addresses()[0]!], alice.home)
    users.push(alice)
    await expect.poll(async () => (await alice.communityList())[0]?.name, { timeout: 10_000 }).toBe('club')
    const rewrites = chainWrites(alice)
    const c2 = await carol.send('#club', 'carol two')
    await waitForMessage(alice, (m) => m.id === c2.id)
    // The whole record is read (Carol's chain goes on from it: no skipped keys, where a new state would have held
    // one for her first index) and replaced by parts in the commit of her message.
    expect(rewrites[0]).toContain(`delete ${recv}`)
    expect(await alice.store.getChainState(c.id, recv)).toBeUndefined()
    expect((await entries()).length).toBe(after.senderCount)
    expect(await alice.store.getChainState(c.id, `${recv}:skipped`)).toBeDefined()
    const migrated = await stored()
    expect(migrated.skippedCount).toBe(0)
    expect(migrated.nextIndexOf(fromHex(bobKey))).toBe(after.nextIndexOf(fromHex(bobKey)))
    // And the next message writes one entry again.
    const b3 = await bob.send('#club', 'bob three')
    await waitForMessage(alice, (m) => m.id === b3.id)
    expect(rewrites.at(-1)).toEqual([`set ${recv}:${bobKey}`])
  })
})
