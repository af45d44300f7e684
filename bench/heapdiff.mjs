// Heap snapshot diff (issue 9, item 6): compares two .heapsnapshot files of one process (e.g. the ones
// `SOAK_SNAPSHOTS=<dir> npm run soak` writes after the warm-up and at the end) and prints the groups that grew
// most, by constructor name (objects), or by node type for strings, arrays, code and native parts: count
// and self size in each snapshot and the difference. V8 keeps an object's snapshot id for the life of the
// process, so the objects of the second snapshot whose ids the first lacks are the ones allocated in between
// that survived; for the top groups of those, one sample's retainer path (shortest path from the GC roots)
// is printed. Last, the new objects are attributed to the old object that holds them (the first object on
// their shortest retainer path that the first snapshot already had), with that holder's own path: a
// structure that grows shows up as one holder with a large total.
//
//   node bench/heapdiff.mjs <before.heapsnapshot> <after.heapsnapshot> [--top=25] [--paths=8] [--holders=15]
import { readFileSync } from 'node:fs'

const args = process.argv.slice(2)
const files = args.filter((a) => !a.startsWith('--'))
const opt = (name, dflt) => Number(args.find((a) => a.startsWith(`--${name}=`))?.split('=')[1] ?? dflt)
if (files.length !== 2) {
  console.error('usage: node bench/heapdiff.mjs <before.heapsnapshot> <after.heapsnapshot> [--top=25] [--paths=8]')
  process.exit(2)
}
const TOP = opt('top', 25)
const PATHS = opt('paths', 8)
const HOLDERS = opt('holders', 15)

/** Parses a snapshot into flat typed arrays plus the string table. */
function load(file) {
  const snap = JSON.parse(readFileSync(file, 'utf8'))
  const meta = snap.snapshot.meta
  const nf = meta.node_fields
  const ef = meta.edge_fields
  const nodeTypes = meta.node_types[0]
  const edgeTypes = meta.edge_types[0]
  const N = nf.length
  const count = snap.nodes.length / N
  const nodes = Int32Array.from(snap.nodes)
  const edges = Int32Array.from(snap.edges)
  const s = {
    file,
    strings: snap.strings,
    nodes,
    edges,
    count,
    N,
    E: ef.length,
    type: nf.indexOf('type'),
    name: nf.indexOf('name'),
    id: nf.indexOf('id'),
    size: nf.indexOf('self_size'),
    edgeCount: nf.indexOf('edge_count'),
    eType: ef.indexOf('type'),
    eName: ef.indexOf('name_or_index'),
    eTo: ef.indexOf('to_node'),
    nodeTypes,
    edgeTypes,
    firstEdge: new Uint32Array(count + 1)
  }
  for (let i = 0, e = 0; i < count; i++) {
    s.firstEdge[i] = e
    e += nodes[i * N + s.edgeCount] * s.E
  }
  s.firstEdge[count] = edges.length
  return s
}

/** The group a node is counted in: its constructor name for objects, else its node type (plus name for natives). */
function group(s, i) {
  const type = s.nodeTypes[s.nodes[i * s.N + s.type]]
  const name = s.strings[s.nodes[i * s.N + s.name]]
  if (type === 'object') return name
  if (type === 'native' || type === 'hidden' || type === 'synthetic') return `(${type}) ${name.slice(0, 60)}`
  return `(${type})`
}

function tally(s, filter) {
  const out = new Map()
  for (let i = 0; i < s.count; i++) {
    if (filter !== undefined && !filter(i)) continue
    const g = group(s, i)
    let t = out.get(g)
    if (t === undefined) out.set(g, (t = { count: 0, size: 0, sample: i }))
    t.count++
    t.size += s.nodes[i * s.N + s.size]
  }
  return out
}

/** Breadth-first parents from the root (node 0) over strong edges: shortest retainer paths. */
function parents(s) {
  const parent = new Int32Array(s.count).fill(-1)
  const via = new Int32Array(s.count).fill(-1)
  parent[0] = 0
  const queue = new Uint32Array(s.count)
  let head = 0
  let tail = 0
  queue[tail++] = 0
  const weak = s.edgeTypes.indexOf('weak')
  while (head < tail) {
    const i = queue[head++]
    for (let e = s.firstEdge[i]; e < s.firstEdge[i + 1]; e += s.E) {
      if (s.edges[e + s.eType] === weak) continue
      const j = s.edges[e + s.eTo] / s.N
      if (parent[j] !== -1) continue
      parent[j] = i
      via[j] = e
      queue[tail++] = j
    }
  }
  return { parent, via }
}

function edgeLabel(s, e) {
  const type = s.edgeTypes[s.edges[e + s.eType]]
  const n = s.edges[e + s.eName]
  if (type === 'element' || type === 'hidden') return `[${n}]`
  return `.${s.strings[n]}`
}

function path(s, tree, i, max = 40) {
  const steps = []
  for (let k = 0; i !== 0 && k < max; k++) {
    const p = tree.parent[i]
    if (p === -1) return '(unreachable from the roots)'
    steps.push(`${edgeLabel(s, tree.via[i])} -> ${group(s, i)}`)
    i = p
  }
  return steps.reverse().join('\n      ')
}

const fmt = (n) => (Math.abs(n) >= 1024 * 1024 ? `${(n / 2 ** 20).toFixed(2)} MiB` : `${(n / 1024).toFixed(1)} KiB`)
const pad = (x, w) => String(x).padStart(w)

const a = load(files[0])
const b = load(files[1])
const ta = tally(a)
const tb = tally(b)
const totalA = [...ta.values()].reduce((x, t) => x + t.size, 0)
const totalB = [...tb.values()].reduce((x, t) => x + t.size, 0)
console.log(`before: ${a.count} nodes, ${fmt(totalA)}; after: ${b.count} nodes, ${fmt(totalB)}; difference ${fmt(totalB - totalA)}`)

const rows = []
for (const [g, t] of tb) {
  const o = ta.get(g) ?? { count: 0, size: 0 }
  rows.push({ g, dCount: t.count - o.count, dSize: t.size - o.size, count: t.count, size: t.size })
}
for (const [g, o] of ta) if (!tb.has(g)) rows.push({ g, dCount: -o.count, dSize: -o.size, count: 0, size: 0 })
rows.sort((x, y) => y.dSize - x.dSize)
console.log(`\ntop ${TOP} groups by growth of self size (after - before):`)
console.log(`${pad('d size', 12)} ${pad('d count', 9)} ${pad('size after', 12)} ${pad('count after', 11)}  group`)
for (const r of rows.slice(0, TOP)) {
  console.log(`${pad(fmt(r.dSize), 12)} ${pad(r.dCount, 9)} ${pad(fmt(r.size), 12)} ${pad(r.count, 11)}  ${r.g}`)
}

// Objects allocated between the snapshots that survived: ids the first snapshot lacks.
const before = new Set()
for (let i = 0; i < a.count; i++) before.add(a.nodes[i * a.N + a.id])
const isFresh = (i) => !before.has(b.nodes[i * b.N + b.id])
const fresh = tally(b, isFresh)
const freshRows = [...fresh.entries()].sort((x, y) => y[1].size - x[1].size)
const freshTotal = freshRows.reduce((x, [, t]) => x + t.size, 0)
console.log(`\nallocated between the snapshots and alive in the second: ${fmt(freshTotal)}; top ${TOP}:`)
for (const [g, t] of freshRows.slice(0, TOP)) console.log(`${pad(fmt(t.size), 12)} ${pad(t.count, 9)}  ${g}`)

const tree = parents(b)
if (PATHS > 0) {
  console.log(`\nretainer path of one new object in each of the top ${PATHS} groups:`)
  for (const [g, t] of freshRows.slice(0, PATHS)) {
    console.log(`  ${g} (${t.count} new):\n      ${path(b, tree, t.sample)}`)
  }
}

if (HOLDERS > 0) {
  // holder[i]: the first old node on i's shortest retainer path (-1: not reachable); filled in BFS order.
  const holder = new Int32Array(b.count).fill(-1)
  const order = []
  for (let i = 0; i < b.count; i++) if (tree.parent[i] !== -1) order.push(i)
  const depth = new Int32Array(b.count)
  for (const i of order) {
    let d = 0
    for (let j = i; j !== 0 && d < 10_000; j = tree.parent[j]) d++
    depth[i] = d
  }
  order.sort((x, y) => depth[x] - depth[y])
  // top[i]: the new object right below the holder on i's path (the root of the new subtree i is in).
  const top = new Int32Array(b.count).fill(-1)
  // A map's or an array's new backing store is looked through: the entries below it are the roots.
  const backing = (i) => {
    const label = edgeLabel(b, tree.via[i])
    return group(b, i) === '(array)' && (label === '.table' || label === '.elements' || label === '.properties')
  }
  for (const i of order) {
    if (!isFresh(i) || i === 0) holder[i] = i
    else {
      const p = tree.parent[i]
      holder[i] = holder[p]
      top[i] = top[p] >= 0 ? top[p] : holder[p] === p && backing(i) ? -1 : i
    }
  }
  const byHolder = new Map()
  for (let i = 0; i < b.count; i++) {
    if (!isFresh(i) || holder[i] < 0) continue
    let t = byHolder.get(holder[i])
    if (t === undefined) byHolder.set(holder[i], (t = { count: 0, size: 0 }))
    t.count++
    t.size += b.nodes[i * b.N + b.size]
  }
  // Holders on the same path in different instances (e.g. the same map of each of ten nodes) are summed:
  // indices in the path are replaced by '*'.
  const byPath = new Map()
  for (const [h, t] of byHolder) {
    const p = path(b, tree, h, 24)
    const key = p.replace(/\[\d+\]/g, '[*]').replace(/\.\d+ ->/g, '.* ->')
    let r = byPath.get(key)
    if (r === undefined) byPath.set(key, (r = { holders: 0, count: 0, size: 0, group: group(b, h), parts: new Map() }))
    r.holders++
    r.count += t.count
    r.size += t.size
    t.path = r
  }
  // What the new subtrees below each holder are: the edge to their root and the root's group.
  for (let i = 0; i < b.count; i++) {
    if (!isFresh(i) || holder[i] < 0) continue
    const r = byHolder.get(holder[i]).path
    const root = top[i] >= 0 ? top[i] : i
    const key = `${edgeLabel(b, tree.via[root]).replace(/\[\d+\]/, '[*]').replace(/^\.\d+$/, '.*')} -> ${group(b, root)}`
    let q = r.parts.get(key)
    if (q === undefined) r.parts.set(key, (q = { roots: new Set(), count: 0, size: 0 }))
    q.roots.add(root)
    q.count++
    q.size += b.nodes[i * b.N + b.size]
  }
  const rows = [...byPath.entries()].sort((x, y) => y[1].size - x[1].size)
  console.log(`\nnew objects by the old object holding them, summed over holders on the same path (top ${HOLDERS}):`)
  for (const [p, r] of rows.slice(0, HOLDERS)) {
    console.log(`${pad(fmt(r.size), 12)} ${pad(r.count, 9)}  in ${r.holders} ${r.group}:\n      ${p}`)
    const parts = [...r.parts.entries()].sort((x, y) => y[1].size - x[1].size).slice(0, 4)
    for (const [k, q] of parts) console.log(`        ${pad(fmt(q.size), 12)} ${pad(q.count, 8)} objects in ${q.roots.size} new ${k}`)
  }
}
