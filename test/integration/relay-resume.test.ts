// A node stopped abruptly in the middle of a big sync comes back on the same data directory and completes
// it: nothing lost, nothing twice. Real nodes on 127.0.0.1 TCP, real LevelDB stores (Argon2id: TEST_ARGON2,
// a test-only setting).
//
// "Killed" here is in-process: the node's libp2p transport is torn down under the running sync sessions and
// the store is closed under the writes still queued (a commit already handed to LevelDB completes, as it
// would in the OS page cache after a kill; every later one fails). No graceful app stop runs first.
import { describe, expect, it } from 'vitest'
import { communityCount, expectHistory, Running, relayCount, relayOnlyHistory } from './relay-helpers.js'

const POSTERS = 2
const PER_POSTER = 500
const TOTAL = POSTERS * PER_POSTER

describe('a node killed in the middle of a sync', () => {
  const running = new Running()
  const user = running.user.bind(running)

  it('completes the sync after a restart on the same data directory, nothing lost or duplicated', { timeout: 180_000 }, async () => {
    const { relay, topic, home, ids } = await relayOnlyHistory(running, 'k', PER_POSTER)

    // The member comes back; only the relay has the history. Kill it when a quarter has arrived.
    const first = await user('member', relay.addresses, home)
    let seen = 0
    let killedAt = -1
    const killed = new Promise<void>((resolve) => {
      first.subscribe(() => {
        if (++seen !== TOTAL / 4) return
        killedAt = seen
        void Promise.allSettled([first.node.stop(), first.store.close()]).then(() => resolve())
      })
    })
    await killed
    await running.stop(first).catch(() => undefined)
    expect(killedAt).toBe(TOTAL / 4)

    const back = await user('member', relay.addresses, home)
    const atRestart = await communityCount(back, 'lobby')
    expect(atRestart).toBeGreaterThan(0)
    expect(atRestart).toBeLessThan(TOTAL)
    await expect.poll(() => communityCount(back, 'lobby'), { timeout: 90_000, interval: 1000 }).toBe(TOTAL)
    await expectHistory(back, '#lobby', ids)
    // The relay holds each envelope once too (the member's own profile included).
    expect(await relayCount(relay, topic)).toBe(TOTAL + 2)
  })
})
