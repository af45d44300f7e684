// Shared helpers of the benchmark suite (issue 9): machine description, tinybench runs reduced to median
// and spread, JSON results, and replacing one "## " section of docs/BENCHMARKS.md in place.
// A quick run (--quick or BENCH_QUICK=1) is a smoke check: it writes its results and its copy of the document
// under bench/results/quick/ (not committed) and leaves the recorded ones alone; it reads the recorded results
// of what it does not run.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { Bench } from 'tinybench'

export const QUICK = process.argv.includes('--quick') || process.env.BENCH_QUICK === '1'
const RECORDED = new URL('./results/', import.meta.url)
const RECORDED_DOC = new URL('../docs/BENCHMARKS.md', import.meta.url)
/** Where this run writes its results: bench/results/, or bench/results/quick/ for a quick run. */
export const RESULTS = QUICK ? new URL('./quick/', RECORDED) : RECORDED
/** The document this run regenerates: docs/BENCHMARKS.md, or a copy of it in bench/results/quick/. */
export const DOC = QUICK ? new URL('BENCHMARKS.md', RESULTS) : RECORDED_DOC

/** The machine and run, recorded with every result file. */
export function machine() {
  return {
    cpu: cpus()[0]?.model.trim() ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    date: new Date().toISOString(),
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
    quick: QUICK
  }
}

/**
 * Runs `tasks` ([name, fn] pairs, fn sync or async, one operation per call) with tinybench, with warm-up, in
 * `rounds` interleaved rounds (the task order rotates from round to round), so that a slow spell of the shared
 * machine hits every task alike. Per task: ops/s = median over the rounds of 1000 / median latency, the
 * per-round figures, the mean ops/s, the relative margin of error of the mean and the p99 latency of the
 * last round, and the sample count. Ratios in the tables are medians of the per-round ratios (ratioOf).
 */
export async function measure(tasks, opts = {}) {
  const rounds = opts.rounds ?? (QUICK ? 2 : 5)
  const time = opts.time ?? (QUICK ? 150 : 600)
  const per = new Map(tasks.map(([name]) => [name, []]))
  for (let r = 0; r < rounds; r++) {
    const bench = new Bench({
      time,
      warmupTime: opts.warmupTime ?? (QUICK ? 50 : 150),
      iterations: opts.iterations ?? (QUICK ? 10 : 32),
      warmupIterations: opts.warmupIterations ?? (QUICK ? 5 : 16),
      throws: true
    })
    const order = tasks.map((_, i) => tasks[(i + r) % tasks.length])
    for (const [name, fn] of order) bench.add(name, fn)
    await bench.run()
    for (const task of bench.tasks) {
      const res = task.result
      if (res.state !== 'completed') throw new Error(`${task.name}: ${res.state} ${res.error ?? ''}`)
      per.get(task.name).push(res)
    }
  }
  const out = {}
  for (const [name] of tasks) {
    const results = per.get(name)
    const ops = results.map((x) => 1000 / x.latency.p50)
    const last = results[results.length - 1]
    out[name] = {
      opsPerSecond: Math.round(median(ops)),
      rounds: ops.map((x) => Math.round(x)),
      meanOpsPerSecond: Math.round(median(results.map((x) => x.throughput.mean))),
      latencyP50Ms: round(median(results.map((x) => x.latency.p50)), 5),
      latencyMadMs: round(last.latency.mad, 5),
      latencyP99Ms: round(median(results.map((x) => x.latency.p99)), 5),
      rmePercent: round(median(results.map((x) => x.latency.rme)), 2),
      samples: results.reduce((a, x) => a + (x.latency.samplesCount ?? 0), 0)
    }
    console.log(`  ${name}: ${out[name].opsPerSecond.toLocaleString('en-US')} ops/s (median of ${rounds} rounds: ${out[name].rounds.join(', ')})`)
  }
  return out
}

/** Median over the rounds of a.ops / b.ops (both from one measure() call); falls back to the medians. */
export function ratioOf(a, b) {
  if (Array.isArray(a.rounds) && Array.isArray(b.rounds) && a.rounds.length === b.rounds.length) {
    return median(a.rounds.map((x, i) => x / b.rounds[i]))
  }
  return a.opsPerSecond / b.opsPerSecond
}

/** Rounds to `digits` decimals. */
export function round(x, digits = 2) {
  const f = 10 ** digits
  return Math.round(x * f) / f
}

/** Percentile of a sorted array (nearest rank). */
export function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** Median of numbers (the mean of the middle two for an even count). */
export function median(xs) {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2
}

/** Writes bench/results/<name>.json. */
export function writeResult(name, value) {
  mkdirSync(RESULTS, { recursive: true })
  writeFileSync(new URL(`${name}.json`, RESULTS), `${JSON.stringify(value, null, 2)}\n`)
}

/** Reads this run's <name>.json (a quick run: its own, else the recorded one), or undefined. */
export function readResult(name) {
  for (const dir of QUICK ? [RESULTS, RECORDED] : [RECORDED]) {
    const file = new URL(`${name}.json`, dir)
    if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'))
  }
  return undefined
}

/** A quick run starts from nothing of an earlier quick run: its results and its copy of the document. */
export function startQuickRun() {
  if (!QUICK) return
  rmSync(RESULTS, { recursive: true, force: true })
  mkdirSync(RESULTS, { recursive: true })
  if (existsSync(RECORDED_DOC)) copyFileSync(RECORDED_DOC, DOC)
}

/** Thousands separators. */
export function fmt(n) {
  return typeof n === 'number' ? n.toLocaleString('en-US') : String(n)
}

/** A ratio as "12.3x". */
export function ratio(a, b) {
  return `${(a / b).toFixed(a / b >= 10 ? 1 : 2)}x`
}

/** The machine line every section starts with. */
export function machineLine(m) {
  return `Machine: ${m.cpu} (${m.cores} cores), ${m.memoryGiB} GiB RAM; Node ${m.node}; ${m.date.slice(0, 16).replace('T', ' ')} UTC; 1-minute load average ${m.loadAverage1m} at the start${m.quick ? '; **quick run** (short timings, smoke check only)' : ''}.`
}

/**
 * Replaces the section whose heading is exactly `## title` in docs/BENCHMARKS.md (up to the next "## "
 * heading), or inserts it before the first section named in `before` that exists, or appends it.
 */
export function writeSection(title, body, before = []) {
  let doc = existsSync(DOC) ? readFileSync(DOC, 'utf8') : '# Benchmarks\n'
  const markdown = `## ${title}\n\n${body.trim()}\n`
  const find = (t) => {
    const m = new RegExp(`^## ${t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}[ \\t]*$`, 'm').exec(doc)
    return m === null ? -1 : m.index
  }
  const start = find(title)
  if (start !== -1) {
    const next = doc.slice(start + 3).search(/^## /m)
    const end = next === -1 ? doc.length : start + 3 + next
    doc = `${doc.slice(0, start)}${markdown}${next === -1 ? '' : `\n${doc.slice(end)}`}`
  } else {
    const at = before.map(find).filter((i) => i !== -1).sort((a, b) => a - b)[0]
    if (at === undefined) doc = `${doc.trimEnd()}\n\n${markdown}`
    else doc = `${doc.slice(0, at)}${markdown}\n${doc.slice(at)}`
  }
  mkdirSync(new URL('.', DOC), { recursive: true })
  writeFileSync(DOC, doc)
}

/**
 * Growth read through the noise of single samples: the median heap of the last quarter of the post-warm-up
 * samples against the median of the first quarter, and the least-squares slope over all of them.
 */
export function trend(samples, warmupSeconds) {
  const after = samples.filter((x) => x.at >= warmupSeconds)
  const q = Math.max(1, Math.floor(after.length / 4))
  const med = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
  const first = med(after.slice(0, q).map((x) => x.heapUsedMiB))
  const lastQ = med(after.slice(-q).map((x) => x.heapUsedMiB))
  const n = after.length
  const mx = after.reduce((a, x) => a + x.at, 0) / n
  const my = after.reduce((a, x) => a + x.heapUsedMiB, 0) / n
  const sxy = after.reduce((a, x) => a + (x.at - mx) * (x.heapUsedMiB - my), 0)
  const sxx = after.reduce((a, x) => a + (x.at - mx) ** 2, 0)
  const rssFirst = med(after.slice(0, q).map((x) => x.rssMiB))
  const rssLast = med(after.slice(-q).map((x) => x.rssMiB))
  return {
    heapFirstQuarterMedianMiB: first,
    heapLastQuarterMedianMiB: lastQ,
    trendGrowthPercent: round((100 * (lastQ - first)) / first, 1),
    heapSlopeMiBPerMinute: round(sxx === 0 ? 0 : (60 * sxy) / sxx, 2),
    rssFirstQuarterMedianMiB: rssFirst,
    rssLastQuarterMedianMiB: rssLast
  }
}
