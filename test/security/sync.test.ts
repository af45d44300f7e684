// Attack 16: sync abuse against a real node's sync service (src/node/sync.ts) over TCP on 127.0.0.1. The
// attacker is a real libp2p node that opens raw streams on /sotto/sync/1.0.0 and writes what it likes.
import { peerIdFromString } from '@libp2p/peer-id'
import type { Stream } from '@libp2p/interface'
import { lpStream } from '@libp2p/utils'
import { afterEach, describe, expect, it } from 'vitest'
import type { SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { createSyncService, type SyncLimits, type SyncService } from '../../src/node/sync.js'
import { decodeFrame, encodeFrame, FrameType, RejectReason, SYNC_PROTOCOL, SyncLimitError, SyncProtocolError } from '../../src/protocol/sync/index.js'
import { Cluster } from '../node/helpers.js'
import { Holder, makeEnvelopes } from '../node/sync-helpers.js'

const TOPIC = `/sotto/1/c/${'33'.repeat(32)}`
/** A valid opening reconciliation message: one range up to infinity, in IdList mode, with no ids. */
const OPEN_MESSAGE = Uint8Array.of(0x61, 0x00, 0x00, 0x02, 0x00)

describe('attack 16: sync abuse', () => {
  let cluster: Cluster
  const services: SyncService[] = []

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await cluster.stopAll()
  })

  /** A victim serving TOPIC with 100 envelopes and short time boxes, and an attacker connected to it. */
  async function setup(limits: Partial<SyncLimits> = {}) {
    cluster = new Cluster()
    const victim = await cluster.node()
    const misbehaviour: Array<{ peer: string; error: Error }> = []
    let notify: () => void = () => undefined
    const misbehaved = new Promise<{ peer: string; error: Error }>((resolve) => {
      notify = () => resolve(misbehaviour[0]!)
    })
    const sync = createSyncService({
      node: victim,
      ...new Holder().serve(TOPIC, makeEnvelopes(100)).deps(),
      intervalMs: 0,
      syncOnConnect: false,
      limits: { frameTimeoutMs: 400, ...limits },
      onMisbehaviour: (peer, error) => {
        misbehaviour.push({ peer, error })
        notify()
      }
    })
    await sync.start()
    services.push(sync)
    const attacker = await cluster.node()
    // Streams go out only once the victim's end of the connection is up: until then its muxer holds the
    // streams that arrive, and libp2p aborts the whole connection past 10 of them (the 12 parallel opens
    // below, sent as soon as the attacker's end was ready, were all reset that way on a loaded machine).
    const accepted = victim.once('peer:connect', (p) => p.peerId === attacker.peerId, AbortSignal.timeout(10_000))
    await Promise.all([accepted, attacker.dial(victim.addresses()[0]!)])
    const open = async (): Promise<Stream> => libp2pOf(attacker).dialProtocol(peerIdFromString(victim.peerId), SYNC_PROTOCOL)
    return { victim, attacker, sync, open, misbehaved, misbehaviour }
  }

  const disconnected = (victim: SottoNode, attacker: SottoNode) => expect(victim.peers()).not.toContain(attacker.peerId)

  /** Reads frames until the stream ends; returns how many came and how long it took. */
  async function drain(lp: ReturnType<typeof lpStream>): Promise<{ frames: number; ms: number }> {
    const start = Date.now()
    let frames = 0
    try {
      for (;;) {
        await lp.read({ signal: AbortSignal.timeout(5_000) })
        frames++
      }
    } catch {
      // ended by the victim
    }
    return { frames, ms: Date.now() - start }
  }

  it('attack 16: an oversized frame is refused before it is read, and the peer is disconnected', async () => {
    // A long frame time box: the refusal comes from the length prefix, and a pause of the loaded machine must not
    // end the session as silence first.
    const { victim, attacker, open, misbehaved } = await setup({ maxFrameBytes: 64 * 1024, frameTimeoutMs: 10_000 })
    const lp = lpStream(await open(), { maxDataLength: 64 * 1024 * 1024 })
    const heapBefore = process.memoryUsage().heapUsed
    void lp.write(new Uint8Array(16 * 1024 * 1024)).catch(() => undefined)
    const m = await misbehaved
    expect(m.peer).toBe(attacker.peerId)
    expect(m.error).toBeInstanceOf(SyncLimitError)
    disconnected(victim, attacker)
    // The victim did not buffer the 16 MiB (generous margin for the attacker's own copy in this process).
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 * 1024 * 1024)
  })

  it('attack 16: a silent peer is time-boxed and disconnected; a slow one is cut off by the session time box', async () => {
    // Silent: opens a stream and never sends OPEN. That holds a session slot for nothing: misbehaviour.
    const first = await setup({ frameTimeoutMs: 300 })
    const silent = await drain(lpStream(await first.open()))
    expect(silent.ms).toBeLessThan(2_000)
    expect((await first.misbehaved).peer).toBe(first.attacker.peerId)
    disconnected(first.victim, first.attacker)
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await cluster.stopAll()
    // Slow but never quite silent: a valid frame just inside each frame time box, forever.
    const { sync, open } = await setup({ frameTimeoutMs: 300, sessionTimeoutMs: 1_500, maxRounds: 1_000 })
    const lp = lpStream(await open())
    const fp = Uint8Array.of(0x61, 0x00, 0x00, 0x01, ...new Uint8Array(16))
    await lp.write(encodeFrame({ type: FrameType.Open, topic: TOPIC, message: fp }))
    const started = Date.now()
    let rounds = 0
    try {
      for (;;) {
        await lp.read({ signal: AbortSignal.timeout(3_000) })
        rounds++
        await new Promise((r) => setTimeout(r, 200))
        await lp.write(encodeFrame({ type: FrameType.Reconcile, message: fp }))
      }
    } catch {
      // the victim ended the session
    }
    expect(Date.now() - started).toBeLessThan(3_000)
    expect(rounds).toBeGreaterThan(2)
    await expect.poll(() => sync.progress().activeSessions, { timeout: 2_000 }).toBe(0)
  })

  it('attack 16: an endless reconciliation is cut off after maxRounds and the peer disconnected', async () => {
    const { victim, attacker, open, misbehaved } = await setup({ maxRounds: 6, frameTimeoutMs: 2_000 })
    const lp = lpStream(await open())
    const fp = Uint8Array.of(0x61, 0x00, 0x00, 0x01, ...new Uint8Array(16)) // one wrong fingerprint over everything
    await lp.write(encodeFrame({ type: FrameType.Open, topic: TOPIC, message: fp }))
    let rounds = 0
    const loop = (async () => {
      try {
        for (;;) {
          await lp.read()
          rounds++
          await lp.write(encodeFrame({ type: FrameType.Reconcile, message: fp }))
        }
      } catch {
        // cut off
      }
    })()
    expect((await misbehaved).error).toBeInstanceOf(SyncLimitError)
    await loop
    expect(rounds).toBeLessThanOrEqual(6)
    disconnected(victim, attacker)
  })

  it('attack 16: enormous ranges, bogus ranges and huge id requests are bounded and the peer disconnected', async () => {
    // More ranges than allowed in one message (each 3 bytes: a bound one timestamp further, no id, Skip).
    const many = new Uint8Array(1 + 3 * 5_000)
    many[0] = 0x61
    for (let i = 0; i < 5_000; i++) many.set([0x02, 0x00, 0x00], 1 + 3 * i)
    // Bounds going backwards; and a WANT of more ids than a session may ask for.
    const backwards = Uint8Array.of(0x61, 0x0a, 0x00, 0x00, 0x01, 0x00, 0x00)
    const want = encodeFrame({ type: FrameType.Want, ids: Array.from({ length: 64 }, (_, i) => new Uint8Array(32).fill(i)) })
    const cases: Array<[string, Uint8Array[]]> = [
      ['too many ranges', [encodeFrame({ type: FrameType.Open, topic: TOPIC, message: many })]],
      ['bounds going backwards', [encodeFrame({ type: FrameType.Open, topic: TOPIC, message: backwards })]],
      ['too many ids asked for', [encodeFrame({ type: FrameType.Open, topic: TOPIC, message: OPEN_MESSAGE }), want]]
    ]
    for (const [what, frames] of cases) {
      // A long frame time box, as above: the frames are sent at once and must be judged, not timed out.
      const { victim, attacker, open, misbehaved } = await setup({ maxEnvelopesPerSession: 50, frameTimeoutMs: 10_000 })
      const lp = lpStream(await open())
      for (const f of frames) await lp.write(f).catch(() => undefined)
      const m = await misbehaved
      expect(m.error, what).toBeInstanceOf(SyncProtocolError)
      disconnected(victim, attacker)
      await Promise.all(services.splice(0).map((s) => s.stop()))
      await cluster.stopAll()
    }
  })

  it('attack 16: many parallel sessions from one peer are refused as busy, and the node keeps serving others', async () => {
    const { victim, open } = await setup({ maxInboundSessionsPerPeer: 2, frameTimeoutMs: 5_000 })
    const streams = await Promise.all(Array.from({ length: 12 }, () => open().catch(() => undefined)))
    const replies = await Promise.all(
      streams.map(async (s) => {
        if (s === undefined) return undefined
        const lp = lpStream(s)
        await lp.write(encodeFrame({ type: FrameType.Open, topic: TOPIC, message: OPEN_MESSAGE })).catch(() => undefined)
        try {
          return decodeFrame((await lp.read({ signal: AbortSignal.timeout(3_000) })).subarray())
        } catch {
          return undefined
        }
      })
    )
    const busy = replies.filter((f) => f?.type === FrameType.Reject && f.reason === RejectReason.Busy).length
    const served = replies.filter((f) => f?.type === FrameType.Reconcile).length
    // Beyond the per-peer bound a session is refused as busy, or its stream is reset by the muxer's
    // inbound stream limit before the service sees it; never served.
    const reset = replies.filter((f) => f === undefined).length
    expect(served).toBeLessThanOrEqual(2)
    expect(busy).toBeGreaterThan(0)
    expect(served + busy + reset).toBe(12)
    // An honest peer syncs the whole topic meanwhile.
    const honestHolder = new Holder().serve(TOPIC)
    const honest = await cluster.node()
    const honestSync = createSyncService({ node: honest, ...honestHolder.deps(), intervalMs: 0, syncOnConnect: false })
    await honestSync.start()
    services.push(honestSync)
    await honest.dial(victim.addresses()[0]!)
    const result = await honestSync.syncTopic(victim.peerId, TOPIC)
    expect(result.status).toBe('complete')
    expect(honestHolder.ids(TOPIC).size).toBe(100)
  })
})
