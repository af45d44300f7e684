// `npm run bench`: builds dist/ (skip with --no-build), runs every benchmark against it, each in its own
// Node process, then regenerates docs/BENCHMARKS.md (bench/report.mjs). `--quick` (under a minute) runs short
// versions and reuses the store, sync and soak results of earlier runs; the full run also runs bench/store.mjs
// and bench/sync.mjs (which write their own sections). The soak runs separately: `npm run soak`.
// `--only=crypto,e2e` runs a subset.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { QUICK } from './lib.mjs'
import { report } from './report.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',')
const flags = QUICK ? ['--quick'] : []

function run(cmd, args, env = {}) {
  console.log(`\n> ${cmd} ${args.join(' ')}`)
  const t0 = Date.now()
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env: { ...process.env, ...env } })
  console.log(`(${((Date.now() - t0) / 1000).toFixed(1)} s, exit ${r.status})`)
  return r.status === 0
}

const t0 = Date.now()
if (!process.argv.includes('--no-build') && !run('npm', ['run', 'build'])) process.exit(1)

const steps = [
  ['crypto', ['bench/crypto.mjs', ...flags]],
  ['e2e', ['bench/e2e.mjs', ...flags], QUICK ? { BENCH_E2E_LATENCY: '10', BENCH_E2E_THROUGHPUT: '60' } : {}],
  ['weight', ['--expose-gc', 'bench/weight.mjs', ...flags], QUICK ? { BENCH_WEIGHT_NODES: '6' } : {}],
  ['startup', ['bench/startup.mjs', ...flags], QUICK ? { BENCH_STARTUP_RUNS: '5' } : {}]
]
if (!QUICK) steps.push(['store', ['bench/store.mjs']], ['sync', ['bench/sync.mjs']])

const failed = []
for (const [name, args, env] of steps) {
  if (only !== undefined && !only.includes(name)) continue
  if (!run(process.execPath, args, env)) failed.push(name)
}
report()
console.log(`\nregenerated docs/BENCHMARKS.md in ${((Date.now() - t0) / 1000).toFixed(0)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`)
process.exit(failed.length ? 1 : 0)
