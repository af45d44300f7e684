// Soak (issue 9, item 6, second half): 10 busy sotto users in one community in one process for 10 minutes
// (SOAK_SECONDS or --seconds=N to change; --quick: 30 s), every user sending a message every interval; the
// V8 heap after forced GC is sampled and its growth from the end of the warm-up to the end reported (bar:
// under 10 %). Needs --expose-gc (`npm run soak` passes it). Writes bench/results/soak.json and the Weight
// section of docs/BENCHMARKS.md. SOAK_SNAPSHOTS=<dir> also writes V8 heap snapshots there after the warm-up
// (warm.heapsnapshot), half-way (mid.heapsnapshot) and at the end (end.heapsnapshot), for bench/heapdiff.mjs
// (mid to end shows steady growth, past caches that fill for their time to live); such a run is not written
// to the results (a snapshot pauses the process for seconds).
import '../dist/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { writeHeapSnapshot } from 'node:v8'
import { initSotto, openSotto } from '../dist/app/index.js'
import { TEST_ARGON2 } from '../dist/crypto/atrest.js'
import { machine, QUICK, round, trend, writeResult } from './lib.mjs'
import { report } from './report.mjs'

if (globalThis.gc === undefined) {
  console.error('run with node --expose-gc (npm run soak does)')
  process.exit(2)
}
const arg = process.argv.find((a) => a.startsWith('--seconds='))
const SECONDS = Number(arg?.slice(10) ?? process.env.SOAK_SECONDS ?? (QUICK ? 30 : 600))
const N = Number(process.env.SOAK_NODES ?? 10)
const INTERVAL_MS = Number(process.env.SOAK_INTERVAL_MS ?? 1000)
const WARMUP_SECONDS = Math.min(60, Math.round(SECONDS / 5))
const SAMPLE_SECONDS = Math.max(5, Math.round(SECONDS / 60))
const TEXT_BYTES = 200
const SNAPSHOTS = process.env.SOAK_SNAPSHOTS ? resolve(process.env.SOAK_SNAPSHOTS) : undefined
const MiB = 2 ** 20
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

/** Writes a heap snapshot (after the GCs of heap()) when SOAK_SNAPSHOTS is set. */
function snapshot(name) {
  if (SNAPSHOTS === undefined) return
  const file = writeHeapSnapshot(join(SNAPSHOTS, `${name}.heapsnapshot`))
  console.log(`wrote ${file}`)
}

/**
 * The V8 heap right after a forced full GC: two GCs 20 ms apart let finalizers and weak callbacks run, and the
 * reading follows a third synchronously. Read 20 ms after the last GC instead (this script until 2026-11-26),
 * it also counted what the ten busy nodes allocated in those 20 ms, 2 to 14 MiB of garbage that grew with the
 * history; that reading is still recorded, as `heapUsed20msLaterMiB`, with its own trend.
 */
async function heap() {
  for (let i = 0; i < 2; i++) {
    globalThis.gc()
    await sleep(20)
  }
  globalThis.gc()
  const m = process.memoryUsage()
  await sleep(20)
  return { heapUsed: m.heapUsed, rss: m.rss, external: m.external, heapUsedLater: process.memoryUsage().heapUsed }
}

const homes = []
const users = []
try {
  for (let i = 0; i < N; i++) {
    const home = await mkdtemp(join(tmpdir(), 'sotto-soak-'))
    homes.push(home)
    await initSotto({ home, passphrase: 'soak', name: `s${i}`, argon2: TEST_ARGON2 })
    users.push(
      await openSotto({
        home,
        passphrase: 'soak',
        argon2: TEST_ARGON2,
        listen: ['/ip4/127.0.0.1/tcp/0'],
        bootstrap: i === 0 ? [] : users[0].node.addresses(),
        mdns: false
      })
    )
  }
  await users[0].communityCreate('soak')
  const invite = await users[0].communityInvite('soak')
  for (const u of users.slice(1)) await u.communityJoin(invite)
  const end = Date.now() + 60_000
  while ((await users[0].communityMembers('soak')).length < N) {
    if (Date.now() > end) throw new Error('community did not form')
    await sleep(200)
  }
  let deliveries = 0
  for (const u of users) u.subscribe((m) => m.conversation === '#soak' && m.status === 'received' && deliveries++)

  let sent = 0
  let failures = 0
  let running = true
  const senders = users.map(async (u, i) => {
    await sleep((INTERVAL_MS * i) / N)
    while (running) {
      const t = Date.now()
      await u
        .send('#soak', `soak ${u.name} ${sent}`.padEnd(TEXT_BYTES, '.'))
        .then(() => sent++)
        .catch(() => failures++)
      await sleep(Math.max(0, INTERVAL_MS - (Date.now() - t)))
    }
  })

  const t0 = Date.now()
  const samples = []
  let warm
  let mid
  while (Date.now() - t0 < SECONDS * 1000) {
    await sleep(SAMPLE_SECONDS * 1000)
    const h = await heap()
    const at = Math.round((Date.now() - t0) / 1000)
    samples.push({
      at,
      heapUsedMiB: round(h.heapUsed / MiB, 1),
      heapUsed20msLaterMiB: round(h.heapUsedLater / MiB, 1),
      rssMiB: round(h.rss / MiB, 1),
      externalMiB: round(h.external / MiB, 1)
    })
    console.log(`${at} s: heap ${samples.at(-1).heapUsedMiB} MiB, rss ${samples.at(-1).rssMiB} MiB, sent ${sent}, stored ${deliveries}`)
    if (warm === undefined && at >= WARMUP_SECONDS) {
      warm = samples[samples.length - 1]
      snapshot('warm')
    } else if (warm !== undefined && mid === undefined && at >= (WARMUP_SECONDS + SECONDS) / 2) {
      mid = samples[samples.length - 1]
      snapshot('mid')
    }
  }
  if (SNAPSHOTS !== undefined) {
    await heap()
    snapshot('end')
  }
  running = false
  await Promise.all(senders)
  const last = samples[samples.length - 1]
  warm ??= samples[0]
  const result = {
    machine: machine(),
    nodes: N,
    seconds: SECONDS,
    intervalMs: INTERVAL_MS,
    textBytes: TEXT_BYTES,
    warmupSeconds: WARMUP_SECONDS,
    sampleSeconds: SAMPLE_SECONDS,
    messagesSent: sent,
    sendFailures: failures,
    deliveries,
    heapAfterWarmupMiB: warm.heapUsedMiB,
    heapEndMiB: last.heapUsedMiB,
    heapMaxMiB: Math.max(...samples.map((s) => s.heapUsedMiB)),
    rssEndMiB: last.rssMiB,
    growthPercent: round((100 * (last.heapUsedMiB - warm.heapUsedMiB)) / warm.heapUsedMiB, 1),
    ...trend(samples, WARMUP_SECONDS),
    heap20msLater: (({ heapFirstQuarterMedianMiB, heapLastQuarterMedianMiB, trendGrowthPercent, heapSlopeMiBPerMinute }) => ({
      heapFirstQuarterMedianMiB,
      heapLastQuarterMedianMiB,
      trendGrowthPercent,
      heapSlopeMiBPerMinute
    }))(trend(samples.map((x) => ({ ...x, heapUsedMiB: x.heapUsed20msLaterMiB })), WARMUP_SECONDS)),
    samples
  }
  if (SNAPSHOTS === undefined) {
    writeResult('soak', result)
    report()
  }
  console.log(`heap growth ${result.growthPercent} % (${warm.heapUsedMiB} -> ${last.heapUsedMiB} MiB); ${SNAPSHOTS === undefined ? 'wrote bench/results/soak.json' : 'snapshot run, results not written'}`)
} finally {
  await Promise.all(users.map((u) => u.stop().catch(() => {})))
  await Promise.all(homes.map((d) => rm(d, { recursive: true, force: true })))
}
process.exit(0)
