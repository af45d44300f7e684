// A community member who was offline gets everything posted meanwhile, by sync: from the posters, and from a
// relay when the posters have gone too. Real nodes on 127.0.0.1 TCP, real LevelDB stores in temp dirs
// (Argon2id in these stores: TEST_ARGON2, a test-only setting).
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { fromHex } from '../../src/crypto/primitives.js'
import { communityTopic } from '../../src/protocol/index.js'
import type { TestUser } from './helpers.js'
import { communityCount, expectHistory, filesContaining, post, Running, relayCount, type startRelay } from './relay-helpers.js'

/** The figure: 2,000 messages posted while the member is away (2 posters x 1,000). */
const POSTERS = 2
const PER_POSTER = 1000
const TOTAL = POSTERS * PER_POSTER

describe('a member offline while 2,000 messages are posted', () => {
  const running = new Running()
  const user = running.user.bind(running)

  /** Admin + posters + member in one community; returns them with the invite's topic. */
  async function community(bootstrap: (admin: TestUser, topicId: string) => Promise<string[]>) {
    const admin = await user('p0', [])
    await admin.communityCreate('lobby')
    const topicId = (await admin.communityList())[0]!.topicId
    const boot = await bootstrap(admin, topicId)
    const posters = [admin]
    for (let i = 1; i < POSTERS; i++) posters.push(await user(`p${i}`, boot))
    const member = await user('member', boot)
    const invite = await admin.communityInvite('lobby')
    for (const u of [...posters.slice(1), member]) await u.communityJoin(invite)
    await expect.poll(async () => (await admin.communityMembers('lobby')).length, { timeout: 20_000 }).toBe(POSTERS + 1)
    return { admin, posters, member, topic: communityTopic(fromHex(topicId)), boot }
  }

  async function postAll(posters: TestUser[], tag: string): Promise<string[]> {
    const ids = await Promise.all(posters.map((u, k) => post(u, '#lobby', `${tag}-p${k}`, PER_POSTER)))
    return ids.flat()
  }

  it('gets all of them from the posters when it returns: each once, in order per sender; the posters hold no duplicates', { timeout: 180_000 }, async () => {
    const { posters, member, boot } = await community(async (admin) => admin.node.addresses())
    const home = member.home
    await running.stop(member)

    const t0 = Date.now()
    const ids = await postAll(posters, 'm')
    expect(ids.length).toBe(TOTAL)
    const t1 = Date.now()

    // Each message is held at least by its author: the member needs no poster to hold all of them.
    const back = await user('member', boot, home)
    await expect.poll(() => communityCount(back, 'lobby'), { timeout: 90_000, interval: 1000 }).toBe(TOTAL)
    const t2 = Date.now()
    await expectHistory(back, '#lobby', ids)
    for (const u of posters) {
      await expect.poll(() => communityCount(u, 'lobby'), { timeout: 60_000, interval: 1000 }).toBe(TOTAL)
      await expectHistory(u, '#lobby', ids)
    }
    console.log(`posted ${TOTAL} in ${t1 - t0} ms; the member had them all ${t2 - t1} ms later; the posters ${Date.now() - t2} ms after that`)
  })

  it('gets all of them from a relay when the posters have gone offline; the relay stores no plaintext', { timeout: 180_000 }, async () => {
    const canary = `canary${randomBytes(6).toString('hex')}`
    let relay: Awaited<ReturnType<typeof startRelay>> | undefined
    const { posters, member, topic } = await community(async (admin, topicId) => {
      relay = await running.relay({ serve: [topicId], bootstrap: admin.node.addresses() })
      return [...admin.node.addresses(), ...relay.addresses]
    })
    const r = relay!
    const home = member.home
    await running.stop(member)

    const ids = await postAll(posters, canary)
    // The relay holds every envelope: the 2,000 texts and the profiles of the members who joined.
    await expect.poll(() => relayCount(r, topic), { timeout: 60_000, interval: 500 }).toBe(TOTAL + POSTERS)
    for (const u of posters) await expect.poll(() => communityCount(u, 'lobby'), { timeout: 60_000, interval: 1000 }).toBe(TOTAL)
    await Promise.all(posters.map((u) => u.stop()))

    const back = await user('member', r.addresses, home)
    await expect.poll(() => communityCount(back, 'lobby'), { timeout: 90_000, interval: 1000 }).toBe(TOTAL)
    await expectHistory(back, '#lobby', ids)
    expect((await r.status()).invalid).toBe(0)

    await r.stop()
    expect(await filesContaining(r.home, [canary, 'lobby', 'member'])).toEqual([])
  })
})
