import { afterAll, describe, expect, it } from 'vitest'
import { Cluster } from './helpers.js'

describe('penalise', () => {
  const cluster = new Cluster()
  afterAll(() => cluster.stopAll())

  it('scores a connected peer down, more with each penalty', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    a.subscribe('/sotto/test/penalise')
    b.subscribe('/sotto/test/penalise')
    await a.dial(b.addresses()[0]!)
    // gossipsub scores the peer once its stream is up and it announced its subscriptions
    await a.waitForTopicPeers('/sotto/test/penalise', 1, AbortSignal.timeout(10_000))
    expect(a.peerScore(b.peerId)).toBe(0)
    a.penalise(b.peerId)
    a.penalise(b.peerId)
    const once = a.peerScore(b.peerId)
    expect(once).toBeLessThan(0)
    for (let i = 0; i < 4; i++) a.penalise(b.peerId)
    expect(a.peerScore(b.peerId)).toBeLessThan(once)
  })
})
