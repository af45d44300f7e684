// Scratch micro-benchmark: what one operation costs warm (the mean of 1000 in a row) and as the first thing a
// process does after idling for PAUSE ms (the median of 60), as each message of the end-to-end latency phase
// starts (bench/e2e.mjs pauses 50 ms between messages). A pure JavaScript loop, which touches almost no memory, is
// the control. node bench/cold-start.mjs [PAUSE] (build dist/ first). Not part of npm run bench.
import { CommunityEpoch, SenderChainState, sealCommunityMessage } from '../dist/crypto/community.js'
import { IdentityKeyPair } from '../dist/crypto/identity.js'
import { aeadEncrypt, blake2b, randomBytes } from '../dist/crypto/primitives.js'
import { curve } from '../dist/crypto/sodium.js'
import { encodeContent } from '../dist/protocol/index.js'

const PAUSE = Number(process.argv[2] ?? 50)
const data = randomBytes(1000)
const key = randomBytes(32)
const nonce = randomBytes(24)
const identity = IdentityKeyPair.generate()
const signer = curve.signSeedKeypair(randomBytes(32))
const signature = curve.signDetached(data, signer.secretKey)
const epoch = CommunityEpoch.create()
let chain = SenderChainState.create(epoch, identity)
const content = () => encodeContent({ type: 'text', body: 'x'.repeat(200), sentAt: Date.now(), messageId: randomBytes(16) })

const ops = {
  'JavaScript loop (control)': () => {
    let x = 0
    for (let i = 0; i < 20_000; i++) x = (x * 31 + i) | 0
    return x
  },
  'BLAKE2b-256, 1000 bytes': () => blake2b(data, 32),
  'XChaCha20-Poly1305 seal, 1000 bytes': () => aeadEncrypt(key, nonce, data, new Uint8Array(0)),
  'Ed25519 verify': () => curve.verifyDetached(signature, data, signer.publicKey),
  'community message seal': () => {
    chain = sealCommunityMessage(epoch, chain, identity, content(), Date.now()).state
  }
}

console.log(`warm: mean of 1000 in a row; cold: median of 60, each the first operation after ${PAUSE} ms idle`)
for (const [name, op] of Object.entries(ops)) {
  for (let i = 0; i < 1000; i++) op()
  const t0 = performance.now()
  for (let i = 0; i < 1000; i++) op()
  const warm = performance.now() - t0
  const cold = []
  for (let i = 0; i < 60; i++) {
    await new Promise((resolve) => setTimeout(resolve, PAUSE))
    const t = performance.now()
    op()
    cold.push(performance.now() - t)
  }
  cold.sort((a, b) => a - b)
  const c = cold[30] * 1000
  console.log(`${name.padEnd(38)} warm ${warm.toFixed(1).padStart(6)} µs   cold ${c.toFixed(1).padStart(6)} µs   (${(c / warm).toFixed(1)}x)`)
}
