// Gossipsub across duplicate connections: two nodes that dial each other at the same moment end up with two
// connections; when the one carrying gossipsub's streams closes while the other stays open, the nodes must
// still see each other's subscriptions and deliver a publish within moments (PROTOCOL.md 14.10), not at the
// next sync interval. libp2p 3 keeps both connections of a simultaneous dial; either side may close one
// later (connection pruning, a refused or aborted duplicate), which the test does by hand.
import type { Connection } from '@libp2p/interface'
import { afterEach, describe, expect, it } from 'vitest'
import { utf8 } from '../../src/crypto/primitives.js'
import type { SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { Cluster } from './helpers.js'

const TOPIC = 'dup-topic'
/** Well under the 60 s sync interval that covers the gap otherwise; the repair takes milliseconds. */
const DEADLINE_MS = 4_000

const meshsub = (c: Connection, direction: 'inbound' | 'outbound'): boolean =>
  c.streams.some((s) => s.protocol.startsWith('/meshsub/') && s.direction === direction)

/** Dials both ways at once, several times, until each node holds at least two connections to the other. */
async function burstUntilDuplicated(a: SottoNode, b: SottoNode): Promise<void> {
  const la = libp2pOf(a)
  const lb = libp2pOf(b)
  const deadline = Date.now() + DEADLINE_MS
  while (la.getConnections(lb.peerId).length < 2 || lb.getConnections(la.peerId).length < 2) {
    if (Date.now() > deadline) throw new Error('no duplicate connections after a burst of simultaneous dials')
    await Promise.allSettled([
      a.dial(b.addresses()[0]),
      b.dial(a.addresses()[0]),
      a.dial(b.addresses()[0]),
      b.dial(a.addresses()[0])
    ])
    await new Promise((r) => setImmediate(r))
  }
}

/** Publishes fresh messages from `from` every 50 ms until `to` receives one; resolves with the time taken. */
async function deliveryTime(from: SottoNode, to: SottoNode): Promise<number> {
  const start = Date.now()
  const ac = new AbortController()
  const got = to.once('message', (m) => m.topic === TOPIC, AbortSignal.any([ac.signal, AbortSignal.timeout(DEADLINE_MS)]))
  let n = 0
  const timer = setInterval(() => {
    void from.publish(TOPIC, utf8(`after the close #${n++} from ${from.peerId}`)).catch(() => undefined)
  }, 50)
  try {
    await got
    return Date.now() - start
  } finally {
    clearInterval(timer)
    ac.abort()
  }
}

describe('gossipsub with duplicate connections', () => {
  let cluster = new Cluster()
  afterEach(async () => {
    await cluster.stopAll()
    cluster = new Cluster()
  })

  it.each([
    ['closed', (c: Connection) => c.close()],
    ['aborted', (c: Connection) => c.abort(new Error('test: duplicate connection dropped'))]
  ] as const)('keeps subscriptions and prompt delivery when the connection carrying the streams is %s', async (_how, drop) => {
    const a = await cluster.node()
    const b = await cluster.node()
    a.subscribe(TOPIC)
    b.subscribe(TOPIC)
    await burstUntilDuplicated(a, b)
    const la = libp2pOf(a)
    const lb = libp2pOf(b)
    const signal = AbortSignal.timeout(DEADLINE_MS)
    await Promise.all([a.waitForTopicPeers(TOPIC, 1, signal), b.waitForTopicPeers(TOPIC, 1, signal)])

    // Drop the connection on which a sends to b, keeping the other one; wait until b has seen it close.
    const carrying = la.getConnections(lb.peerId).find((c) => meshsub(c, 'outbound'))
    expect(carrying).toBeDefined()
    const seenByB = new Promise<void>((resolve) => {
      const onClose = (e: CustomEvent<Connection>): void => {
        if (!e.detail.remotePeer.equals(la.peerId)) return
        lb.removeEventListener('connection:close', onClose)
        resolve()
      }
      lb.addEventListener('connection:close', onClose)
    })
    await drop(carrying as Connection)
    await seenByB
    expect(a.peers()).toContain(b.peerId)
    expect(b.peers()).toContain(a.peerId)

    // A publish reaches the other side within moments, both ways (not at the next sync interval)...
    expect(await deliveryTime(a, b)).toBeLessThan(DEADLINE_MS)
    expect(await deliveryTime(b, a)).toBeLessThan(DEADLINE_MS)
    // ...and each still lists the other as subscribed to the topic.
    expect(a.topicPeers(TOPIC)).toEqual([b.peerId])
    expect(b.topicPeers(TOPIC)).toEqual([a.peerId])
  })
})
