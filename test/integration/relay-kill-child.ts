// Child process of relay-kill.test.ts: opens a user on a data directory, and prints one JSON line per
// stored message (`{"count": n}`) until it is killed. Argon2id: TEST_ARGON2 (a test-only setting).
import '../../src/polyfill.js'
import '../../src/crypto/sodium.js'
import { openSotto } from '../../src/app/index.js'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'

const [home, passphrase, ...bootstrap] = process.argv.slice(2)
const app = await openSotto({
  home: home!,
  passphrase: passphrase!,
  argon2: TEST_ARGON2,
  listen: ['/ip4/127.0.0.1/tcp/0'],
  bootstrap,
  mdns: false,
  timings: { outboxIntervalMs: 100, outboxBackoffMs: 200, outboxMaxBackoffMs: 1_000, syncIntervalMs: 2_000 }
})
let count = 0
app.subscribe((m) => {
  if (m.conversation.startsWith('#')) process.stdout.write(`${JSON.stringify({ count: ++count })}\n`)
})
process.stdout.write(`${JSON.stringify({ ready: app.node.peerId })}\n`)
