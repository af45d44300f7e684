// The node API on loopback: lifecycle, addresses, typed errors, events, and the libp2p hook that other
// node-layer modules (the sync protocol) use to register a stream protocol.
import { lpStream } from '@libp2p/utils'
import { afterAll, describe, expect, it } from 'vitest'
import { utf8 } from '../../src/crypto/primitives.js'
import {
  createSottoNode,
  InvalidAddressError,
  InvalidRecordKeyError,
  NodeAbortedError,
  NodeNotStartedError
} from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { Cluster, LOOPBACK } from './helpers.js'

describe('node API', () => {
  const cluster = new Cluster()
  afterAll(() => cluster.stopAll())

  it('refuses network calls before start, and starts and stops cleanly', async () => {
    const node = await createSottoNode({ listen: LOOPBACK })
    expect(node.started).toBe(false)
    expect(() => node.subscribe('t')).toThrow(NodeNotStartedError)
    await expect(node.publish('t', new Uint8Array(1))).rejects.toBeInstanceOf(NodeNotStartedError)
    await node.start()
    expect(node.started).toBe(true)
    expect(node.addresses().length).toBeGreaterThan(0)
    for (const a of node.addresses()) expect(a).toMatch(new RegExp(`^/ip4/127\\.0\\.0\\.1/tcp/\\d+/p2p/${node.peerId}$`))
    await node.stop()
    expect(node.started).toBe(false)
    // A stopped node can start again, with the same peer id.
    await node.start()
    expect(node.addresses()[0]).toContain(node.peerId)
    await node.stop()
  })

  it('dials by address, reports connect and disconnect events, and lists peers', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const connected = b.once('peer:connect', (e) => e.peerId === a.peerId, AbortSignal.timeout(5000))
    expect(await a.dial(b.addresses()[0])).toBe(b.peerId)
    await connected
    expect(a.peers()).toContain(b.peerId)
    const gone = b.once('peer:disconnect', (e) => e.peerId === a.peerId, AbortSignal.timeout(5000))
    await a.hangUp(b.peerId)
    await gone
    expect(b.peers()).not.toContain(a.peerId)
    // Now a known peer: dialable by peer id alone.
    expect(await a.dial(b.peerId)).toBe(b.peerId)
  })

  it('throws typed errors for bad input', async () => {
    const a = await cluster.node()
    await expect(a.dial('not an address')).rejects.toBeInstanceOf(InvalidAddressError)
    await expect(a.putRecord('no-prefix', new Uint8Array(1))).rejects.toBeInstanceOf(InvalidRecordKeyError)
    await expect(a.getRecord('/unknown-prefix/x')).rejects.toBeInstanceOf(InvalidRecordKeyError)
    const ac = new AbortController()
    const waiting = a.waitForTopicPeers('nobody', 1, ac.signal)
    ac.abort()
    await expect(waiting).rejects.toBeInstanceOf(NodeAbortedError)
  })

  it('hands the topic validator and the message listeners the same plain Uint8Array for a gossip message', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const topic = 'same-bytes'
    const validated: Uint8Array[] = []
    expect(b.getTopicValidator()).toBeUndefined()
    const validator = (_topic: string, data: Uint8Array): 'accept' => {
      validated.push(data)
      return 'accept'
    }
    b.setTopicValidator(validator)
    expect(b.getTopicValidator()).toBe(validator)
    a.subscribe(topic)
    b.subscribe(topic)
    await a.dial(b.addresses()[0]!)
    await a.waitForTopicPeers(topic, 1, AbortSignal.timeout(10_000))
    const arrival = b.once('message', (m) => m.topic === topic, AbortSignal.timeout(10_000))
    arrival.catch(() => undefined) // awaited below
    await a.publish(topic, utf8('one decode'))
    const m = await arrival
    expect(Object.getPrototypeOf(m.data)).toBe(Uint8Array.prototype)
    expect(m.data).toEqual(utf8('one decode'))
    expect(validated).toHaveLength(1)
    expect(validated[0]).toBe(m.data)
  })

  it('lets node-layer modules run a stream protocol on the same libp2p instance', async () => {
    const a = await cluster.node()
    const b = await cluster.node()
    const protocol = '/sotto/test-echo/1.0.0'
    await libp2pOf(b).handle(protocol, async (stream) => {
      const lp = lpStream(stream, { maxDataLength: 1024 })
      await lp.write(await lp.read())
      await stream.close()
    })
    await a.dial(b.addresses()[0])
    const stream = await libp2pOf(a).dialProtocol(libp2pOf(b).peerId, protocol)
    const lp = lpStream(stream, { maxDataLength: 1024 })
    await lp.write(utf8('ping'))
    expect(new Uint8Array((await lp.read()).subarray())).toEqual(utf8('ping'))
    await stream.close()
  })
})
