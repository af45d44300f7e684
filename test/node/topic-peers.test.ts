// A topic peer is ready for a publish only once this node's own gossipsub stream to it is open. Each side of a
// connection opens its own outbound stream (gossipsub 17 opens them one peer at a time), and a peer's
// subscriptions arrive on the stream that peer opened: so a node can know a peer as subscribed before it can
// send it anything. waitForTopicPeers (and publish's waitForPeersMs) must wait for both.
import type { Connection } from '@libp2p/interface'
import { afterAll, describe, expect, it } from 'vitest'
import { toHex, utf8 } from '../../src/crypto/primitives.js'
import { messageId, type SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { Cluster } from './helpers.js'

const TOPIC = 'topic-peers'

/** Holds every gossipsub stream `node` opens on its new connections until `gate` resolves. */
function holdGossipsubStreams(node: SottoNode, gate: Promise<void>): void {
  libp2pOf(node).addEventListener('connection:open', (e) => {
    const conn: Connection = e.detail
    const newStream = conn.newStream.bind(conn)
    conn.newStream = async (protocols, options) => {
      if ([protocols].flat().some((p) => p.startsWith('/meshsub/'))) await gate
      return newStream(protocols, options)
    }
  })
}

describe('node: topic peers', () => {
  const cluster = new Cluster()
  afterAll(() => cluster.stopAll())

  it("waitForTopicPeers and publish's waitForPeersMs wait until the node's own stream to a subscribed peer is open", async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    b.subscribe(TOPIC)
    a.subscribe(TOPIC)
    let release: () => void = () => undefined
    holdGossipsubStreams(
      a,
      new Promise<void>((r) => {
        release = r
      })
    )
    const subscribed = a.once('subscription-change', (e) => e.peerId === b.peerId && e.topic === TOPIC && e.subscribed, AbortSignal.timeout(10_000))
    let ready = false
    const waiting = a.waitForTopicPeers(TOPIC, 1, AbortSignal.timeout(10_000)).then((peers) => {
      ready = true
      return peers
    })
    const queued = a.publish(TOPIC, utf8('queued until reachable'), { waitForPeersMs: 10_000 })
    await a.dial(b.addresses()[0]!)
    await subscribed
    // B's subscription came in on B's stream; A's own stream to B is held back.
    expect(a.topicPeers(TOPIC)).toEqual([b.peerId])
    await new Promise((r) => setImmediate(r))
    expect(ready).toBe(false)
    expect((await a.publish(TOPIC, utf8('too early'))).recipients).toBe(0)
    release()
    expect(await waiting).toEqual([b.peerId])
    expect((await queued).recipients).toBe(1)
    const data = utf8('right after')
    const arrival = b.once('message', (m) => m.id === toHex(messageId(TOPIC, data)), AbortSignal.timeout(10_000))
    arrival.catch(() => undefined) // awaited below; handled too in case the publish check fails first
    expect((await a.publish(TOPIC, data)).recipients).toBe(1)
    expect((await arrival).data).toEqual(data)
  })
})
