// What the sync service keeps in memory (found by the soak benchmark): its abort signals leave nothing behind
// on long-lived signals (the service's stop signal gained a reference per session with AbortSignal.any), and
// sessions of one topic that run at once share one snapshot of its items instead of reading one each.
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createSyncService, LinkedSignal, type SyncService } from '../../src/node/sync.js'
import { Cluster } from './helpers.js'
import { Holder, makeEnvelopes } from './sync-helpers.js'

const T1 = '/sotto/1/c/' + '33'.repeat(32)
const hexIds = (h: Holder): string[] => [...h.ids(T1)].sort()

/** Signals that Node's AbortSignal.any attached to `signal` (its kDependantSignals set), 0 when none. */
function dependants(signal: AbortSignal): number {
  const sym = Object.getOwnPropertySymbols(signal).find((s) => s.description === 'kDependantSignals')
  const set = sym === undefined ? undefined : (signal as unknown as Record<symbol, Set<unknown> | undefined>)[sym]
  return set?.size ?? 0
}

describe('LinkedSignal', () => {
  it('follows a source and leaves no listener or reference on it after dispose, however many are made', () => {
    const source = new AbortController()
    for (let i = 0; i < 10_000; i++) {
      const linked = new LinkedSignal([source.signal, undefined, source.signal], 60_000)
      expect(linked.linkedSources).toBe(1)
      linked.dispose()
      expect(linked.linkedSources).toBe(0)
    }
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0)
    expect(dependants(source.signal)).toBe(0)
    const live = new LinkedSignal([source.signal])
    source.abort(new Error('stop'))
    expect(live.signal.aborted).toBe(true)
    expect((live.signal.reason as Error).message).toBe('stop')
    expect(live.timedOut).toBe(false)
    expect(live.linkedSources).toBe(0)
  })

  it('times out (timedOut true) and detaches; an already aborted source aborts it at once', async () => {
    const source = new AbortController()
    const linked = new LinkedSignal([source.signal], 5)
    await new Promise((resolve) => linked.signal.addEventListener('abort', resolve, { once: true }))
    expect(linked.timedOut).toBe(true)
    expect((linked.signal.reason as DOMException).name).toBe('TimeoutError')
    expect(getEventListeners(source.signal, 'abort')).toHaveLength(0)
    const early = new LinkedSignal([AbortSignal.abort(new Error('gone'))], 1000)
    expect(early.signal.aborted).toBe(true)
    expect(early.linkedSources).toBe(0)
  })
})

describe('sync sessions and long-lived signals', () => {
  let cluster: Cluster
  const services: SyncService[] = []

  afterEach(async () => {
    await Promise.all(services.splice(0).map((s) => s.stop()))
    await cluster.stopAll()
  })

  it('30 sessions with one caller signal leave no listener or dependant signal on it', async () => {
    cluster = new Cluster()
    const shared = makeEnvelopes(50)
    const ha = new Holder().serve(T1, shared)
    const hb = new Holder().serve(T1, shared.slice(0, 40))
    const a = await cluster.node()
    const b = await cluster.node()
    for (const [node, holder] of [
      [a, ha],
      [b, hb]
    ] as const) {
      const sync = createSyncService({ node, ...holder.deps(), intervalMs: 0, syncOnConnect: false })
      await sync.start()
      services.push(sync)
    }
    await b.dial(a.addresses()[0]!)
    const caller = new AbortController()
    const results = []
    for (let i = 0; i < 30; i++) results.push(await services[1]!.syncTopic(a.peerId, T1, caller.signal))
    expect(results.every((r) => r.status === 'complete')).toBe(true)
    expect(results[0]!.needCount).toBe(10)
    expect(hb.ids(T1).size).toBe(50)
    expect(getEventListeners(caller.signal, 'abort')).toHaveLength(0)
    expect(dependants(caller.signal)).toBe(0)
  })

  it('sessions of a topic that run at once read its items once; a later session reads them again', async () => {
    cluster = new Cluster()
    const shared = makeEnvelopes(30)
    const onlyB = makeEnvelopes(5, 600, 1_800_000_000_000)
    const onlyC = makeEnvelopes(6, 600, 1_900_000_000_000)
    const ha = new Holder().serve(T1, shared)
    const hb = new Holder().serve(T1, [...shared, ...onlyB])
    const hc = new Holder().serve(T1, [...shared, ...onlyC])
    let reads = 0
    // "At once": B and C answer nothing until both have been opened by A, and A takes its snapshot before it opens
    // a session. So neither of A's sessions can get through reconciliation (and release the shared snapshot) before
    // the other holds it. Without this gate a loaded machine could finish one session before the other opened, and
    // that one would rightly read again.
    let served = 0
    let bothOpen!: () => void
    const opened = new Promise<void>((resolve) => {
      bothOpen = resolve
    })
    const [a, b, c] = [await cluster.node(), await cluster.node(), await cluster.node()]
    for (const [node, holder] of [
      [a, ha],
      [b, hb],
      [c, hc]
    ] as const) {
      const deps = holder.deps()
      const source =
        node === a
          ? (topic: string) => {
              reads++
              return deps.source(topic)
            }
          : async (topic: string) => {
              if (++served === 2) bothOpen()
              await opened
              return deps.source(topic)
            }
      const sync = createSyncService({ node, ...deps, source, intervalMs: 0, syncOnConnect: false })
      await sync.start()
      services.push(sync)
    }
    await a.dial(b.addresses()[0]!)
    await a.dial(c.addresses()[0]!)
    const [withB, withC] = await Promise.all([services[0]!.syncTopic(b.peerId, T1), services[0]!.syncTopic(c.peerId, T1)])
    expect(reads).toBe(1)
    expect([withB.status, withB.needCount, withB.haveCount]).toEqual(['complete', 5, 0])
    expect([withC.status, withC.needCount, withC.haveCount]).toEqual(['complete', 6, 0])
    expect(ha.ids(T1).size).toBe(41)
    // the next session reads again, and so sees what the first two stored: B gets C's envelopes
    const again = await services[0]!.syncTopic(b.peerId, T1)
    expect(reads).toBe(2)
    expect([again.needCount, again.haveCount, again.pushed]).toEqual([0, 6, 6])
    expect(hexIds(hb)).toEqual(hexIds(ha))
  })
})
