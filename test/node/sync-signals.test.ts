// The sync service's abort signals leave nothing behind on long-lived signals (the soak benchmark found the
// service's stop signal gaining a reference per session with AbortSignal.any): LinkedSignal alone, and the
// caller's signal after many sessions between real nodes.
import { getEventListeners } from 'node:events'
import { afterEach, describe, expect, it } from 'vitest'
import { createSyncService, LinkedSignal, type SyncService } from '../../src/node/sync.js'
import { Cluster } from './helpers.js'
import { Holder, makeEnvelopes } from './sync-helpers.js'

const T1 = '/sotto/1/c/' + '33'.repeat(32)

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
})
