// Scratch micro-benchmark of one received community message, stage by stage (validate, open, content decode,
// batch building, commit), without libp2p: node bench/receive-path.mjs [N] [SENDERS] (senders take turns, as the
// members of the end-to-end benchmark's community do; default 9). Not part of npm run bench.
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openLevelStore } from '../dist/store/index.js'
import { CommunityEpoch, SenderChainState, CommunityReceiverState, sealCommunityMessage, openCommunityMessage } from '../dist/crypto/community.js'
import { IdentityKeyPair } from '../dist/crypto/identity.js'
import { randomBytes, toHex, utf8 } from '../dist/crypto/primitives.js'
import { coarseTimestamp, communityTopic, decodeContent, encodeContent, encodeEnvelope, envelopeId, validateTopicEnvelope } from '../dist/protocol/index.js'
const ARGON2 = { opsLimit: 1, memLimit: 8192 }
const home = mkdtempSync(join(tmpdir(), 'recv-'))
const store = await openLevelStore(join(home, 's'), 'bench', { create: true, argon2: ARGON2 })
const epoch = CommunityEpoch.create()
const N = Number(process.argv[2] ?? 3000)
const SENDERS = Number(process.argv[3] ?? 9)
const ids = Array.from({ length: SENDERS }, () => IdentityKeyPair.generate())
const chains = ids.map((id) => SenderChainState.create(epoch, id))
const envs = []
const topic = communityTopic(epoch.topicId)
for (let i = 0; i < N; i++) {
  const sentAt = Date.now() + i
  const k = i % SENDERS
  const s = sealCommunityMessage(epoch, chains[k], ids[k], encodeContent({ type: 'text', body: 'x'.repeat(200), sentAt, messageId: randomBytes(16) }), sentAt)
  chains[k] = s.state
  envs.push(encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed: s.sealed }))
}
let states = CommunityReceiverState.create(epoch)
const cid = toHex(randomBytes(16))
const T = { validate: 0, open: 0, content: 0, batch: 0, commit: 0 }
const t00 = performance.now()
const cpu0 = process.cpuUsage()
for (const bytes of envs) {
  let t = performance.now()
  const env = validateTopicEnvelope(topic, bytes)
  T.validate += performance.now() - t; t = performance.now()
  const opened = openCommunityMessage(epoch, states, env.sealed, { envelopeChecked: true })
  T.open += performance.now() - t; t = performance.now()
  const content = decodeContent(opened.body)
  T.content += performance.now() - t; t = performance.now()
  const b = store.batch()
  b.putEnvelope(utf8(topic), envelopeId(bytes), env.timestamp, bytes)
  b.putMessage({ id: toHex(content.messageId), conversation: cid, direction: 'in', sender: toHex(opened.senderKey), text: content.body, sentAt: opened.timestamp, receivedAt: Date.now(), status: 'received' }, { ifNew: true })
  // as the app stores a receiver state: the chain entries the message changed (PROTOCOL.md §10.6); WHOLE=1: the
  // whole state, as before
  if (process.env.WHOLE === '1') b.setChainState(cid, 'recv:0', opened.states.serialize())
  else for (const k of opened.states.change.written) b.setChainState(cid, `recv:0:${k}`, opened.states.chainEntry(k))
  T.batch += performance.now() - t; t = performance.now()
  await b.commit()
  T.commit += performance.now() - t
  states = opened.states
}
const wall = performance.now() - t00
const cpu = process.cpuUsage(cpu0)
for (const [k, v] of Object.entries(T)) console.log(k.padEnd(10), ((v * 1000) / N).toFixed(1), 'us')
console.log('wall per msg', ((wall * 1000) / N).toFixed(1), 'us; cpu per msg', ((cpu.user + cpu.system) / N).toFixed(1), 'us')
await store.close()
