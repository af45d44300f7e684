// Store benchmark (issue 4): messages stored per second with their state batch (message + session state +
// seen id, one atomic LevelDB batch each), and the time to read the last 50 messages of a conversation holding
// 100,000. Runs against the built dist/ (`npm run bench:store`). Writes bench/results/store.json and the
// "Store" section of docs/BENCHMARKS.md (only that section).
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { openLevelStore } from '../dist/store/index.js'

// Argon2id only runs when the store opens, which is not measured; the test-only minimum keeps set-up short.
const ARGON2 = { opsLimit: 1, memLimit: 8192 }
const BATCHES = Number(process.env.BENCH_BATCHES ?? 20_000)
const HISTORY = Number(process.env.BENCH_HISTORY ?? 100_000)
const READS = 200

const home = mkdtempSync(join(tmpdir(), 'sotto-bench-store-'))
const text = (n) => `benchmark message ${n} `.padEnd(160, 'x')
const sessionState = randomBytes(1200) // about the size of a ratchet state with a few skipped keys

function message(conversation, i) {
  return {
    id: `${conversation}-${i}`,
    conversation,
    direction: 'in',
    sender: 'ab'.repeat(32),
    text: text(i),
    sentAt: 1_700_000_000_000 + i,
    receivedAt: 1_700_000_000_000 + i,
    status: 'received'
  }
}

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function benchWrites() {
  const store = await openLevelStore(join(home, 'writes'), 'bench', { create: true, argon2: ARGON2 })
  const latencies = []
  const seen = new Uint8Array(32)
  const t0 = performance.now()
  for (let i = 0; i < BATCHES; i++) {
    new DataView(seen.buffer).setUint32(0, i)
    const s = performance.now()
    await store.batch().putMessage(message('peer', i)).setSession('peer', sessionState).markSeen('peer', seen).commit()
    latencies.push(performance.now() - s)
  }
  const elapsed = (performance.now() - t0) / 1000
  await store.close()
  latencies.sort((a, b) => a - b)
  return {
    batches: BATCHES,
    seconds: Number(elapsed.toFixed(3)),
    messagesPerSecond: Math.round(BATCHES / elapsed),
    commitP50Ms: Number(percentile(latencies, 50).toFixed(3)),
    commitP99Ms: Number(percentile(latencies, 99).toFixed(3))
  }
}

async function benchEnvelopes() {
  const store = await openLevelStore(join(home, 'envelopes'), 'bench', { create: true, argon2: ARGON2 })
  const topic = randomBytes(32)
  const body = randomBytes(1024)
  const n = 20_000
  const t0 = performance.now()
  for (let i = 0; i < n; i++) await store.putEnvelope(topic, randomBytes(32), 1_700_000_000_000 + i, body)
  const putSeconds = (performance.now() - t0) / 1000
  const t1 = performance.now()
  const count = await store.countEnvelopes(topic)
  const countMs = performance.now() - t1
  await store.close()
  return { envelopes: n, bytes: body.length, putsPerSecond: Math.round(n / putSeconds), countAllKeysMs: Number(countMs.toFixed(1)), count }
}

async function benchReads() {
  const dir = join(home, 'reads')
  let store = await openLevelStore(dir, 'bench', { create: true, argon2: ARGON2 })
  const fillStart = performance.now()
  for (let i = 0; i < HISTORY; i += 1000) {
    const b = store.batch()
    for (let j = i; j < Math.min(HISTORY, i + 1000); j++) b.putMessage(message('big', j))
    await b.commit()
  }
  const fillSeconds = (performance.now() - fillStart) / 1000
  // A few other conversations around it, as in real use.
  for (const other of ['a', 'b', 'c']) {
    const b = store.batch()
    for (let j = 0; j < 1000; j++) b.putMessage(message(other, j))
    await b.commit()
  }
  await store.close()

  store = await openLevelStore(dir, 'bench', { argon2: ARGON2 })
  const c0 = performance.now()
  const first = await store.listMessages('big', { limit: 50 })
  const coldMs = performance.now() - c0
  if (first.length !== 50 || first[49].seq !== HISTORY) throw new Error('wrong page')
  const warm = []
  for (let r = 0; r < READS; r++) {
    const s = performance.now()
    await store.listMessages('big', { limit: 50 })
    warm.push(performance.now() - s)
  }
  const before = []
  for (let r = 0; r < READS; r++) {
    const cursor = 1 + Math.floor(Math.random() * (HISTORY - 100)) + 50
    const s = performance.now()
    const page = await store.listMessages('big', { limit: 50, before: cursor })
    before.push(performance.now() - s)
    if (page.length !== 50) throw new Error('wrong page')
  }
  await store.close()
  warm.sort((a, b) => a - b)
  before.sort((a, b) => a - b)
  return {
    history: HISTORY,
    fillMessagesPerSecond: Math.round(HISTORY / fillSeconds),
    last50ColdMs: Number(coldMs.toFixed(3)),
    last50P50Ms: Number(percentile(warm, 50).toFixed(3)),
    last50P99Ms: Number(percentile(warm, 99).toFixed(3)),
    page50BeforeRandomCursorP50Ms: Number(percentile(before, 50).toFixed(3))
  }
}

function sectionMarkdown(r) {
  const w = r.writes
  const rd = r.reads
  const e = r.envelopes
  return `## Store

\`npm run bench:store\` (bench/store.mjs, against dist/; raw numbers in bench/results/store.json).
Machine: ${r.machine.cpu} (${r.machine.cores} cores), ${r.machine.memoryGiB} GiB RAM; Node ${r.machine.node}; ${r.date}.
The machine was shared with other work (1-minute load average ${r.machine.loadAverage1mAtEnd} at the end of the run), so these are
conservative numbers.
LevelDB through classic-level in a temporary directory; every value sealed with XChaCha20-Poly1305 (PROTOCOL.md §10).

| measure | result |
| --- | --- |
| messages stored, each with its state batch (message + 1.2 KB session state + seen id, one atomic batch, awaited one by one) | **${w.messagesPerSecond.toLocaleString('en-US')} msg/s** (${w.batches.toLocaleString('en-US')} batches; commit p50 ${w.commitP50Ms} ms, p99 ${w.commitP99Ms} ms) |
| read the last 50 messages of a conversation holding ${rd.history.toLocaleString('en-US')}, first read after reopening | **${rd.last50ColdMs} ms** |
| same, repeated (p50 / p99 of ${READS}) | ${rd.last50P50Ms} ms / ${rd.last50P99Ms} ms |
| a page of 50 before a random cursor in that conversation (p50) | ${rd.page50BeforeRandomCursorP50Ms} ms |
| bulk history import (1,000 messages per batch) | ${rd.fillMessagesPerSecond.toLocaleString('en-US')} msg/s |
| ciphertext envelopes stored (1 KiB, one batch each) | ${e.putsPerSecond.toLocaleString('en-US')} /s |
| count the (timestamp, id) keys of a topic of ${e.envelopes.toLocaleString('en-US')} envelopes (no decryption) | ${e.countAllKeysMs} ms |

Writes are not fsync'ed per batch (LevelDB \`sync: false\`): a killed process loses nothing acknowledged
(test/store/crash.test.ts), a power cut can lose the last writes but never half a batch.
`
}

function writeSection(markdown) {
  const file = 'docs/BENCHMARKS.md'
  let doc = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmarks\n\nMeasured by the scripts in bench/; each section is written by its script.\n'
  const start = doc.search(/^## Store\s*$/m)
  if (start === -1) {
    doc = `${doc.trimEnd()}\n\n${markdown}`
  } else {
    const rest = doc.slice(start + 1)
    const next = rest.search(/^## /m)
    const end = next === -1 ? doc.length : start + 1 + next
    doc = `${doc.slice(0, start)}${markdown}${next === -1 ? '' : `\n${doc.slice(end)}`}`
  }
  writeFileSync(file, doc)
}

try {
  const writes = await benchWrites()
  console.log('writes', writes)
  const reads = await benchReads()
  console.log('reads', reads)
  const envelopes = await benchEnvelopes()
  console.log('envelopes', envelopes)
  const result = {
    date: new Date().toISOString().slice(0, 10),
    machine: {
      cpu: cpus()[0]?.model.trim() ?? 'unknown',
      cores: cpus().length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      loadAverage1mAtEnd: Number(loadavg()[0].toFixed(2))
    },
    writes,
    reads,
    envelopes
  }
  writeFileSync('bench/results/store.json', `${JSON.stringify(result, null, 2)}\n`)
  writeSection(sectionMarkdown(result))
  console.log('wrote bench/results/store.json and the Store section of docs/BENCHMARKS.md')
} finally {
  rmSync(home, { recursive: true, force: true })
}
