// `npm run bench`: builds dist/ (skip with --no-build), runs every benchmark against it, each in its own
// Node process, then regenerates docs/BENCHMARKS.md (bench/report.mjs). `--quick` (under a minute) runs short
// versions (the end-to-end run in one process only) and reuses the store, sync and soak results of earlier
// runs; it writes its results and its copy of the document under bench/results/quick/, so the recorded ones
// stay as they are (bench/lib.mjs). The full run also runs the end-to-end benchmark with one process per node, and bench/store.mjs and
// bench/sync.mjs (which write their own sections). The soak runs separately: `npm run soak`.
// `--only=crypto,e2e` runs a subset.
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { DOC, QUICK, startQuickRun } from './lib.mjs'
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

/** Newest modification time under a directory (files only). */
function newest(dir) {
  let t = 0
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs)
  }
  return t
}

const t0 = Date.now()
startQuickRun()
// --quick skips the build when dist/ is newer than every file of src/ (the full run always builds).
const upToDate = QUICK && existsSync(join(root, 'dist')) && newest(join(root, 'dist')) > newest(join(root, 'src'))
if (upToDate) console.log('dist/ is newer than src/: not rebuilding')
if (!process.argv.includes('--no-build') && !upToDate && !run('npm', ['run', 'build'])) process.exit(1)

const steps = [
  ['crypto', ['bench/crypto.mjs', ...flags]],
  ['e2e', ['bench/e2e.mjs', ...flags, ...(QUICK ? [] : ['--processes'])], QUICK ? { BENCH_E2E_LATENCY: '10', BENCH_E2E_THROUGHPUT: '30' } : {}],
  ['weight', ['--expose-gc', 'bench/weight.mjs', ...flags], QUICK ? { BENCH_WEIGHT_NODES: '6' } : {}],
  ['startup', ['bench/startup.mjs', ...flags], QUICK ? { BENCH_STARTUP_RUNS: '3' } : {}]
]
if (!QUICK) steps.push(['store', ['bench/store.mjs']], ['sync', ['bench/sync.mjs']])

const failed = []
for (const [name, args, env] of steps) {
  if (only !== undefined && !only.includes(name)) continue
  if (!run(process.execPath, args, env)) failed.push(name)
}
report()
console.log(`\nregenerated ${relative(root, fileURLToPath(DOC))} in ${((Date.now() - t0) / 1000).toFixed(0)} s${failed.length ? `; FAILED: ${failed.join(', ')}` : ''}`)
process.exit(failed.length ? 1 : 0)
