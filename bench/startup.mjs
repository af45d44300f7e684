// Start-up benchmark (issue 9, item 7): wall time of `sotto --version` and `sotto status` (no daemon
// running: the command still loads, resolves the data directory, tries the control socket and reports) against
// `node -e 0`, each spawned N times, median and spread. Writes bench/results/startup.json.
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath } from 'node:url'
import { machine, percentile, QUICK, round, writeResult } from './lib.mjs'

const RUNS = Number(process.env.BENCH_STARTUP_RUNS ?? (QUICK ? 10 : 40))
const cli = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url))
const home = mkdtempSync(join(tmpdir(), 'sotto-bench-startup-'))
const env = { ...process.env, SOTTO_HOME: home }

function time(args) {
  spawnSync(process.execPath, args, { env }) // warm the file cache
  const ms = []
  let status
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now()
    const r = spawnSync(process.execPath, args, { env, encoding: 'utf8' })
    ms.push(performance.now() - t0)
    status = r.status
  }
  ms.sort((a, b) => a - b)
  return { runs: RUNS, medianMs: round(percentile(ms, 50), 1), p10Ms: round(percentile(ms, 10), 1), p90Ms: round(percentile(ms, 90), 1), exitStatus: status }
}

try {
  // interleave nothing: each command's runs back to back, baseline first and last to see drift
  const baseline = time(['-e', '0'])
  const version = time([cli, '--version'])
  const status = time([cli, 'status'])
  const baselineAgain = time(['-e', '0'])
  const result = { machine: machine(), baseline, version, status, baselineAgain }
  console.log(JSON.stringify(result, null, 2))
  writeResult('startup', result)
} finally {
  rmSync(home, { recursive: true, force: true })
}
