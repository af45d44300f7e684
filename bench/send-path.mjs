// Scratch micro-benchmark of a community send, up to the network: two users in one process; the second sends N
// texts one at a time, each awaited until the first stores it; reports the time from send() to gossipsub's publish
// call over the second half. node bench/send-path.mjs [N] (add --cpu-prof to profile). Not part of npm run bench.
import '../dist/polyfill.js'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initSotto, openSotto } from '../dist/app/index.js'
import { TEST_ARGON2 } from '../dist/crypto/atrest.js'
const { GossipSub } = await import('../node_modules/@libp2p/gossipsub/dist/src/gossipsub.js')
const users = []
for (let i = 0; i < 2; i++) {
  const home = await mkdtemp(join(tmpdir(), 'sp-'))
  await initSotto({ home, passphrase: 'p', name: `u${i}`, argon2: TEST_ARGON2 })
  users.push(await openSotto({ home, passphrase: 'p', argon2: TEST_ARGON2, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: i ? users[0].node.addresses() : [], mdns: false }))
}
const [a, b] = users
await a.communityCreate('c')
await b.communityJoin(await a.communityInvite('c'))
while ((await a.communityMembers('c')).length < 2) await new Promise((r) => setTimeout(r, 50))
let t0 = 0
const d = []
const orig = GossipSub.prototype.publish
GossipSub.prototype.publish = function (topic, data, o) {
  if (t0 && topic.includes('/c/')) { d.push(performance.now() - t0); t0 = 0 }
  return orig.call(this, topic, data, o)
}
let got
a.subscribe((m) => { if (m.from !== 'me' && got) got() })
const N = Number(process.argv[2] ?? 2000)
for (let i = 0; i < N; i++) {
  if (i === N / 2) { d.length = 0; process.emit('sp-measure') }
  const p = new Promise((r) => (got = r))
  t0 = performance.now()
  await b.send('#c', `text ${i} `.padEnd(200, 'x'))
  await p
}
d.sort((x, y) => x - y)
console.log(`send -> publish: p50 ${d[d.length >> 1].toFixed(3)} ms, p90 ${d[Math.floor(d.length * 0.9)].toFixed(3)} ms (n=${d.length})`)
await Promise.all(users.map((u) => u.stop()))
process.exit(0)
