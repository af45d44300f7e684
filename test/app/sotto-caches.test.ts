/**
 * The app keeps community and member records in memory (src/app/sotto.ts, #communities and #members): every
 * write to them, by whichever path (a statement received by gossip, a grant received over 1:1, a local
 * promotion or rotation), must be seen by the next send, receive and admin check. Real nodes on 127.0.0.1.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { NotAllowedError } from '../../src/app/errors.js'
import { cleanup, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

describe('Sotto: community records kept in memory', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it('a promotion received by gossip, then a rotation and its grant, are seen by the next admin check, send and receive', { timeout: 90_000 }, async () => {
    const alice = await startUser('alice')
    users.push(alice)
    const bob = await startUser('bob', alice.node.addresses())
    users.push(bob)
    await alice.communityCreate('club')
    await bob.communityJoin(await alice.communityInvite('club'))
    await expect.poll(async () => (await alice.communityMembers('club')).map((m) => m.name).sort(), { timeout: 20_000 }).toEqual(['alice', 'bob'])

    // Both have now read the community, and Alice Bob's member record (named by his profile).
    const one = await bob.send('#club', 'one')
    expect((await waitForMessage(alice, (m) => m.id === one.id)).from).toBe('bob')
    // Bob is not an admin yet: his admin check reads the record he holds.
    await expect(bob.communityRotate('club')).rejects.toBeInstanceOf(NotAllowedError)

    // Alice promotes Bob; Bob learns it from her control statement, received by gossip.
    await alice.communityPromote('club', 'bob')
    await expect.poll(async () => (await bob.communityList())[0]?.role, { timeout: 20_000 }).toBe('admin')
    // His next admin check sees it: he may rotate the key now.
    const rotated = await bob.communityRotate('club')
    expect(rotated.epoch).toBe(1)

    // Alice installs epoch 1 from Bob's grant (over 1:1); her next post goes out in it and Bob stores it,
    // and Bob's post in it is stored by her.
    await expect.poll(async () => (await alice.communityList())[0]?.epoch, { timeout: 30_000 }).toBe(1)
    const two = await alice.send('#club', 'two')
    await waitForMessage(bob, (m) => m.id === two.id)
    const three = await bob.send('#club', 'three')
    expect((await waitForMessage(alice, (m) => m.id === three.id)).from).toBe('bob')
    for (const u of [alice, bob]) {
      const texts = (await u.read('#club', 100)).map((m) => m.text)
      expect(texts.filter((t) => t === 'one' || t === 'two' || t === 'three').sort()).toEqual(['one', 'three', 'two'])
    }
  })
})
