// Weight benchmark (issue 9, item 6, first half): resident and heap memory per idle node with 20 sotto users
// (dist/app openSotto, test-only Argon2id limits, mDNS off, one bootstrap node) in one process, measured after
// a forced GC (run with --expose-gc; bench/run.mjs does). Writes bench/results/weight.json.
import '../dist/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initSotto, openSotto } from '../dist/app/index.js'
import { TEST_ARGON2 } from '../dist/crypto/atrest.js'
import { machine, QUICK, writeResult } from './lib.mjs'

const N = Number(process.env.BENCH_WEIGHT_NODES ?? 20)
const IDLE_MS = Number(process.env.BENCH_WEIGHT_IDLE_MS ?? (QUICK ? 3000 : 20_000))
const MiB = 2 ** 20
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function sample() {
  for (let i = 0; i < 3; i++) {
    globalThis.gc?.()
    await sleep(50)
  }
  const m = process.memoryUsage()
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers }
}

if (globalThis.gc === undefined) console.warn('run with --expose-gc for heap figures after GC')
const homes = []
const users = []
try {
  const before = await sample()
  for (let i = 0; i < N; i++) {
    const home = await mkdtemp(join(tmpdir(), 'sotto-bench-weight-'))
    homes.push(home)
    await initSotto({ home, passphrase: 'benchmark', name: `w${i}`, argon2: TEST_ARGON2 })
    users.push(
      await openSotto({
        home,
        passphrase: 'benchmark',
        argon2: TEST_ARGON2,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i === 0 ? [] : users[0].node.addresses(),
        mdns: false
      })
    )
  }
  await sleep(IDLE_MS)
  const after = await sample()
  const per = (k) => Math.round(((after[k] - before[k]) / N / MiB) * 100) / 100
  const result = {
    machine: machine(),
    nodes: N,
    idleMs: IDLE_MS,
    gcForced: globalThis.gc !== undefined,
    processBeforeMiB: Object.fromEntries(Object.entries(before).map(([k, v]) => [k, Math.round((v / MiB) * 10) / 10])),
    processAfterMiB: Object.fromEntries(Object.entries(after).map(([k, v]) => [k, Math.round((v / MiB) * 10) / 10])),
    perNodeMiB: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external') },
    connectionsMedian: users.map((u) => u.node.peers().length).sort((a, b) => a - b)[Math.floor(N / 2)]
  }
  console.log(JSON.stringify(result, null, 2))
  writeResult('weight', result)
} finally {
  await Promise.all(users.map((u) => u.stop().catch(() => {})))
  await Promise.all(homes.map((d) => rm(d, { recursive: true, force: true })))
}
process.exit(0)
