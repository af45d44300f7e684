// End-to-end benchmark (issue 9, item 4): 10 real sotto users on 127.0.0.1 in one community (dist/app
// initSotto/openSotto, test-only Argon2id limits so that opening a store takes milliseconds, mDNS off, one
// bootstrap node), from `send` on one node (each in turn) to "decrypted and stored" on all the others: latency p50/p99 and
// sustained messages/s. Against raw gossipsub on the same 10 nodes (a topic of its own, the same payload size on the
// wire, no crypto, no storage). The nodes are dialled into a full mesh of connections. The sides take turns message
// by message through warm-up and the latency phase, so that the machine's other work, which moves both sides' times
// by tens of percent within a minute here, hits both alike (until session 8, each side ran on nodes of its own, one
// after the other: single rounds' ratios then spread from 0.9x to 2.3x). Then each side's throughput phase, alone.
// Runs BENCH_E2E_ROUNDS rounds (5; 1 with --quick), each on new nodes, and reports each side's medians and every
// round's ratios. Writes bench/results/e2e.json.
import '../dist/polyfill.js'
import { fork } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import { initSotto, openSotto } from '../dist/app/index.js'
import { TEST_ARGON2 } from '../dist/crypto/atrest.js'
import { createSottoNode } from '../dist/node/index.js'
import { joinRaw, RAW_TOPIC, rawPayload, seqOf, TEXT_BYTES, textOf } from './e2e-common.mjs'
import { machine, median, percentile, QUICK, readResult, round, writeResult } from './lib.mjs'

const N = Number(process.env.BENCH_E2E_NODES ?? 10)
const LATENCY_MESSAGES = Number(process.env.BENCH_E2E_LATENCY ?? (QUICK ? 20 : 200))
const THROUGHPUT_MESSAGES = Number(process.env.BENCH_E2E_THROUGHPUT ?? (QUICK ? 100 : 1000))
// Messages sent one at a time, as in the latency phase, and not measured, once the nodes are idle: without them
// the latency phase ran largely in V8's unoptimised tiers on both sides (a perf profile of the one-process-per-node
// run showed TurboFan compiling, baseline code and inline-cache misses through it), as no long-running node does.
// After 200 of them, TurboFan still took 20 % of sotto's CPU in the latency phase (17 % of raw gossipsub's): each
// node runs sotto's per-message code once per message, not dozens of times like the network stack's; after 1000,
// 7 % (3 %).
const WARMUP_MESSAGES = Number(process.env.BENCH_E2E_WARMUP ?? (QUICK ? 10 : 1000))
const WARMUP_FROM = 500_000 // warm-up messages' numbers (below the per-process runs' start-up numbers)
const SETTLE_MS = Number(process.env.BENCH_E2E_SETTLE_MS ?? (QUICK ? 2000 : 5000))
const SETTLE_MAX_MS = Number(process.env.BENCH_E2E_SETTLE_MAX_MS ?? 60_000)
const IDLE_CPU = Number(process.env.BENCH_E2E_IDLE_CPU ?? 0.15) // of one core, all node processes together
// 5 rounds: with the sides paired, a single round's p50 ratio still moves by about 0.1x from round to round on this
// shared 2-core machine (each round forms a new mesh)
const ROUNDS = Number(process.env.BENCH_E2E_ROUNDS ?? (QUICK ? 1 : 5))
const WINDOW = 32 // messages in flight (sent, not yet stored by every receiver) during the throughput run
// Every node sends in turn (message n from node n mod N), as in a community where everyone talks: a single sender's
// place in the gossipsub mesh (how many receivers it reaches directly) differed between the two sides' set-ups.
const senderOf = (seq) => seq % N
const WARM_SEQ = 1_000_000 // warm-up messages' numbers (sotto's texts carry 8 digits)
const RAW_WARM_SEQ = 3_000_000_000 // raw gossipsub's warm-up numbers (u32)
const PASSPHRASE = 'benchmark passphrase'

/** Absolute high-resolution time, comparable between processes on one machine. */
const now = () => performance.timeOrigin + performance.now()
const PROCESSES = process.argv.includes('--processes') || process.env.BENCH_E2E_PROCESSES === '1'
// A pause after each message of the latency phase (BENCH_E2E_PAUSE_MS, 50 ms by default), so that each message starts
// on idle nodes. Without it, the sides taking turns ran into each other's leftovers, and unevenly: raw gossipsub's
// last receivers forward after their delivery, sotto's before their store; with one process per node (two cores
// kept busy) the command to send then reached sotto's sender 2.5-2.7 ms after the driver sent it, raw gossipsub's
// 0.6-0.8 ms (medians, session 8).
const PAUSE_MS = Number(process.env.BENCH_E2E_PAUSE_MS ?? 50)
// BENCH_E2E_PROFILE=file.cpuprofile: a CPU profile of this process over the throughput phase only (open it
// in Chrome DevTools or read it with bench/profile-summary.mjs)
const PROFILE = process.env.BENCH_E2E_PROFILE
async function startProfile() {
  const { Session } = await import('node:inspector/promises')
  const session = new Session()
  session.connect()
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 200 })
  await session.post('Profiler.start')
  return async () => {
    const { profile } = await session.post('Profiler.stop')
    writeFileSync(PROFILE, JSON.stringify(profile))
    session.disconnect()
    console.log(`wrote ${PROFILE}`)
  }
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function until(pred, timeoutMs, what) {
  const end = Date.now() + timeoutMs
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`)
    await sleep(50)
  }
}

/** Dials every node to every other one (the same full mesh of connections for both runs). */
async function fullMesh(nodes) {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) await nodes[i].dial(nodes[j].addresses()[0]).catch(() => {})
  }
}

/**
 * The delivery bookkeeping of one side (sotto, or raw gossipsub): `send(seq)` publishes message `seq`;
 * `delivered(seq, at)` must be called when one of the `receivers` has it.
 */
function side(name, receivers, send) {
  const pending = new Map() // seq -> { t0, left, each: [] }
  const done = []
  let waiters = []
  const delivered = (seq, at = now()) => {
    const p = pending.get(seq)
    if (p === undefined) return
    const t = at - p.t0
    p.each.push(t)
    if (--p.left === 0) {
      pending.delete(seq)
      done.push({ seq, all: t, each: p.each })
      const w = waiters
      waiters = []
      for (const f of w) f()
    }
  }
  const waitFor = (pred) =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name}: delivery timed out (${pending.size} pending)`)), 60_000)
      const check = () => {
        if (pred()) {
          clearTimeout(timer)
          resolve()
        } else waiters.push(check)
      }
      check()
    })
  return {
    delivered,
    /** Sends message `seq` and waits until every receiver has it; returns { seq, all, each } (ms). */
    async one(seq) {
      pending.set(seq, { t0: now(), left: receivers, each: [] })
      await send(seq)
      await waitFor(() => !pending.has(seq))
      return done[done.length - 1]
    },
    /** THROUGHPUT_MESSAGES from `first` on, with at most WINDOW in flight. */
    async throughput(first, cpuNow) {
      done.length = 0
      const cpu0 = await cpuNow()
      const t0 = performance.now()
      // The sender does not wait for one send to return before the next: the window alone limits what is in
      // flight, on both sides (gossipsub's publish returns at once; sotto's send returns once the message is
      // stored, and texts sent meanwhile are stored together).
      const sends = []
      for (let i = 0; i < THROUGHPUT_MESSAGES; i++) {
        await waitFor(() => pending.size < WINDOW)
        const seq = first + i
        pending.set(seq, { t0: now(), left: receivers, each: [] })
        sends.push(send(seq))
      }
      await Promise.all(sends)
      await waitFor(() => pending.size === 0)
      const seconds = (performance.now() - t0) / 1000
      const cpu = (await cpuNow()) - cpu0
      const loadedAll = done.map((d) => d.all).sort((a, b) => a - b)
      return {
        messages: THROUGHPUT_MESSAGES,
        window: WINDOW,
        seconds: round(seconds, 3),
        messagesPerSecond: Math.round(THROUGHPUT_MESSAGES / seconds),
        deliveriesPerSecond: Math.round((THROUGHPUT_MESSAGES * receivers) / seconds),
        underLoadAllOthersP50Ms: round(percentile(loadedAll, 50), 3),
        underLoadAllOthersP99Ms: round(percentile(loadedAll, 99), 3),
        // CPU time (user + system) of the node processes over this phase, per message and receiver
        cpuSeconds: round(cpu / 1e6, 3),
        cpuUsPerDelivery: round(cpu / (THROUGHPUT_MESSAGES * receivers), 1)
      }
    }
  }
}

/**
 * Waits until the node processes are idle: at least `minMs`, then until they use under IDLE_CPU of a core for two
 * seconds in a row (at most SETTLE_MAX_MS). `cpuNow()` (may be async) returns the CPU time (user + system,
 * microseconds) used so far by every process that runs the nodes. Returns the time it took (ms).
 */
async function settle(cpuNow, minMs) {
  await sleep(minMs)
  const settleStart = performance.now()
  for (let quiet = 0; quiet < 2; ) {
    const c0 = await cpuNow()
    const w0 = performance.now()
    await sleep(1000)
    const busy = ((await cpuNow()) - c0) / 1000 / (performance.now() - w0)
    if (process.env.BENCH_E2E_DEBUG) console.log(`settling: ${busy.toFixed(2)} of a core`)
    quiet = busy < IDLE_CPU ? quiet + 1 : 0
    if (performance.now() - settleStart > SETTLE_MAX_MS) break
  }
  return Math.round(minMs + performance.now() - settleStart)
}

const ownCpu = () => {
  const u = process.cpuUsage()
  return u.user + u.system
}

/**
 * Measures one or two sides on the same nodes (see the top of this file). After the start-up work settles,
 * WARMUP_MESSAGES then LATENCY_MESSAGES one at a time, the sides taking turns message by message (so a change in
 * the machine's other work, which on this shared machine moves both sides' times by tens of percent within a
 * minute, hits both alike); then each side's throughput phase in turn, `throughputOrder` giving the order (the
 * rounds alternate it), with a settle before each. `cpuNow` as for settle (default: this process's).
 */
async function measure(sides, { cpuNow = ownCpu, throughputOrder = sides.map((_, k) => k) } = {}) {
  // let the start-up work settle (reconciliation with every newly connected peer, DHT announcements: the
  // peer records, prekey bundles and community rendezvous each user publishes take seconds on a loaded
  // machine), so that start-up work is not counted as the cost of messages
  const settledMs = await settle(cpuNow, SETTLE_MS)
  // the machine's other work (this benchmark runs on shared machines), as it stood when measuring began
  const loadAverage1m = Number(loadavg()[0].toFixed(2))
  for (let i = 0; i < WARMUP_MESSAGES; i++) for (const s of sides) await s.one(WARMUP_FROM + i)
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  // latency: one message at a time, the sides in turn
  // (the phase events let a preloaded analysis script, node --import, take its measures per phase)
  process.emit('bench-e2e-phase', 'latency')
  const latProfile = PROFILE && process.env.BENCH_E2E_PROFILE_PHASE === 'latency' ? await startProfile() : undefined
  const cpuLat0 = await cpuNow()
  const lat = sides.map(() => [])
  for (let i = 0; i < LATENCY_MESSAGES; i++) {
    for (const [k, s] of sides.entries()) {
      lat[k].push(await s.one(i))
      if (PAUSE_MS > 0) await sleep(PAUSE_MS)
    }
  }
  const cpuLat = (await cpuNow()) - cpuLat0
  if (latProfile) await latProfile()
  // throughput: each side alone, THROUGHPUT_MESSAGES with at most WINDOW in flight
  process.emit('bench-e2e-phase', 'throughput')
  const profile = PROFILE && !latProfile ? await startProfile() : undefined
  const throughput = []
  for (const k of throughputOrder) {
    await settle(cpuNow, 1000)
    throughput[k] = await sides[k].throughput(LATENCY_MESSAGES, cpuNow)
  }
  if (profile) await profile()
  process.emit('bench-e2e-phase', 'end')
  loop.disable()
  const receivers = N - 1
  return lat.map((_, k) => {
    const all = lat[k].map((d) => d.all).sort((a, b) => a - b)
    const each = lat[k].flatMap((d) => d.each).sort((a, b) => a - b)
    return {
      latency: {
        messages: lat[k].length,
        allOthersP50Ms: round(percentile(all, 50), 3),
        allOthersP99Ms: round(percentile(all, 99), 3),
        eachReceiverP50Ms: round(percentile(each, 50), 3),
        eachReceiverP99Ms: round(percentile(each, 99), 3),
        // with two sides taking turns, the phase's CPU time is theirs together (a message's cascade of gossip
        // copies runs on into the other side's next message): per delivery of either side
        cpuSeconds: round(cpuLat / 1e6, 3),
        cpuUsPerDelivery: round(cpuLat / (LATENCY_MESSAGES * sides.length * receivers), 1),
        cpuShared: sides.length > 1
      },
      throughput: throughput[k],
      settledMs,
      loadAverage1m,
      // delay of this process's event loop during both phases (in the one-process runs, every node's)
      eventLoopDelay: { p50Ms: round(loop.percentile(50) / 1e6, 1), p99Ms: round(loop.percentile(99) / 1e6, 1), maxMs: round(loop.max / 1e6, 1) }
    }
  })
}

/** measure()'s results by side (sotto first when both ran), each with its own extra fields. */
function bySide(want, results, sottoExtra, rawExtra) {
  const out = {}
  if (want.sotto) out.sotto = { ...results[0], ...sottoExtra }
  if (want.raw) out.raw = { ...results[want.sotto ? 1 : 0], ...rawExtra }
  return out
}

/** Field by field, the median of several runs' results (numbers only; anything else from the first run). */
function medianOf(runs) {
  const merge = (values) => {
    const first = values[0]
    if (typeof first === 'number') return round(median(values), 3)
    if (first !== null && typeof first === 'object' && !Array.isArray(first)) {
      const out = {}
      for (const k of Object.keys(first)) out[k] = merge(values.map((v) => v?.[k]).filter((v) => v !== undefined))
      return out
    }
    return first
  }
  return merge(runs)
}

/** Each round's sotto / raw ratios of the barred measures (p50 of all others, msg/s) and of CPU per delivery. */
function roundRatios(sotto, raw) {
  return sotto.map((s, i) => ({
    p50: round(s.latency.allOthersP50Ms / raw[i].latency.allOthersP50Ms, 2),
    messagesPerSecond: round(s.throughput.messagesPerSecond / raw[i].throughput.messagesPerSecond, 2),
    cpuPerDelivery: round(s.throughput.cpuUsPerDelivery / raw[i].throughput.cpuUsPerDelivery, 2)
  }))
}


/**
 * The 10 nodes in this process. `want.sotto`: they are sotto users in one community (else bare sotto nodes, made
 * by dist/node createSottoNode with the same configuration); `want.raw`: raw gossipsub runs on the same nodes,
 * with payloads as large as sotto's envelopes on the wire (`payloadBytes` when sotto is not measured).
 * Returns each measured side's results, sotto's first.
 */
async function oneProcessRun(want, { payloadBytes = 1024, throughputOrder } = {}) {
  const homes = []
  const users = []
  const nodes = []
  const t0 = performance.now()
  try {
    for (let i = 0; i < N; i++) {
      const bootstrap = i === 0 ? [] : nodes[0].addresses()
      if (want.sotto) {
        const home = await mkdtemp(join(tmpdir(), 'sotto-bench-e2e-'))
        homes.push(home)
        await initSotto({ home, passphrase: PASSPHRASE, name: `u${i}`, argon2: TEST_ARGON2 })
        users.push(await openSotto({ home, passphrase: PASSPHRASE, argon2: TEST_ARGON2, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mdns: false }))
        nodes.push(users[i].node)
      } else {
        const node = await createSottoNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap })
        await node.start()
        nodes.push(node)
      }
    }
    const sides = []
    let wireBytes = 0
    if (want.sotto) {
      const admin = users[0]
      await admin.communityCreate('bench')
      const invite = await admin.communityInvite('bench')
      for (const u of users.slice(1)) await u.communityJoin(invite)
      await until(async () => (await admin.communityMembers('bench')).length === N, 60_000, 'community members')
    }
    await fullMesh(nodes)
    const setupSeconds = (performance.now() - t0) / 1000
    if (want.sotto) {
      const s = side('sotto', N - 1, (seq) => users[senderOf(seq)].send('#bench', textOf(seq)))
      users[0].node.on('message', (m) => {
        if (m.topic.includes('/c/')) wireBytes = Math.max(wireBytes, m.data.length)
      })
      for (const u of users) {
        u.subscribe((m) => {
          if (m.conversation === '#bench' && m.from !== 'me' && (m.status === 'received' || m.status === 'read')) s.delivered(seqOf(m.text))
        })
      }
      // every user's first message stored by every other (also forms the gossipsub mesh)
      for (const [k, sender] of users.entries()) {
        const warm = WARM_SEQ + k
        await sender.send('#bench', textOf(warm))
        await until(async () => {
          for (const u of users) if (u !== sender && !(await u.read('#bench', 5)).some((m) => seqOf(m.text) === warm)) return false
          return true
        }, 60_000, `first message of u${k} on every other user`)
      }
      sides.push(s)
    }
    if (want.raw) {
      const bytes = wireBytes || payloadBytes
      const s = side('raw gossipsub', N - 1, (seq) => nodes[senderOf(seq)].publish(RAW_TOPIC, rawPayload(seq, bytes)))
      for (const n of nodes) joinRaw(n, (seq) => s.delivered(seq))
      // from every node until the mesh delivers its message to every other
      for (const [k, sender] of nodes.entries()) {
        const got = new Set()
        const off = nodes.map((n, i) => n.on('message', (m) => m.topic === RAW_TOPIC && got.add(i)))
        let attempt = 0
        await until(async () => {
          await sender.publish(RAW_TOPIC, rawPayload(RAW_WARM_SEQ + k * 1000 + attempt++, bytes), { waitForPeersMs: 1000 }).catch(() => {})
          await sleep(100)
          return got.size === N - 1
        }, 60_000, `raw gossipsub mesh from node ${k}`)
        for (const f of off) f()
      }
      sides.push(s)
      payloadBytes = bytes
    }
    const results = await measure(sides, { throughputOrder })
    const connections = median(nodes.map((n) => n.peers().length))
    return bySide(want, results, { setupSeconds: round(setupSeconds, 1), wireBytes, connections }, { payloadBytes, connections })
  } finally {
    await Promise.all(users.map((u) => u.stop().catch(() => {})))
    if (!want.sotto) await Promise.all(nodes.map((n) => n.stop().catch(() => {})))
    await Promise.all(homes.map((d) => rm(d, { recursive: true, force: true })))
  }
}

/** A node in a child process (bench/e2e-node.mjs), driven over IPC. */
async function spawnNode(kind, name, bootstrap) {
  const child = fork(fileURLToPath(new URL('./e2e-node.mjs', import.meta.url)), [kind, name, bootstrap.join(',')], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const waiters = new Map()
  const listeners = []
  let next = 0
  await new Promise((resolve, reject) => {
    child.once('message', (m) => (m.ev === 'ready' ? resolve() : reject(new Error(`unexpected ${JSON.stringify(m)}`))))
    child.once('exit', (code) => reject(new Error(`node ${name} exited with ${code}`)))
  })
  child.on('message', (m) => {
    if (m.id !== undefined) {
      const w = waiters.get(m.id)
      waiters.delete(m.id)
      if (m.error) w.reject(new Error(m.error))
      else w.resolve(m.value)
    } else for (const l of listeners) l(m)
  })
  return {
    call: (cmd, args = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next
        waiters.set(id, { resolve, reject })
        child.send({ id, cmd, ...args })
      }),
    on: (f) => listeners.push(f),
    child
  }
}

async function stopAll(nodes) {
  await Promise.all(
    nodes.map(
      (n) =>
        new Promise((resolve) => {
          n.child.once('exit', resolve)
          n.call('stop').catch(() => {})
          setTimeout(() => {
            n.child.kill()
            resolve()
          }, 10_000).unref()
        })
    )
  )
}

/**
 * oneProcessRun's sides with one process per node: each user has its own event loop, as real users do. The nodes
 * are sotto users when `want.sotto`, and raw gossipsub runs on them when `want.raw`.
 */
async function processesRun(want, { payloadBytes = 1024, throughputOrder } = {}) {
  const kind = want.sotto ? 'sotto' : 'raw'
  const nodes = []
  try {
    nodes.push(await spawnNode(kind, 'u0', []))
    const boot = await nodes[0].call('addresses')
    const rest = await Promise.all(Array.from({ length: N - 1 }, (_, i) => spawnNode(kind, `u${i + 1}`, boot)))
    nodes.push(...rest)
    if (want.sotto) {
      await nodes[0].call('create')
      const invite = await nodes[0].call('invite')
      for (const n of nodes.slice(1)) await n.call('join', { invite })
      await until(async () => (await nodes[0].call('members')) === N, 60_000, 'community members')
    }
    const addrs = await Promise.all(nodes.map((n) => n.call('addresses')))
    for (let i = 0; i < N; i++) for (let j = i + 1; j < N; j++) await nodes[i].call('dial', { address: addrs[j][0] })
    const sides = {}
    if (want.sotto) sides.sotto = side('sotto', N - 1, (seq) => nodes[senderOf(seq)].call('send', { seq }))
    if (want.raw) sides.raw = side('raw gossipsub', N - 1, (seq) => nodes[senderOf(seq)].call('publish', { seq }))
    let wireBytes = 0
    // first messages (numbers from WARM_SEQ on: sender k's are WARM_SEQ + 1000 k + attempt): who stored one of whose
    const warm = { sotto: nodes.map(() => new Set()), raw: nodes.map(() => new Set()) }
    for (const [i, n] of nodes.entries()) {
      n.on((m) => {
        if (m.ev === 'wire') wireBytes = Math.max(wireBytes, m.bytes)
        if (m.ev === 'stored') {
          if (m.seq >= WARM_SEQ) warm[m.side][Math.floor((m.seq - WARM_SEQ) / 1000)]?.add(i)
          else sides[m.side]?.delivered(m.seq, m.at)
        }
      })
    }
    // every node's first message stored by every other (also forms the gossipsub mesh), sotto's first
    const firsts = async (which, cmd, pauseMs) => {
      for (const [k, sender] of nodes.entries()) {
        let attempt = 0
        await until(
          async () => {
            await sender.call(cmd, { seq: WARM_SEQ + k * 1000 + attempt++ }).catch(() => {})
            await sleep(pauseMs)
            return warm[which][k].size === N - 1
          },
          60_000,
          `${which}: first message of node ${k} on every other`
        )
      }
    }
    if (want.sotto) await firsts('sotto', 'send', 500)
    if (want.raw) {
      payloadBytes = wireBytes || payloadBytes
      for (const n of nodes) await n.call('raw', { bytes: payloadBytes })
      await firsts('raw', 'publish', 100)
    }
    // CPU time of the node processes (not this driver's): the sum of every child's process.cpuUsage
    const cpuNow = async () => (await Promise.all(nodes.map((n) => n.call('cpu')))).reduce((a, b) => a + b, 0)
    const results = await measure(Object.values(sides), { cpuNow, throughputOrder })
    const connections = median(await Promise.all(nodes.map((n) => n.call('peers'))))
    return bySide(want, results, { wireBytes, connections }, { wireBytes, payloadBytes, connections })
  } finally {
    await stopAll(nodes)
  }
}

// BENCH_E2E_ONLY=sotto, raw, paired, sotto-processes, raw-processes or paired-processes: only that run, printed and
// not written (sotto or raw alone: for profiling one side, and for quick A/B comparisons)
const ONLY = process.env.BENCH_E2E_ONLY
if (ONLY !== undefined) {
  const payloadBytes = Number(process.env.BENCH_E2E_PAYLOAD ?? 1024)
  const wants = { sotto: { sotto: true }, raw: { raw: true }, paired: { sotto: true, raw: true } }
  const processes = ONLY.endsWith('-processes')
  const want = wants[ONLY.replace(/-processes$/, '')]
  if (want === undefined) throw new Error('BENCH_E2E_ONLY: sotto, raw or paired, with or without -processes')
  console.log(JSON.stringify(await (processes ? processesRun : oneProcessRun)(want, { payloadBytes })))
  process.exit(0)
}
const result = { machine: machine(), nodes: N, textBytes: TEXT_BYTES, rounds: ROUNDS, paired: true, pauseMs: PAUSE_MS }
/**
 * ROUNDS rounds of `run` (sotto and raw gossipsub measured together on one set of nodes, new in each round; the
 * throughput phases sotto first in odd rounds, raw gossipsub first in even ones), logged; returns each side's
 * medians over the rounds and each round's ratios (p50, sustained msg/s, CPU per delivery) to show the spread.
 */
async function inRounds(label, run) {
  const s = []
  const r = []
  for (let i = 0; i < ROUNDS; i++) {
    console.log(`round ${i + 1}/${ROUNDS}: sotto and raw gossipsub on the same nodes, ${label}`)
    const out = await run({ throughputOrder: i % 2 === 0 ? [0, 1] : [1, 0] })
    s.push(out.sotto)
    r.push(out.raw)
    console.log(JSON.stringify(out))
  }
  return { sotto: medianOf(s), raw: medianOf(r), perRound: roundRatios(s, r) }
}
const both = { sotto: true, raw: true }
const oneProcess = await inRounds(`${N} nodes in one process, one community`, (o) => oneProcessRun(both, o))
result.sotto = oneProcess.sotto
result.raw = oneProcess.raw
result.perRound = oneProcess.perRound
const previous = readResult('e2e')
if (!PROCESSES && previous?.sottoProcesses !== undefined) {
  // not measured in this run (--quick): keep the last measurement, saying when it was made
  result.sottoProcesses = previous.sottoProcesses
  result.rawProcesses = previous.rawProcesses
  result.perRoundProcesses = previous.perRoundProcesses
  result.processesMeasuredAt = previous.processesMeasuredAt ?? previous.machine.date
}
if (PROCESSES) {
  result.processesMeasuredAt = result.machine.date
  const perNode = await inRounds(`${N} nodes, one process each`, (o) => processesRun(both, o))
  result.sottoProcesses = perNode.sotto
  result.rawProcesses = perNode.raw
  result.perRoundProcesses = perNode.perRound
}
writeResult('e2e', result)
console.log('wrote bench/results/e2e.json')
process.exit(0)
