import { afterAll, describe, expect, it } from 'vitest'
import { cleanup, startUser, type TestUser, waitForMessage } from './helpers.js'

const N = Number(process.env['COMMUNITY_NODES'] ?? 10)

describe(`a community of ${N} real nodes`, () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it('every member stores every message once; a removed member reads nothing new and its posts are rejected', { timeout: 120_000 }, async () => {
    const admin = await startUser('u0')
    users.push(admin)
    for (let i = 1; i < N; i++) users.push(await startUser(`u${i}`, admin.node.addresses()))
    await admin.communityCreate('lobby')
    const invite = await admin.communityInvite('lobby')
    for (const u of users.slice(1)) await u.communityJoin(invite)
    // every joiner announces itself; the admin learns every member
    await expect.poll(async () => (await admin.communityMembers('lobby')).length, { timeout: 20_000 }).toBe(N)

    // each member posts one message; every member stores all N, each once
    const sent = await Promise.all(users.map((u) => u.send('#lobby', `hello from ${u.name}`)))
    for (const u of users) {
      await expect
        .poll(async () => (await u.read('#lobby', 1000)).length, { timeout: 20_000 })
        .toBe(N)
      const ids = (await u.read('#lobby', 1000)).map((m) => m.id)
      expect(new Set(ids).size).toBe(N)
      expect(ids.sort()).toEqual(sent.map((s) => s.id).sort())
    }

    // rotate and remove the last member
    const removed = users[N - 1]!
    const before = await admin.communityList()
    const after = await admin.communityRotate('lobby', removed.name)
    expect(after.epoch).toBe(before[0]!.epoch + 1)
    expect(after.topicId).not.toBe(before[0]!.topicId)
    const remaining = users.slice(1, N - 1)
    for (const u of remaining) {
      await expect.poll(async () => (await u.communityList())[0]!.epoch, { timeout: 20_000 }).toBe(after.epoch)
    }
    expect((await removed.communityList())[0]!.epoch).toBe(before[0]!.epoch)

    // the removed member posts (on its old epoch); the others accept nothing from it
    const evil = await removed.send('#lobby', 'still here?')
    const post = await admin.send('#lobby', 'after rotation')
    for (const u of remaining) await waitForMessage(u, (m) => m.id === post.id)
    for (const u of [admin, ...remaining]) {
      const texts = (await u.read('#lobby', 1000)).map((m) => m.text)
      expect(texts).not.toContain('still here?')
    }
    // and it never sees the post made after the rotation
    const theirs = (await removed.read('#lobby', 1000)).map((m) => m.id)
    expect(theirs).not.toContain(post.id)
    expect(theirs).toContain(evil.id)
  })
})
