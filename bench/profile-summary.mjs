// Summarises a .cpuprofile (V8 CPU profile, from `node --cpu-prof` or BENCH_E2E_PROFILE): self time per
// function and inclusive time per function, the top N of each. Usage: node bench/profile-summary.mjs FILE [N] [filter]
import { readFileSync } from 'node:fs'

const [file, nArg, filter] = process.argv.slice(2)
const top = Number(nArg ?? 40)
const p = JSON.parse(readFileSync(file, 'utf8'))
const byId = new Map(p.nodes.map((n) => [n.id, n]))
const parent = new Map()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const self = new Map(p.nodes.map((n) => [n.id, 0]))
const dts = p.timeDeltas
for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], self.get(p.samples[i]) + (dts[i] ?? 0))
const total = [...self.values()].reduce((a, b) => a + b, 0)
const key = (n) => {
  const f = n.callFrame
  const url = f.url.replace(/^.*\/(node_modules|dist|src)\//, '$1/')
  return `${f.functionName || '(anon)'} ${url}:${f.lineNumber + 1}`
}
const selfBy = new Map()
const inclBy = new Map()
for (const n of p.nodes) {
  const t = self.get(n.id)
  if (t === 0) continue
  selfBy.set(key(n), (selfBy.get(key(n)) ?? 0) + t)
  const seen = new Set()
  for (let id = n.id; id !== undefined; id = parent.get(id)) {
    const k = key(byId.get(id))
    if (seen.has(k)) continue
    seen.add(k)
    inclBy.set(k, (inclBy.get(k) ?? 0) + t)
  }
}
const show = (title, m) => {
  console.log(`\n${title} (total ${(total / 1000).toFixed(0)} ms)`)
  const rows = [...m].filter(([k]) => !filter || k.includes(filter)).sort((a, b) => b[1] - a[1]).slice(0, top)
  for (const [k, t] of rows) console.log(`${((100 * t) / total).toFixed(1).padStart(5)} %  ${(t / 1000).toFixed(0).padStart(6)} ms  ${k}`)
}
show('self', selfBy)
show('inclusive', inclBy)
