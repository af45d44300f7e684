// The sync service between real sotto nodes over TCP on 127.0.0.1, with in-memory envelope sets.
import { lpStream } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { afterEach, describe, expect, it } from 'vitest'
import type { SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { createSyncService, type SyncResult, type SyncService, type SyncServiceInit } from '../../src/node/sync.js'
import { decodeFrame, encodeFrame, FrameType, RejectReason, SYNC_PROTOCOL, SyncLimitError, SyncProtocolError } from '../../src/protocol/sync/index.js'
import { Cluster } from './helpers.js'
import { Holder, hex, makeEnvelopes } from './sync-helpers.js'

const T1 = '/sotto/1/c/' + '11'.repeat(32)
const T2 = '/sotto/1/c/' + '22'.repeat(32)

describe('sync service between real nodes', () => {
  let cluster: Cluster
  const services: SyncService[] = []

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await cluster.stopAll()
  })

  async function withSync(holder: Holder, init: Partial<SyncServiceInit> = {}): Promise<{ node: SottoNode; sync: SyncService }> {
    const node = await cluster.node()
    const sync = createSyncService({ node, ...holder.deps(), intervalMs: 0, ...init })
    await sync.start()
    services.push(sync)
    return { node, sync }
  }

  /** Resolves with the first session result that satisfies `filter`. */
  function sessionWaiter(filter: (r: SyncResult) => boolean = () => true) {
    let resolve!: (r: SyncResult) => void
    const done = new Promise<SyncResult>((r) => (resolve = r))
    return { onSession: (r: SyncResult) => (filter(r) ? resolve(r) : undefined), done }
  }

  it('syncs on connect: both end with the union, each envelope delivered once, progress reported', async () => {
    cluster = new Cluster()
    const shared = makeEnvelopes(300)
    const onlyA = makeEnvelopes(2000)
    const onlyB = makeEnvelopes(7)
    const ha = new Holder().serve(T1, [...shared, ...onlyA])
    const hb = new Holder().serve(T1, [...shared, ...onlyB])
    const waitA = sessionWaiter((r) => r.topic === T1)
    const waitB = sessionWaiter((r) => r.topic === T1)
    const progress: number[] = []
    const a = await withSync(ha, { onSession: waitA.onSession, onProgress: (e) => progress.push(e.session.envelopesFetched) })
    const b = await withSync(hb, { onSession: waitB.onSession, onProgress: (e) => progress.push(e.session.envelopesFetched) })
    await b.node.dial(a.node.addresses()[0]!)
    const result = await Promise.race([waitA.done, waitB.done])
    expect(result.status).toBe('complete')
    const union = new Set([...ha.ids(T1), ...hb.ids(T1)])
    expect(union.size).toBe(2307)
    expect(ha.ids(T1)).toEqual(union)
    expect(hb.ids(T1)).toEqual(union)
    for (const h of [ha, hb]) for (const n of h.deliveries.values()) expect(n).toBe(1)
    expect(hb.stored.size + ha.stored.size).toBe(2007)
    // the initiator's totals: what it fetched equals what it found missing and could get
    const initiator = result.peer === b.node.peerId ? a.sync : b.sync
    const p = initiator.progress()
    expect(p.envelopesFetched).toBe(p.envelopesToFetch)
    expect(p.bytesFetched).toBe(p.bytesToFetch)
    expect(p.activeSessions).toBe(0)
    expect(progress.length).toBeGreaterThan(0)
  })

  it('syncs only topics both serve; a second sync transfers nothing', async () => {
    cluster = new Cluster()
    const ha = new Holder().serve(T1, makeEnvelopes(50)).serve(T2, makeEnvelopes(50))
    const hb = new Holder().serve(T1, makeEnvelopes(5))
    const a = await withSync(ha, { syncOnConnect: false })
    const b = await withSync(hb, { syncOnConnect: false })
    await a.node.dial(b.node.addresses()[0]!)
    const results = await a.sync.syncWith(b.node.peerId)
    expect(results.map((r) => [r.topic, r.status])).toEqual([
      [T1, 'complete'],
      [T2, 'refused']
    ])
    expect(hb.ids(T1).size).toBe(55)
    expect(hb.topics.has(T2)).toBe(false)
    const again = await a.sync.syncTopic(b.node.peerId, T1)
    expect(again).toMatchObject({ status: 'complete', haveCount: 0, needCount: 0, fetched: 0, pushed: 0, rounds: 1 })
  })

  it('more than a session may move: sessions continue back to back until done', async () => {
    cluster = new Cluster()
    const ha = new Holder().serve(T1, makeEnvelopes(350))
    const hb = new Holder().serve(T1, makeEnvelopes(120))
    const limits = { maxEnvelopesPerSession: 100 }
    const a = await withSync(ha, { syncOnConnect: false, limits })
    const b = await withSync(hb, { syncOnConnect: false, limits })
    await b.node.dial(a.node.addresses()[0]!)
    const results = await b.sync.syncWith(a.node.peerId)
    expect(results.map((r) => [r.fetched, r.pushed])).toEqual([
      [100, 100],
      [100, 20],
      [100, 0],
      [50, 0]
    ])
    expect(hb.ids(T1)).toEqual(ha.ids(T1))
    expect(hb.ids(T1).size).toBe(470)
  })

  it('three nodes reach the same set through pairwise syncs', async () => {
    cluster = new Cluster()
    const all = makeEnvelopes(900)
    const hs = [0, 1, 2].map((k) => new Holder().serve(T1, all.filter((_, i) => i % 3 !== k)))
    const ns = []
    for (const h of hs) ns.push(await withSync(h, { syncOnConnect: false }))
    await ns[1]!.node.dial(ns[0]!.node.addresses()[0]!)
    await ns[2]!.node.dial(ns[1]!.node.addresses()[0]!)
    await ns[1]!.sync.syncTopic(ns[0]!.node.peerId, T1)
    await ns[2]!.sync.syncTopic(ns[1]!.node.peerId, T1)
    await ns[1]!.sync.syncTopic(ns[0]!.node.peerId, T1)
    for (const h of hs) expect(h.ids(T1).size).toBe(900)
  })

  it('an interrupted sync resumes with nothing lost or delivered twice', async () => {
    cluster = new Cluster()
    const ha = new Holder().serve(T1, makeEnvelopes(1500))
    const hb = new Holder().serve(T1)
    const a = await withSync(ha, { syncOnConnect: false })
    const b = await withSync(hb, { syncOnConnect: false, limits: { maxFetchIds: 64 } })
    await b.node.dial(a.node.addresses()[0]!)
    const abort = new AbortController()
    hb.afterEnvelope = (n) => {
      if (n === 500) abort.abort(new Error('interrupted by the test'))
    }
    await expect(b.sync.syncTopic(a.node.peerId, T1, abort.signal)).rejects.toThrow()
    hb.afterEnvelope = undefined
    const got = hb.ids(T1).size
    expect(got).toBeGreaterThanOrEqual(500)
    expect(got).toBeLessThan(1500)
    const r = await b.sync.syncTopic(a.node.peerId, T1)
    expect(r.needCount).toBe(1500 - got)
    expect(hb.ids(T1)).toEqual(ha.ids(T1))
    for (const n of hb.deliveries.values()) expect(n).toBe(1)
  })

  it('a service started after the connection still syncs with the peer', async () => {
    cluster = new Cluster()
    const ha = new Holder().serve(T1, makeEnvelopes(40))
    const hb = new Holder().serve(T1, makeEnvelopes(3))
    const a = await withSync(ha, { syncOnConnect: false })
    const nodeB = await cluster.node()
    const p2p = libp2pOf(nodeB)
    const identified = new Promise<void>((resolve) =>
      p2p.addEventListener('peer:identify', (e) => {
        if (e.detail.peerId.toString() === a.node.peerId && e.detail.protocols.includes(SYNC_PROTOCOL)) resolve()
      })
    )
    await nodeB.dial(a.node.addresses()[0]!)
    await identified
    let resolve!: (r: SyncResult) => void
    const done = new Promise<SyncResult>((r) => (resolve = r))
    // only the periodic sync can start a session here, and only with a peer the service found on start
    const sync = createSyncService({ node: nodeB, ...hb.deps(), intervalMs: 100, syncOnConnect: false, onSession: resolve })
    services.push(sync)
    await sync.start()
    expect((await done).status).toBe('complete')
    expect(hb.ids(T1)).toEqual(ha.ids(T1))
  })

  it('the periodic sync picks up envelopes added later', async () => {
    cluster = new Cluster()
    const ha = new Holder().serve(T1, makeEnvelopes(10))
    const hb = new Holder().serve(T1)
    const later = makeEnvelopes(25, 600, 1_800_000_000_000)
    let resolve!: () => void
    const full = new Promise<void>((r) => (resolve = r))
    hb.afterEnvelope = (n) => n === 35 && resolve()
    const a = await withSync(ha, { intervalMs: 200 })
    const b = await withSync(hb, { intervalMs: 200 })
    await b.node.dial(a.node.addresses()[0]!)
    for (const e of later) ha.put(T1, e)
    await full
    expect(hb.ids(T1)).toEqual(ha.ids(T1))
  })
})

describe('sync service against misbehaving peers', () => {
  let cluster: Cluster
  const services: SyncService[] = []

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await cluster.stopAll()
  })

  /** A victim node serving T1, and a raw attacker node connected to it. */
  async function setup(limits: Record<string, number> = {}) {
    cluster = new Cluster()
    const holder = new Holder().serve(T1, makeEnvelopes(200))
    const victim = await cluster.node()
    let report!: (x: { peer: string; error: Error }) => void
    const misbehaved = new Promise<{ peer: string; error: Error }>((r) => (report = r))
    const sync = createSyncService({
      node: victim,
      ...holder.deps(),
      intervalMs: 0,
      syncOnConnect: false,
      limits: { frameTimeoutMs: 500, ...limits },
      onMisbehaviour: (peer, error) => report({ peer, error })
    })
    await sync.start()
    services.push(sync)
    const attacker = await cluster.node()
    await attacker.dial(victim.addresses()[0]!)
    const stream = await libp2pOf(attacker).dialProtocol(peerIdFromString(victim.peerId), SYNC_PROTOCOL)
    return { victim, attacker, sync, stream, misbehaved }
  }

  const expectDisconnected = async (victim: SottoNode, attacker: SottoNode) => {
    expect(victim.peers()).not.toContain(attacker.peerId)
  }

  it('an oversized frame: disconnected without reading it', async () => {
    const { victim, attacker, stream, misbehaved } = await setup()
    const lp = lpStream(stream, { maxDataLength: 4 * 1024 * 1024 })
    void lp.write(new Uint8Array(2 * 1024 * 1024)).catch(() => undefined)
    const m = await misbehaved
    expect(m.peer).toBe(attacker.peerId)
    expect(m.error).toBeInstanceOf(SyncLimitError)
    await expectDisconnected(victim, attacker)
  })

  it('a stream that never sends: time-boxed and disconnected', async () => {
    const { victim, attacker, misbehaved } = await setup()
    const started = Date.now()
    const m = await misbehaved
    expect(m.error).toBeInstanceOf(SyncProtocolError)
    expect(Date.now() - started).toBeLessThan(5000)
    await expectDisconnected(victim, attacker)
  })

  it('bogus ranges (bounds going backwards): disconnected', async () => {
    const { victim, attacker, stream, misbehaved } = await setup()
    const lp = lpStream(stream)
    const message = Buffer.from('61' + '0a0000' + '010000', 'hex') // ts 9 then ts 9 again: not increasing
    await lp.write(encodeFrame({ type: FrameType.Open, topic: T1, message }))
    expect((await misbehaved).peer).toBe(attacker.peerId)
    await expectDisconnected(victim, attacker)
  })

  it('an endless reconciliation: cut off after maxRounds', async () => {
    const { victim, attacker, stream, misbehaved } = await setup({ maxRounds: 5 })
    const lp = lpStream(stream)
    const fp = Buffer.from('61' + '000001' + '00'.repeat(16), 'hex') // one wrong fingerprint over everything
    await lp.write(encodeFrame({ type: FrameType.Open, topic: T1, message: fp }))
    let rounds = 0
    const loop = (async () => {
      try {
        for (;;) {
          await lp.read()
          rounds++
          await lp.write(encodeFrame({ type: FrameType.Reconcile, message: fp }))
        }
      } catch {
        // the victim cut the stream
      }
    })()
    const m = await misbehaved
    await loop
    expect(m.error).toBeInstanceOf(SyncLimitError)
    expect(rounds).toBeLessThanOrEqual(5)
    await expectDisconnected(victim, attacker)
  })

  it('more concurrent sessions than allowed from one peer: the extra one is refused as busy', async () => {
    const { victim, attacker, stream } = await setup({ maxInboundSessionsPerPeer: 1, frameTimeoutMs: 5000 })
    const first = lpStream(stream)
    await first.write(encodeFrame({ type: FrameType.Open, topic: T1, message: Uint8Array.of(0x61, 0, 0, 2, 0) }))
    expect(decodeFrame((await first.read()).subarray()).type).toBe(FrameType.Reconcile) // the first session is running
    const second = lpStream(await libp2pOf(attacker).dialProtocol(peerIdFromString(victim.peerId), SYNC_PROTOCOL))
    expect(decodeFrame((await second.read()).subarray())).toEqual({ type: FrameType.Reject, reason: RejectReason.Busy })
    expect(victim.peers()).toContain(attacker.peerId) // busy is not misbehaviour
  })

  it('a responder that sends envelopes not asked for: the initiator disconnects it', async () => {
    cluster = new Cluster()
    const hb = new Holder().serve(T1)
    const victim = await cluster.node()
    let report!: (x: { peer: string; error: Error }) => void
    const misbehaved = new Promise<{ peer: string; error: Error }>((r) => (report = r))
    const sync = createSyncService({ node: victim, ...hb.deps(), intervalMs: 0, syncOnConnect: false, onMisbehaviour: (peer, error) => report({ peer, error }) })
    await sync.start()
    services.push(sync)
    const evil = await cluster.node()
    const bogus = makeEnvelopes(1)[0]!
    const real = makeEnvelopes(1)[0]!
    await libp2pOf(evil).handle(SYNC_PROTOCOL, async (stream) => {
      const lp = lpStream(stream)
      await lp.read()
      // claim to hold `real` (an IdList of everything), then answer FETCH with `bogus`
      const msg = Buffer.concat([Buffer.from('6100000201', 'hex'), real.id])
      await lp.write(encodeFrame({ type: FrameType.Reconcile, message: msg }))
      await lp.read()
      await lp.write(encodeFrame({ type: FrameType.Sizes, sizes: [real.bytes.length] }))
      await lp.read()
      await lp.write(encodeFrame({ type: FrameType.Envelopes, envelopes: [{ id: bogus.id, bytes: bogus.bytes }] }))
    })
    await victim.dial(evil.addresses()[0]!)
    await expect(sync.syncTopic(evil.peerId, T1)).rejects.toBeInstanceOf(SyncProtocolError)
    expect((await misbehaved).peer).toBe(evil.peerId)
    expect(hb.ids(T1).size).toBe(0)
    expect(victim.peers()).not.toContain(evil.peerId)
    expect(hex(bogus.id)).not.toBe(hex(real.id))
  })
})
