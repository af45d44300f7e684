// Gossipsub between three sotto nodes and one plain libp2p node (no sotto validator, no keys) on
// 127.0.0.1: valid messages reach every subscriber once, junk is dropped by the validator, shown to no
// one and penalises its sender, and the plain node sees only the published bytes (no sender metadata).
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub, type Message, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { tcp } from '@libp2p/tcp'
import { multiaddr } from '@multiformats/multiaddr'
import { createLibp2p } from 'libp2p'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, toHex, utf8 } from '../../src/crypto/primitives.js'
import { MessageTooLargeError, messageId, type NodeMessage, type SottoNode } from '../../src/node/index.js'
import { Cluster } from '../node/helpers.js'

const TOPIC = 'sotto-test-topic'
// Test-only rule standing in for the protocol layer's envelope check: valid data starts with 0x01.
// Data starting with 0x02 stands for "not for now" (e.g. a future epoch): ignored, without penalty.
const validator = (_topic: string, data: Uint8Array): 'accept' | 'reject' | 'ignore' =>
  data[0] === 0x01 ? 'accept' : data[0] === 0x02 ? 'ignore' : 'reject'
const valid = (text: string): Uint8Array => concatBytes(new Uint8Array([0x01]), utf8(text))
const junk = (text: string): Uint8Array => concatBytes(new Uint8Array([0x00]), utf8(text))

describe('node: gossipsub between three nodes and a plain libp2p node', () => {
  const cluster = new Cluster()
  let a: SottoNode
  let b: SottoNode
  let c: SottoNode
  let plain: Libp2p<{ pubsub: GossipSub }>
  const seen = new Map<string, NodeMessage[]>()
  const plainSeen: Message[] = []

  const received = (node: SottoNode, id: string): Promise<NodeMessage> =>
    node.once('message', (m) => m.id === id, AbortSignal.timeout(10_000))

  beforeAll(async () => {
    a = await cluster.node({ topicValidator: validator })
    const boot = [a.addresses()[0]]
    b = await cluster.node({ bootstrap: boot, topicValidator: validator })
    c = await cluster.node({ bootstrap: boot, topicValidator: validator })
    for (const n of [a, b, c]) {
      seen.set(n.peerId, [])
      n.on('message', (m) => seen.get(n.peerId)?.push(m))
      n.subscribe(TOPIC)
    }
    await Promise.all([a, b, c].map((n) => n.waitForTopicPeers(TOPIC, 2, AbortSignal.timeout(10_000))))

    plain = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      services: { identify: identify(), pubsub: gossipsub({ globalSignaturePolicy: StrictNoSign }) }
    })
    plain.services.pubsub.addEventListener('message', (e) => plainSeen.push(e.detail))
    plain.services.pubsub.subscribe(TOPIC)
    await plain.dial(multiaddr(b.addresses()[0]))
    await b.waitForTopicPeers(TOPIC, 3, AbortSignal.timeout(10_000))
  })
  afterAll(async () => {
    await plain?.stop()
    await cluster.stopAll()
  })

  it('a valid message reaches every subscriber once, with the same id', async () => {
    const data = valid('hello from a')
    const id = toHex(messageId(TOPIC, data))
    const arrivals = Promise.all([received(b, id), received(c, id)])
    const res = await a.publish(TOPIC, data)
    expect(res.id).toBe(id)
    expect(res.recipients).toBeGreaterThan(0)
    const [atB, atC] = await arrivals
    expect(atB.data).toEqual(data)
    expect(atC.data).toEqual(data)
    expect(seen.get(b.peerId)?.filter((m) => m.id === id)).toHaveLength(1)
  })

  it('the plain node sees the published bytes and nothing about the author', async () => {
    const data = valid('visible ciphertext stand-in')
    const before = plainSeen.length
    const id = toHex(messageId(TOPIC, data))
    const atA = received(a, id)
    await c.publish(TOPIC, data)
    await atA
    await new Promise<void>((resolve) => {
      if (plainSeen.length > before) return resolve()
      plain.services.pubsub.addEventListener('message', () => resolve(), { once: true })
    })
    const got = plainSeen[plainSeen.length - 1]
    expect(got.type).toBe('unsigned')
    expect(new Uint8Array(got.data)).toEqual(data)
    expect(Object.keys(got).sort()).toEqual(['data', 'topic', 'type'])
  })

  it('junk from the plain node is dropped, shown to no one, and lowers its score', async () => {
    const bad = junk('spam')
    const badId = toHex(messageId(TOPIC, bad))
    const good = valid('after the spam')
    const goodId = toHex(messageId(TOPIC, good))
    // Messages on one connection are processed in order: once `good` is delivered, `bad` was judged.
    const arrivals = Promise.all([received(a, goodId), received(b, goodId), received(c, goodId)])
    await plain.services.pubsub.publish(TOPIC, bad)
    await plain.services.pubsub.publish(TOPIC, good)
    await arrivals
    for (const n of [a, b, c]) expect(seen.get(n.peerId)?.some((m) => m.id === badId)).toBe(false)
    expect(b.peerScore(plain.peerId.toString())).toBeLessThan(0)
  })

  it('an ignored message is dropped without penalising its sender', async () => {
    const before = b.peerScore(plain.peerId.toString())
    const later = concatBytes(new Uint8Array([0x02]), utf8('not for now'))
    const laterId = toHex(messageId(TOPIC, later))
    const good = valid('after the ignored one')
    const goodId = toHex(messageId(TOPIC, good))
    const arrival = received(b, goodId)
    await plain.services.pubsub.publish(TOPIC, later)
    await plain.services.pubsub.publish(TOPIC, good)
    await arrival
    expect(seen.get(b.peerId)?.some((m) => m.id === laterId)).toBe(false)
    expect(b.peerScore(plain.peerId.toString())).toBeGreaterThanOrEqual(before)
  })

  it('publishing with no subscribed peer does not throw and reports 0 recipients', async () => {
    const lonely = 'sotto-test-lonely'
    a.subscribe(lonely)
    const res = await a.publish(lonely, valid('nobody here'))
    expect(res).toMatchObject({ recipients: 0, duplicate: false })
    // Nothing was recorded as seen: once a peer subscribes, the same bytes can be sent.
    b.subscribe(lonely)
    await a.waitForTopicPeers(lonely, 1, AbortSignal.timeout(10_000))
    const again = await a.publish(lonely, valid('nobody here'))
    expect(again.recipients).toBe(1)
    expect((await a.publish(lonely, valid('nobody here'))).duplicate).toBe(true)
  })

  it('oversized messages are refused before sending', async () => {
    await expect(a.publish(TOPIC, new Uint8Array(64 * 1024 + 1).fill(1))).rejects.toBeInstanceOf(MessageTooLargeError)
  })
})
