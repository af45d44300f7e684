// Measurement (run with MEASURE=1): gossipsub floodPublish on vs off in a 10-node community on loopback,
// fully connected. Reports how many peers the author sends each message to (what an observer next to the
// author learns) and the publish -> last delivery latency. Skipped in normal test runs.
import { describe, expect, it } from 'vitest'
import { concatBytes, randomBytes, toHex } from '../../src/crypto/primitives.js'
import { messageId, type SottoNode } from '../../src/node/index.js'
import { Cluster } from './helpers.js'

const N = 10
const MESSAGES = 100
const TOPIC = 'sotto-measure'

async function measure(floodPublish: boolean): Promise<{ recipients: number; p50: number; p99: number }> {
  const cluster = new Cluster()
  try {
    const nodes: SottoNode[] = []
    for (let i = 0; i < N; i++) nodes.push(await cluster.node({ floodPublish }))
    for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) await nodes[i].dial(nodes[j].addresses()[0])
    for (const n of nodes) n.subscribe(TOPIC)
    await Promise.all(nodes.map((n) => n.waitForTopicPeers(TOPIC, N - 1, AbortSignal.timeout(20_000))))
    // Let two heartbeats build the mesh, as in a running community.
    await nodes[0].once('message', () => false, AbortSignal.timeout(2500)).catch(() => undefined)
    const latencies: number[] = []
    let recipients = 0
    for (let m = 0; m < MESSAGES; m++) {
      const author = nodes[m % N]
      const data = concatBytes(randomBytes(200))
      const id = toHex(messageId(TOPIC, data))
      const others = nodes.filter((n) => n !== author)
      const t0 = performance.now()
      const arrivals = Promise.all(others.map((n) => n.once('message', (x) => x.id === id, AbortSignal.timeout(10_000))))
      recipients += (await author.publish(TOPIC, data)).recipients
      await arrivals
      latencies.push(performance.now() - t0)
    }
    latencies.sort((a, b) => a - b)
    return {
      recipients: recipients / MESSAGES,
      p50: latencies[Math.floor(MESSAGES * 0.5)],
      p99: latencies[Math.floor(MESSAGES * 0.99)]
    }
  } finally {
    await cluster.stopAll()
  }
}

describe.skipIf(process.env.MEASURE !== '1')('measure: floodPublish', () => {
  it('on vs off, 10 nodes', { timeout: 120_000 }, async () => {
    const on = await measure(true)
    const off = await measure(false)
    console.log(JSON.stringify({ nodes: N, messages: MESSAGES, floodPublishOn: on, floodPublishOff: off }))
    expect(off.recipients).toBeLessThanOrEqual(on.recipients)
  })
})
