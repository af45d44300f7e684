// One node of the multi-process end-to-end benchmark (bench/e2e.mjs --processes), driven by its parent over IPC: a
// sotto user (dist/app) or a bare node (dist/node createSottoNode, `kind` raw), on which the parent may also run raw
// gossipsub (command `raw`). Reports deliveries of either side with absolute high-resolution times
// (performance.timeOrigin + performance.now(), one clock for the machine).
import '../dist/polyfill.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { initSotto, openSotto } from '../dist/app/index.js'
import { TEST_ARGON2 } from '../dist/crypto/atrest.js'
import { createSottoNode } from '../dist/node/index.js'
import { joinRaw, RAW_TOPIC, rawPayload, seqOf, textOf } from './e2e-common.mjs'

const [kind, name, bootstrapArg] = process.argv.slice(2)
const bootstrap = bootstrapArg ? bootstrapArg.split(',') : []
const now = () => performance.timeOrigin + performance.now()

let home
let app
let node
let payloadBytes = 1024
if (kind === 'sotto') {
  home = await mkdtemp(join(tmpdir(), 'sotto-bench-e2e-'))
  await initSotto({ home, passphrase: 'benchmark', name, argon2: TEST_ARGON2 })
  app = await openSotto({ home, passphrase: 'benchmark', argon2: TEST_ARGON2, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap, mdns: false })
  node = app.node
  app.subscribe((m) => {
    if (m.conversation === '#bench' && m.from !== 'me' && (m.status === 'received' || m.status === 'read')) {
      process.send({ ev: 'stored', side: 'sotto', seq: seqOf(m.text), at: now() })
    }
  })
  // The envelope size on the wire (the parent keeps the largest), reported when it grows: not one IPC message
  // per delivery, which the raw gossipsub side does not pay.
  let wireBytes = 0
  node.on('message', (m) => {
    if (m.topic.includes('/c/') && m.data.length > wireBytes) {
      wireBytes = m.data.length
      process.send({ ev: 'wire', bytes: wireBytes })
    }
  })
} else {
  node = await createSottoNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false, bootstrap })
  await node.start()
}

const handlers = {
  addresses: () => node.addresses(),
  peers: () => node.peers().length,
  cpu: () => {
    const u = process.cpuUsage()
    return u.user + u.system
  },
  dial: async ({ address }) => node.dial(address).catch(() => null),
  create: () => app.communityCreate('bench'),
  invite: () => app.communityInvite('bench'),
  join: ({ invite }) => app.communityJoin(invite),
  members: async () => (await app.communityMembers('bench')).length,
  send: async ({ seq }) => {
    await app.send('#bench', textOf(seq))
  },
  // raw gossipsub on this node too (joinRaw)
  raw: ({ bytes }) => {
    payloadBytes = bytes
    joinRaw(node, (seq) => process.send({ ev: 'stored', side: 'raw', seq, at: now() }))
  },
  publish: ({ seq }) => node.publish(RAW_TOPIC, rawPayload(seq, payloadBytes), { waitForPeersMs: 1000 }),
  stop: async () => {
    if (app) await app.stop()
    else await node.stop()
    if (home) await rm(home, { recursive: true, force: true })
    setTimeout(() => process.exit(0), 50)
  }
}

process.on('message', async (msg) => {
  try {
    const value = await handlers[msg.cmd](msg)
    process.send({ id: msg.id, value: value ?? null })
  } catch (err) {
    process.send({ id: msg.id, error: String(err?.stack ?? err) })
  }
})
process.send({ ev: 'ready' })
