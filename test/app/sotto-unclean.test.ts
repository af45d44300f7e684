/**
 * Community sends are not synced to the disk before they are published (src/app/sotto.ts #sealPost; PROTOCOL.md
 * §8.5, §10.8): a power cut may roll a sender chain's stored state back behind a message already on the wire, and
 * so may an older copy of the data directory put back. So each session starts a new sender chain (a fresh random
 * sender key) instead of resuming a stored one, and never seals twice at one index; within a session it resumes
 * its own. Real nodes on 127.0.0.1, real LevelDB; a power cut is simulated by writing an older chain state back and
 * leaving the store unclosed, a restored copy by writing it back after a clean stop.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { SenderChainState } from '../../src/crypto/community.js'
import { toHex } from '../../src/crypto/primitives.js'
import { openLevelStore, storeDirectory } from '../../src/store/index.js'
import { ARGON2, cleanup, PASSPHRASE, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

describe('Sotto: community sender chains after an unclean shutdown', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it('a sender whose last chain state was lost starts a new chain, so its next text is accepted; so after a restored copy', { timeout: 90_000 }, async () => {
    const alice = await startUser('alice')
    users.push(alice)
    let bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    await alice.communityCreate('club')
    await bob.communityJoin(await alice.communityInvite('club'))
    await expect.poll(async () => (await alice.communityMembers('club')).length, { timeout: 20_000 }).toBe(2)
    expect(bob.store.uncleanShutdown).toBe(false)

    const community = (await bob.store.getCommunityByName('club'))!
    const chainId = `send:${community.epoch}`
    const chain = async (u: TestUser) => SenderChainState.deserialize((await u.store.getChainState(community.id, chainId))!)
    const one = await bob.send('#club', 'one')
    await waitForMessage(alice, (m) => m.id === one.id)
    const afterOne = (await bob.store.getChainState(community.id, chainId))!
    const two = await bob.send('#club', 'two')
    await waitForMessage(alice, (m) => m.id === two.id)
    const before = await chain(bob)
    expect(before.nextIndex).toBe(SenderChainState.deserialize(afterOne).nextIndex + 1)

    // The power cut: the write of "two"'s chain state is lost (the state after "one" is back), and the store
    // was never closed (its running marker stays).
    await bob.stop()
    const disk = await openLevelStore(storeDirectory(bob.home), PASSPHRASE, { argon2: ARGON2 })
    await disk.setChainState(community.id, chainId, afterOne)
    await (disk.db as unknown as { close(): Promise<void> }).close()

    bob = await startUser('bob', alice.node.addresses(), bob.home)
    users.push(bob)
    expect(bob.store.uncleanShutdown).toBe(true)
    // Resuming the stored state would seal "three" at index 1 with the key and nonce "two" used, and Alice would
    // refuse it as a replay; a new chain is accepted.
    const three = await bob.send('#club', 'three')
    expect((await waitForMessage(alice, (m) => m.id === three.id)).from).toBe('bob')
    const renewed = await chain(bob)
    expect(toHex(renewed.senderKey)).not.toBe(toHex(before.senderKey))
    expect(renewed.nextIndex).toBeLessThan(before.nextIndex)
    expect(toHex(renewed.identityKey)).toBe(toHex(before.identityKey))
    // The same session goes on with its new chain.
    const four = await bob.send('#club', 'four')
    await waitForMessage(alice, (m) => m.id === four.id)
    const afterFour = await chain(bob)
    expect(toHex(afterFour.senderKey)).toBe(toHex(renewed.senderKey))
    expect(afterFour.nextIndex).toBe(renewed.nextIndex + 1)

    // A clean stop, then an older copy of the chain state put back (a restored backup of the data directory, say):
    // the store cannot tell, and resuming would seal "five" at "four"'s index. The next session starts a new chain.
    await bob.stop()
    const copy = await openLevelStore(storeDirectory(bob.home), PASSPHRASE, { argon2: ARGON2 })
    await copy.setChainState(community.id, chainId, renewed.serialize())
    await copy.close()
    bob = await startUser('bob', alice.node.addresses(), bob.home)
    users.push(bob)
    expect(bob.store.uncleanShutdown).toBe(false)
    const five = await bob.send('#club', 'five')
    expect((await waitForMessage(alice, (m) => m.id === five.id)).from).toBe('bob')
    const fresh = await chain(bob)
    expect(toHex(fresh.senderKey)).not.toBe(toHex(renewed.senderKey))
    expect(toHex(fresh.senderKey)).not.toBe(toHex(afterFour.senderKey))
    // Within the session the new chain goes on.
    const six = await bob.send('#club', 'six')
    await waitForMessage(alice, (m) => m.id === six.id)
    expect(toHex((await chain(bob)).senderKey)).toBe(toHex(fresh.senderKey))
    expect((await alice.read('#club', 10)).filter((m) => m.from === 'bob').map((m) => m.text)).toEqual(['one', 'two', 'three', 'four', 'five', 'six'])
  })

  it('community sends are flushed to the disk shortly after, in one flush for many sends, not one each', { timeout: 60_000 }, async () => {
    const alice = await startUser('carol')
    users.push(alice)
    const bob = await startUser('dave', alice.node.addresses())
    users.push(bob)
    let flushes = 0
    const flush = bob.store.flush.bind(bob.store)
    bob.store.flush = async () => {
      flushes++
      await flush()
    }
    await alice.communityCreate('den')
    await bob.communityJoin(await alice.communityInvite('den'))
    await expect.poll(async () => (await alice.communityMembers('den')).length, { timeout: 20_000 }).toBe(2)
    const before = flushes
    // Twenty texts, one after the other: each is stored and published at once, none waits for a flush.
    const sent = []
    for (let i = 0; i < 20; i++) sent.push(await bob.send('#den', `text ${i}`))
    for (const m of sent) await waitForMessage(alice, (v) => v.id === m.id)
    // One flush covers them (two if one of the set-up's was still pending when they began), within a second.
    await expect.poll(() => flushes - before, { timeout: 5_000 }).toBeGreaterThanOrEqual(1)
    expect(flushes - before).toBeLessThanOrEqual(2)
  })

  it('a send whose write fails after it was published starts a new chain, so the next text is not a replay', { timeout: 60_000 }, async () => {
    const alice = await startUser('erin')
    users.push(alice)
    const bob = await startUser('frank', alice.node.addresses())
    users.push(bob)
    await alice.communityCreate('hall')
    await bob.communityJoin(await alice.communityInvite('hall'))
    await expect.poll(async () => (await alice.communityMembers('hall')).length, { timeout: 20_000 }).toBe(2)
    const community = (await bob.store.getCommunityByName('hall'))!
    const chainId = `send:${community.epoch}`
    const chain = async () => SenderChainState.deserialize((await bob.store.getChainState(community.id, chainId))!)
    const one = await bob.send('#hall', 'one')
    await waitForMessage(alice, (m) => m.id === one.id)
    const afterOne = await chain()

    // The next LevelDB batch fails (a full disk, say) after the app handed it over, and so after "two" was
    // published: the stored state stays at "one"'s.
    const db = (bob.store as unknown as { db: { batch: (...args: unknown[]) => Promise<void> } }).db
    const batch = db.batch
    db.batch = () => {
      db.batch = batch
      return Promise.reject(new Error('simulated write failure'))
    }
    await expect(bob.send('#hall', 'two')).rejects.toThrow('simulated write failure')
    expect((await waitForMessage(alice, (m) => m.text === 'two')).from).toBe('frank')
    expect((await chain()).nextIndex).toBe(afterOne.nextIndex)

    // Sealing from the stored state would reuse "two"'s index, key and nonce (Alice would drop it as a
    // replay); a new chain is heard.
    const three = await bob.send('#hall', 'three')
    expect((await waitForMessage(alice, (m) => m.id === three.id)).from).toBe('frank')
    const renewed = await chain()
    expect(toHex(renewed.senderKey)).not.toBe(toHex(afterOne.senderKey))
    // That chain is resumed by the next send.
    const four = await bob.send('#hall', 'four')
    await waitForMessage(alice, (m) => m.id === four.id)
    expect(toHex((await chain()).senderKey)).toBe(toHex(renewed.senderKey))
    expect((await bob.read('#hall', 10)).map((m) => m.text)).toEqual(['one', 'three', 'four'])
  })
})
