// Attack 21: property-based fuzzing (fast-check) of every decoder that reads bytes from outside, and of the
// ratchet. Random bytes and mutations of valid encodings must either decode (and then re-encode to the very
// same bytes where the format is canonical) or throw one of the layers' typed errors, quickly; never a
// TypeError, RangeError or a hang. `npm test` runs FUZZ_RUNS (default 200) cases per property;
// `npm run fuzz` runs 200,000.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  createReceiverState,
  createSenderChain,
  openCommunityMessage,
  SenderChainState,
  sealCommunityMessage,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import {
  createRotationStatement,
  decodeControlStatement,
  decodeEpochKeyGrant,
  encodeControlStatement,
  encodeEpochKeyGrant
} from '../../src/crypto/community-control.js'
import { CryptoError, DuplicateMessageError } from '../../src/crypto/errors.js'
import { IdentityKeyPair, IdentityPublicKey } from '../../src/crypto/identity.js'
import { pad, unpad } from '../../src/crypto/padding.js'
import { LocalPrekeys, PrekeyBundle } from '../../src/crypto/prekeys.js'
import { equalBytes, utf8 } from '../../src/crypto/primitives.js'
import { type RatchetMessage, RatchetSession } from '../../src/crypto/ratchet.js'
import { InitialHeader, initiateSession, respondSession } from '../../src/crypto/x3dh.js'
import {
  decodeCommunityInvite,
  decodeContactInvite,
  decodeContent,
  decodeEnvelope,
  decodePrekeyRecord,
  encodeCommunityInvite,
  encodeContactInvite,
  encodeContent,
  encodeEnvelope,
  encodePrekeyRecord,
  formatContactInvite,
  ProtocolError,
  parseInvite,
  prekeyRecordKey,
  validatePrekeyRecord,
  validateTopicEnvelope
} from '../../src/protocol/index.js'
import { decodeFrame, decodeMessage, encodeFrame, FrameType, SyncError } from '../../src/protocol/sync/index.js'
import { FUZZ_RUNS } from './helpers.js'

const T = 1_700_000_000_000
const runs = { numRuns: FUZZ_RUNS }
/** Long runs (`npm run fuzz`) need longer than vitest's default per-test timeout. */
const timeout = 30_000 + FUZZ_RUNS * 20
/** A decode slower than this is a failure (a hang or a blow-up), generous for a loaded machine. */
const SLOW_MS = 2_000

// Valid encodings of every format: the seeds that mutations start from.
const alice = IdentityKeyPair.generate()
const bob = IdentityKeyPair.generate()
const bobPrekeys = LocalPrekeys.generate(bob, { oneTimeCount: 2 })
const bundle = bobPrekeys.bundle(bob)
const setup = initiateSession(alice, bundle)
const aliceSession = RatchetSession.initAlice(setup.secrets, setup.theirRatchetKey)
const first = aliceSession.encrypt(pad(encodeContent({ type: 'text', body: 'hello', sentAt: T, messageId: new Uint8Array(16).fill(7) })))
const epoch = CommunityEpoch.create()
const next = epoch.next()
const statement = createRotationStatement(epoch, next, alice, T, [bob.publicKey.signingKey])
const sealed = sealCommunityMessage(epoch, createSenderChain(epoch, alice), alice, utf8('hi all'), T).sealed
const opened = openCommunityMessage(epoch, createReceiverState(epoch), sealed)

interface Decoder {
  name: string
  seed: Uint8Array
  decode: (b: Uint8Array) => unknown
  /** For canonical formats: the encoding of a decoded value. */
  encode?: (v: never) => Uint8Array
}

const decoders: Decoder[] = [
  {
    name: 'envelope',
    seed: encodeEnvelope({ kind: 'direct-prekey', timestamp: T, prekeyHeader: setup.initialHeader.encode(), ratchetHeader: first.message.header, ciphertext: first.message.ciphertext }),
    decode: decodeEnvelope,
    encode: encodeEnvelope
  },
  { name: 'community envelope', seed: encodeEnvelope({ kind: 'community', timestamp: T, sealed }), decode: decodeEnvelope, encode: encodeEnvelope },
  {
    name: 'topic envelope check',
    seed: encodeEnvelope({ kind: 'community', timestamp: T, sealed }),
    decode: (b) => validateTopicEnvelope(`/sotto/1/c/${epoch.topicIdHex}`, b, { now: T })
  },
  { name: 'content', seed: encodeContent({ type: 'receipt', receipt: 'read', messageIds: [new Uint8Array(16).fill(1)] }), decode: decodeContent, encode: encodeContent },
  { name: 'padded content', seed: pad(encodeContent({ type: 'profile', displayName: 'Ada', relays: [] })), decode: (b) => decodeContent(unpad(b)) },
  {
    name: 'contact invite',
    seed: encodeContactInvite({ identity: alice.publicKey, displayName: 'Ada', addresses: [utf8('addr')], relays: [] }),
    decode: decodeContactInvite,
    encode: encodeContactInvite
  },
  {
    name: 'community invite',
    seed: encodeCommunityInvite({ communityId: epoch.communityId, name: 'club', epoch: 0, epochKey: epoch.exportEpochKey(), adminKeys: [alice.publicKey.signingKey], addresses: [] }),
    decode: decodeCommunityInvite,
    encode: encodeCommunityInvite
  },
  { name: 'prekey record', seed: encodePrekeyRecord(bundle.encode()), decode: (b) => validatePrekeyRecord(prekeyRecordKey(bob.publicKey.signingKey), b) },
  { name: 'prekey record wrapper', seed: encodePrekeyRecord(bundle.encode()), decode: decodePrekeyRecord, encode: encodePrekeyRecord },
  { name: 'prekey bundle', seed: bundle.encode(), decode: (b) => PrekeyBundle.decode(b), encode: (v: PrekeyBundle) => v.encode() },
  { name: 'identity public key', seed: alice.publicKey.serialize(), decode: (b) => IdentityPublicKey.deserialize(b), encode: (v: IdentityPublicKey) => v.serialize() },
  { name: 'initial header', seed: setup.initialHeader.encode(), decode: (b) => InitialHeader.open(bob, bobPrekeys, b), encode: (v: InitialHeader) => v.encode() },
  {
    name: 'initial header + set-up',
    seed: setup.initialHeader.encode(),
    decode: (b) => respondSession(bob, bobPrekeys, b)
  },
  { name: 'ratchet state', seed: aliceSession.serialize(), decode: (b) => RatchetSession.deserialize(b), encode: (v: RatchetSession) => v.serialize() },
  {
    name: 'ratchet message (header)',
    seed: first.message.header,
    decode: (b) => bobSession().decrypt({ header: b, ciphertext: first.message.ciphertext })
  },
  {
    name: 'ratchet message (ciphertext)',
    seed: first.message.ciphertext,
    decode: (b) => bobSession().decrypt({ header: first.message.header, ciphertext: b })
  },
  { name: 'community sealed message', seed: sealed, decode: (b) => openCommunityMessage(epoch, createReceiverState(epoch), b) },
  { name: 'router check of a community envelope', seed: sealed, decode: (b) => verifyCommunityEnvelope(epoch.topicId, b) || undefined },
  { name: 'community receiver state', seed: opened.states.serialize(), decode: (b) => CommunityReceiverState.deserialize(b) },
  { name: 'sender chain state', seed: createSenderChain(epoch, alice).serialize(), decode: (b) => SenderChainState.deserialize(b) },
  { name: 'control statement', seed: encodeControlStatement(statement), decode: decodeControlStatement, encode: encodeControlStatement },
  { name: 'epoch key grant', seed: encodeEpochKeyGrant({ epoch: next, statement }), decode: decodeEpochKeyGrant, encode: encodeEpochKeyGrant },
  { name: 'sync frame (open)', seed: encodeFrame({ type: FrameType.Open, topic: '/sotto/1/c/aa', message: Uint8Array.of(0x61, 0, 0, 2, 0) }), decode: (b) => decodeFrame(b), encode: encodeFrame },
  {
    name: 'sync frame (envelopes)',
    seed: encodeFrame({ type: FrameType.Envelopes, envelopes: [{ id: new Uint8Array(32).fill(1), bytes: sealed }] }),
    decode: (b) => decodeFrame(b),
    encode: encodeFrame
  },
  { name: 'sync frame (want)', seed: encodeFrame({ type: FrameType.Want, ids: [new Uint8Array(32).fill(2)] }), decode: (b) => decodeFrame(b), encode: encodeFrame },
  { name: 'sync message', seed: Uint8Array.of(0x61, 0x02, 0x00, 0x01, ...new Uint8Array(16), 0x00, 0x00, 0x02, 0x00), decode: (b) => decodeMessage(b) }
]

/** Bob's session before Alice's first message (sessions are immutable: one instance serves every case). */
const bobStart = (() => {
  const r = respondSession(bob, bobPrekeys, setup.initialHeader)
  return RatchetSession.initBob(r.secrets, r.ourRatchetKeyPair)
})()
function bobSession(): RatchetSession {
  return bobStart
}

type Mutation = { at: number; op: 'flip' | 'set' | 'delete' | 'insert' | 'truncate' | 'dup'; value: number }
const mutations: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom<Mutation['op']>('flip', 'set', 'delete', 'insert', 'truncate', 'dup'),
    value: fc.nat(255)
  }),
  { minLength: 1, maxLength: 5 }
)

function mutate(input: Uint8Array, ms: Mutation[]): Uint8Array {
  let b = Array.from(input)
  for (const m of ms) {
    const i = b.length === 0 ? 0 : m.at % b.length
    if (m.op === 'flip' && b.length > 0) b[i] = b[i]! ^ (1 << (m.value % 8))
    else if (m.op === 'set' && b.length > 0) b[i] = m.value
    else if (m.op === 'delete') b.splice(i, 1)
    else if (m.op === 'insert') b.splice(i, 0, m.value)
    else if (m.op === 'truncate') b = b.slice(0, i)
    else if (m.op === 'dup') b.splice(i, 0, ...b.slice(i, i + 1 + (m.value % 64)))
  }
  return Uint8Array.from(b)
}

/** Decodes; a typed error is a rejection; anything else (or a slow answer) fails the property. */
function survives(d: Decoder, bytes: Uint8Array): unknown {
  const start = performance.now()
  let value: unknown
  try {
    value = d.decode(bytes)
  } catch (err) {
    if (!(err instanceof ProtocolError || err instanceof CryptoError || err instanceof SyncError)) throw new Error(`${d.name}: untyped ${String(err)}`)
    value = undefined
  }
  const took = performance.now() - start
  if (took > SLOW_MS) throw new Error(`${d.name}: took ${took.toFixed(0)} ms`)
  return value
}

describe('attack 21: fuzzing', () => {
  it('attack 21: every seed decodes (the fuzzers start from valid input)', () => {
    for (const d of decoders) expect(() => d.decode(d.seed), d.name).not.toThrow()
    expect(decoders.length).toBeGreaterThanOrEqual(26)
  })

  it('attack 21: random bytes to every decoder are rejected with a typed error, quickly', { timeout }, () => {
    for (const d of decoders) {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: Math.max(64, d.seed.length * 2) }), (b) => {
          survives(d, b)
        }),
        runs
      )
    }
  })

  it('attack 21: mutated valid input is rejected or decodes to a value that encodes to the same bytes', { timeout }, () => {
    for (const d of decoders) {
      fc.assert(
        fc.property(mutations, (ms) => {
          const bytes = mutate(d.seed, ms)
          const value = survives(d, bytes)
          if (value !== undefined && d.encode !== undefined) {
            expect(equalBytes(d.encode(value as never), bytes), d.name).toBe(true)
          }
        }),
        runs
      )
    }
  })

  it('attack 21: text invites with random and mutated text are rejected with a typed error', { timeout }, () => {
    const text = formatContactInvite({ identity: alice.publicKey, displayName: 'Ada', addresses: [], relays: [] })
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 400 }), fc.tuple(fc.nat(text.length), fc.string({ maxLength: 3 })).map(([i, s]) => text.slice(0, i) + s + text.slice(i + 1))), (s) => {
        try {
          parseInvite(s)
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
        }
      }),
      runs
    )
  })

  it('attack 21: the ratchet under random delivery, loss, duplication and tampering decrypts each genuine message once and rejects the rest without changing state', { timeout }, () => {
    const action = fc.record({
      from: fc.constantFrom<'a' | 'b'>('a', 'b'),
      op: fc.constantFrom<'send' | 'deliver' | 'replay' | 'tamper' | 'drop'>('send', 'send', 'deliver', 'deliver', 'replay', 'tamper', 'drop'),
      pick: fc.nat(),
      bit: fc.nat()
    })
    fc.assert(
      fc.property(fc.array(action, { minLength: 1, maxLength: 40 }), (actions) => {
        const s = { a: first.session, b: bobSession() }
        // Bob needs Alice's first message before he can send.
        s.b = s.b.decrypt(first.message).session
        const inFlight = { a: [] as Array<{ m: RatchetMessage; text: string }>, b: [] as Array<{ m: RatchetMessage; text: string }> }
        const delivered = { a: [] as Array<{ m: RatchetMessage; text: string }>, b: [] as Array<{ m: RatchetMessage; text: string }> }
        let count = 0
        for (const x of actions) {
          const to = x.from === 'a' ? 'b' : 'a'
          if (x.op === 'send') {
            const text = `${x.from}${count++}`
            const r = s[x.from].encrypt(utf8(text))
            s[x.from] = r.session
            inFlight[x.from].push({ m: r.message, text })
            continue
          }
          const queue = x.op === 'replay' ? delivered[x.from] : inFlight[x.from]
          if (queue.length === 0) continue
          const i = x.pick % queue.length
          const item = queue[i]!
          if (x.op === 'drop') {
            queue.splice(i, 1)
            continue
          }
          const before = s[to].serialize()
          if (x.op === 'deliver') {
            const r = s[to].decrypt(item.m)
            expect(new TextDecoder().decode(r.plaintext)).toBe(item.text)
            s[to] = r.session
            queue.splice(i, 1)
            delivered[x.from].push(item)
            continue
          }
          let m = item.m
          if (x.op === 'tamper') {
            const field = x.bit % 2 === 0 ? 'header' : 'ciphertext'
            const bytes = m[field].slice()
            const bit = (x.bit >> 1) % (bytes.length * 8)
            bytes[bit >> 3]! ^= 1 << (bit & 7)
            m = { ...m, [field]: bytes }
          }
          expect(() => s[to].decrypt(m)).toThrow(x.op === 'replay' ? DuplicateMessageError : CryptoError)
          expect(equalBytes(s[to].serialize(), before)).toBe(true)
        }
      }),
      { numRuns: Math.max(20, Math.floor(FUZZ_RUNS / 4)) }
    )
  })
})
