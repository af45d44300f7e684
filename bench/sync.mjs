// Sync benchmark (issue 6): bytes and time to reconcile and transfer what one side lacks, for 10 missing of
// 10,000 and 10,000 missing of 10,000, against sending the whole history (every id and every envelope).
// Runs against the built dist/ (`npm run bench:sync`). Writes bench/results/sync.json and the "Sync" section
// of docs/BENCHMARKS.md (only that section).
import '../dist/polyfill.js'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { performance } from 'node:perf_hooks'
import { createSottoNode } from '../dist/node/index.js'
import { createSyncService } from '../dist/node/sync.js'
import { MemorySyncItemSource, Reconciler } from '../dist/protocol/sync/index.js'

const N = Number(process.env.BENCH_SYNC_ITEMS ?? 10_000)
const ENVELOPE_BYTES = 1024 // a common envelope padding bucket (PROTOCOL.md §11.3)
const RUNS = Number(process.env.BENCH_SYNC_RUNS ?? 5)
const TOPIC = '/sotto/1/c/' + 'ab'.repeat(32)
const hex = (b) => Buffer.from(b).toString('hex')

function makeEnvelopes(n) {
  const out = []
  for (let i = 0; i < n; i++) {
    const bytes = new Uint8Array(randomBytes(ENVELOPE_BYTES))
    // whole-second timestamps, several envelopes per second, as envelope timestamps are (§11.2)
    out.push({ id: new Uint8Array(createHash('sha256').update(bytes).digest()), timestamp: 1_700_000_000_000 + Math.floor(i / 3) * 1000, bytes })
  }
  return out
}

// Envelope id -> timestamp (the real onEnvelope reads it from the decoded envelope).
const timestamps = new Map()

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

/** Reconciliation only, in one process: bytes of all messages both ways, round trips, time. */
async function reconcileOnly(initiatorItems, responderItems) {
  const times = []
  let stats
  for (let r = 0; r < RUNS; r++) {
    const a = new MemorySyncItemSource(initiatorItems)
    const b = new MemorySyncItemSource(responderItems)
    const t0 = performance.now()
    const ini = new Reconciler(a)
    const res = new Reconciler(b)
    let up = 0
    let down = 0
    let rounds = 0
    let need = 0
    let have = 0
    let msg = await ini.initiate()
    while (msg !== undefined) {
      up += msg.length
      rounds++
      const reply = (await res.reconcile(msg)).reply
      down += reply.length
      const step = await ini.reconcile(reply)
      need += step.needIds.length
      have += step.haveIds.length
      msg = step.reply
    }
    times.push(performance.now() - t0)
    stats = { bytesUp: up, bytesDown: down, bytes: up + down, roundTrips: rounds, need, have }
  }
  return { ...stats, ms: Number(median(times).toFixed(2)) }
}

/** A node with an in-memory envelope holder and the sync service. */
async function syncNode(envelopes) {
  const source = new MemorySyncItemSource()
  const byId = new Map()
  const put = (e) => {
    if (byId.has(hex(e.id))) return false
    byId.set(hex(e.id), e)
    source.add({ timestamp: e.timestamp, id: e.id })
    return true
  }
  for (const e of envelopes) put(e)
  const node = await createSottoNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
  await node.start()
  const sync = createSyncService({
    node,
    intervalMs: 0,
    syncOnConnect: false,
    topics: () => [TOPIC],
    source: () => source,
    getEnvelope: async (_t, id) => byId.get(hex(id))?.bytes,
    onEnvelope: async (_t, id, bytes) => put({ id, bytes, timestamp: timestamps.get(hex(id)) })
  })
  await sync.start()
  return { node, sync, byId }
}

/** A full session over TCP on 127.0.0.1 between two real nodes: frame bytes both ways and wall time. */
async function overNetwork(initiatorEnvelopes, responderEnvelopes) {
  const a = await syncNode(initiatorEnvelopes)
  const b = await syncNode(responderEnvelopes)
  try {
    await a.node.dial(b.node.addresses()[0])
    const t0 = performance.now()
    const r = await a.sync.syncTopic(b.node.peerId, TOPIC)
    const ms = performance.now() - t0
    if (a.byId.size !== b.byId.size) throw new Error('sync did not complete')
    return {
      ms: Number(ms.toFixed(1)),
      reconcileBytes: r.reconcileBytes,
      rounds: r.rounds,
      fetched: r.fetched,
      pushed: r.pushed,
      bytes: r.bytesSent + r.bytesReceived
    }
  } finally {
    await a.sync.stop()
    await b.sync.stop()
    await a.node.stop()
    await b.node.stop()
  }
}

const all = makeEnvelopes(N)
for (const e of all) timestamps.set(hex(e.id), e.timestamp)
const items = all.map((e) => ({ timestamp: e.timestamp, id: e.id }))
const missing = new Set(Array.from({ length: 10 }, (_, k) => Math.floor(((k + 0.5) * N) / 10)))
const allIdsBytes = N * 32
const wholeHistoryBytes = N * (32 + ENVELOPE_BYTES)

const cases = {
  missing10: {
    label: `10 missing of ${N.toLocaleString('en')}`,
    reconcile: await reconcileOnly(
      items.filter((_, i) => !missing.has(i)),
      items
    ),
    network: await overNetwork(
      all.filter((_, i) => !missing.has(i)),
      all
    )
  },
  missingAll: {
    label: `${N.toLocaleString('en')} missing of ${N.toLocaleString('en')}`,
    reconcile: await reconcileOnly([], items),
    network: await overNetwork([], all)
  }
}

const result = {
  date: new Date().toISOString(),
  node: process.version,
  machine: { cpus: cpus().length, cpu: cpus()[0]?.model, memGiB: Math.round(totalmem() / 2 ** 30), load1: loadavg()[0] },
  items: N,
  envelopeBytes: ENVELOPE_BYTES,
  runs: RUNS,
  baseline: { allIdsBytes, wholeHistoryBytes },
  cases
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true })
writeFileSync(new URL('./results/sync.json', import.meta.url), JSON.stringify(result, null, 2) + '\n')

const fmt = (n) => n.toLocaleString('en')
const pct = (a, b) => `${((100 * a) / b).toFixed(2)} %`
const m = cases.missing10
const x = cases.missingAll
const section = `## Sync

\`npm run bench:sync\` (bench/sync.mjs, against dist/; raw numbers in bench/results/sync.json).
Machine: ${result.machine.cpu} (${result.machine.cpus} cores), ${result.machine.memGiB} GiB RAM; Node ${process.version}; ${result.date.slice(0, 10)}.
1-minute load average at the end of the run: ${result.machine.load1.toFixed(2)} (the machine is shared, so times are conservative).
Sets of ${fmt(N)} envelopes of ${fmt(ENVELOPE_BYTES)} bytes, timestamps in whole seconds (3 per second). "Whole history"
means sending every id and every envelope: ${fmt(allIdsBytes)} bytes of ids, ${fmt(wholeHistoryBytes)} bytes with the envelopes.

Reconciliation alone (PROTOCOL.md §15.6, in one process, in-memory sets, median of ${RUNS} runs; bytes of all
messages in both directions):

| case | bytes | vs all ids | round trips | time |
| --- | --- | --- | --- | --- |
| ${m.label} | ${fmt(m.reconcile.bytes)} | ${pct(m.reconcile.bytes, allIdsBytes)} | ${m.reconcile.roundTrips} | ${m.reconcile.ms} ms |
| ${x.label} | ${fmt(x.reconcile.bytes)} | ${pct(x.reconcile.bytes, allIdsBytes)} | ${x.reconcile.roundTrips} | ${x.reconcile.ms} ms |

A whole session between two real nodes over TCP on 127.0.0.1 (reconciliation, WANT/SIZES, FETCH/ENVELOPES;
bytes of all §15.7 frames both ways, without the length prefixes, yamux and Noise overhead):

| case | reconciliation bytes | session bytes | vs whole history | envelopes fetched | time |
| --- | --- | --- | --- | --- | --- |
| ${m.label} | ${fmt(m.network.reconcileBytes)} | ${fmt(m.network.bytes)} | ${pct(m.network.bytes, wholeHistoryBytes)} | ${fmt(m.network.fetched)} | ${m.network.ms} ms |
| ${x.label} | ${fmt(x.network.reconcileBytes)} | ${fmt(x.network.bytes)} | ${pct(x.network.bytes, wholeHistoryBytes)} | ${fmt(x.network.fetched)} | ${x.network.ms} ms |

With 10 missing, the session costs a few kilobytes on top of the 10 envelopes themselves; when everything is
missing it costs the whole history plus about 136 bytes per envelope (its id in the responder's IdList, in WANT,
in FETCH and in ENVELOPES, its size in SIZES and its length in ENVELOPES), which buys exact progress figures.
`

const docPath = new URL('../docs/BENCHMARKS.md', import.meta.url)
let doc = existsSync(docPath) ? readFileSync(docPath, 'utf8') : '# Benchmarks\n\nMeasured by the scripts in bench/; each section is written by its script.\n'
const start = doc.indexOf('\n## Sync\n')
if (start >= 0) {
  const next = doc.indexOf('\n## ', start + 1)
  doc = doc.slice(0, start + 1) + section + (next >= 0 ? doc.slice(next) : '')
} else {
  doc = doc.trimEnd() + '\n\n' + section
}
writeFileSync(docPath, doc)
console.log(JSON.stringify(result, null, 2))
process.exit(0)
