// Community rendezvous through DHT provider records: members provide a key derived from the topic, a
// joiner that knows only a bootstrap address finds and connects to them, then meets them on the topic.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, utf8 } from '../../src/crypto/primitives.js'
import type { SottoNode } from '../../src/node/index.js'
import { Cluster } from '../node/helpers.js'

describe('node: rendezvous through provider records', () => {
  const cluster = new Cluster()
  let boot: SottoNode
  let m1: SottoNode
  let m2: SottoNode
  // Stand-in for the protocol layer's rendezvous key (derived from the community's topic id).
  const rendezvous = utf8('sotto-test-rendezvous-key')
  const topic = 'sotto-test-community'

  beforeAll(async () => {
    boot = await cluster.node()
    const list = [boot.addresses()[0]]
    m1 = await cluster.node({ bootstrap: list })
    m2 = await cluster.node({ bootstrap: list })
    await Promise.all([m1.waitForDhtPeers(1), m2.waitForDhtPeers(1)])
    m1.subscribe(topic)
    m2.subscribe(topic)
    await Promise.all([m1.provide(rendezvous), m2.provide(rendezvous)])
  })
  afterAll(() => cluster.stopAll())

  it('a joiner finds the members, connects to them, and reaches them on the topic', async () => {
    const joiner = await cluster.node({ bootstrap: [boot.addresses()[0]] })
    await joiner.waitForDhtPeers(1)
    expect(joiner.peers()).not.toContain(m1.peerId)
    const found = await joiner.findProviders(rendezvous, { limit: 2 })
    expect(found.sort()).toEqual([m1.peerId, m2.peerId].sort())
    expect(joiner.peers()).toEqual(expect.arrayContaining([m1.peerId, m2.peerId]))

    joiner.subscribe(topic)
    await joiner.waitForTopicPeers(topic, 2, AbortSignal.timeout(10_000))
    const data = concatBytes(utf8('hello members'))
    const arrival = m2.once('message', (m) => m.topic === topic, AbortSignal.timeout(10_000))
    arrival.catch(() => undefined) // awaited below; handled too in case the publish check fails first
    expect((await joiner.publish(topic, data)).recipients).toBeGreaterThan(0)
    expect((await arrival).data).toEqual(data)
  })

  it('a key nobody provides finds no one', async () => {
    const found = await m1.findProviders(utf8('nobody provides this'), { timeoutMs: 3000 })
    expect(found).toEqual([])
  })
})
