// getRecord's settleMs: on a loaded machine a DHT query may run until its time limit although the record
// came in its first second. With settleMs the reader returns shortly after the first valid record instead.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { equalBytes, utf8 } from '../../src/crypto/primitives.js'
import type { SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { Cluster, makeTestRecord } from './helpers.js'

describe('node: getRecord with settleMs', () => {
  const cluster = new Cluster()
  let a: SottoNode
  let b: SottoNode
  const record = makeTestRecord(7, 1, utf8('a bundle'))

  beforeAll(async () => {
    a = await cluster.node()
    b = await cluster.node({ bootstrap: [a.addresses()[0]!] })
    await Promise.all([a.waitForDhtPeers(1), b.waitForDhtPeers(1)])
    expect(await a.putRecord(record.key, record.value)).toBeGreaterThan(0)
    // b's queries yield what kad-dht finds, then hang until their signal ends, as a query does whose last
    // peers do not answer in time.
    const dht = libp2pOf(b).services.dht as unknown as { get: (key: Uint8Array, options: { signal: AbortSignal }) => AsyncIterable<unknown> }
    const realGet = dht.get.bind(dht)
    dht.get = async function* (key, options) {
      yield* realGet(key, options)
      await new Promise((_, reject) => options.signal.addEventListener('abort', () => reject(options.signal.reason), { once: true }))
    }
  })
  afterAll(() => cluster.stopAll())

  it('without it the query runs to its time limit; with it, the record comes back soon after it arrived', async () => {
    let start = Date.now()
    const slow = await b.getRecord(record.key, { timeoutMs: 3_000 })
    expect(slow != null && equalBytes(slow, record.value)).toBe(true)
    expect(Date.now() - start).toBeGreaterThanOrEqual(2_900)

    start = Date.now()
    const fast = await b.getRecord(record.key, { timeoutMs: 3_000, settleMs: 100 })
    expect(fast != null && equalBytes(fast, record.value)).toBe(true)
    expect(Date.now() - start).toBeLessThan(2_500)
  })
})
