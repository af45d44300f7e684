// Property-based fuzzing of every decoder in src/protocol (attacks 15 and 21): random and mutated input
// either decodes (and then re-encodes to the same bytes: one encoding per value) or throws a
// ProtocolError subclass; never anything else, never slowly. FUZZ_RUNS raises the number of runs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { base32Decode } from '../../src/protocol/base32.js'
import { decodeContent, encodeContent } from '../../src/protocol/content.js'
import { decodeEnvelope, encodeEnvelope } from '../../src/protocol/envelope.js'
import { ProtocolError } from '../../src/protocol/errors.js'
import {
  decodeCommunityInvite,
  decodeContactInvite,
  encodeCommunityInvite,
  encodeContactInvite,
  formatCommunityInvite,
  formatContactInvite,
  parseInvite
} from '../../src/protocol/invite.js'
import { decodePrekeyRecord, encodePrekeyRecord, prekeyRecordKey, validatePrekeyRecord } from '../../src/protocol/records.js'
import { communityTopic, directTopic, inboxTopic, parseTopic } from '../../src/protocol/topics.js'
import { validateTopicEnvelope } from '../../src/protocol/validate.js'
import { bytes, FUZZ_RUNS } from './helpers.js'

const alice = IdentityKeyPair.fromSeed(bytes(32, 0xa1))
const T = 1_700_000_000_000

type Mutation = { at: number; op: 'flip' | 'set' | 'delete' | 'insert' | 'truncate'; value: number }

const mutationArb: fc.Arbitrary<Mutation[]> = fc.array(
  fc.record({
    at: fc.nat(),
    op: fc.constantFrom('flip', 'set', 'delete', 'insert', 'truncate') as fc.Arbitrary<Mutation['op']>,
    value: fc.nat(255)
  }),
  { minLength: 1, maxLength: 4 }
)

function mutate(input: Uint8Array, mutations: Mutation[]): Uint8Array {
  let b = Array.from(input)
  for (const m of mutations) {
    const i = b.length === 0 ? 0 : m.at % b.length
    if (m.op === 'flip' && b.length > 0) b[i] = b[i]! ^ (1 << (m.value % 8))
    else if (m.op === 'set' && b.length > 0) b[i] = m.value
    else if (m.op === 'delete') b.splice(i, 1)
    else if (m.op === 'insert') b.splice(i, 0, m.value)
    else if (m.op === 'truncate') b = b.slice(0, i)
  }
  return Uint8Array.from(b)
}

/** Calls `decode`; passes when it returns or throws a ProtocolError; checks it returned quickly. */
function survives<T>(decode: () => T): T | undefined {
  const start = performance.now()
  try {
    return decode()
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw new Error(`non-ProtocolError escaped: ${String(err)}`)
    return undefined
  } finally {
    expect(performance.now() - start).toBeLessThan(1000)
  }
}

const seeds = {
  envelope: [
    encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: bytes(81, 2), ciphertext: bytes(290, 3) }),
    encodeEnvelope({ kind: 'direct-prekey', timestamp: T, prekeyHeader: bytes(300, 1), ratchetHeader: bytes(81, 2), ciphertext: bytes(30, 3) }),
    encodeEnvelope({ kind: 'community', timestamp: T, sealed: bytes(441, 4) })
  ],
  content: [
    encodeContent({ type: 'text', body: 'hello', sentAt: T + 5, messageId: bytes(16, 1) }),
    encodeContent({ type: 'receipt', receipt: 'read', messageIds: [bytes(16, 1), bytes(16, 2)] }),
    encodeContent({ type: 'profile', displayName: 'Ada', relays: [bytes(8, 3)] }),
    encodeContent({ type: 'epoch-key-grant', grant: bytes(40, 5) })
  ],
  contact: encodeContactInvite({
    identity: alice.publicKey,
    displayName: 'Ada',
    peerId: bytes(38, 2),
    addresses: [bytes(8, 3)],
    relays: [bytes(8, 4)]
  }),
  community: encodeCommunityInvite({
    communityId: bytes(32, 1),
    name: 'club',
    epoch: 2,
    epochKey: bytes(32, 2),
    adminKeys: [bytes(32, 3)],
    addresses: []
  }),
  record: encodePrekeyRecord(LocalPrekeys.generate(alice, { oneTimeCount: 2, pq: false }).bundle(alice).encode())
}

const runs = { numRuns: FUZZ_RUNS }
const topics = [communityTopic(bytes(32, 7)), directTopic(bytes(32, 8)), inboxTopic(bytes(32, 9))]

describe('fuzz: random bytes never escape as anything but a ProtocolError', () => {
  it('all binary decoders', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1200 }), (input) => {
        survives(() => decodeEnvelope(input))
        survives(() => decodeContent(input))
        survives(() => decodeContactInvite(input))
        survives(() => decodeCommunityInvite(input))
        survives(() => decodePrekeyRecord(input))
        survives(() => validatePrekeyRecord(prekeyRecordKey(alice.publicKey.signingKey), input))
        for (const topic of topics) survives(() => validateTopicEnvelope(topic, input, { now: T }))
      }),
      runs
    )
  })

  it('random bytes in an envelope-sized buffer that starts like an envelope', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 509, maxLength: 509 }), (tail) => {
        const input = new Uint8Array(512)
        input.set([0x08, 0x01, 0x10], 0)
        input.set(tail, 3)
        survives(() => decodeEnvelope(input))
      }),
      runs
    )
  })

  it('text decoders', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), (s) => {
        survives(() => parseInvite(s))
        survives(() => parseInvite(`sotto:c1:${s}`))
        survives(() => base32Decode(s))
        survives(() => parseTopic(s))
      }),
      runs
    )
  })
})

describe('fuzz: mutated valid input decodes canonically or is rejected', () => {
  const cases: Array<[string, Uint8Array[], (b: Uint8Array) => unknown, ((v: never) => Uint8Array) | undefined]> = [
    ['envelope', seeds.envelope, decodeEnvelope, encodeEnvelope as (v: never) => Uint8Array],
    ['content', seeds.content, decodeContent, encodeContent as (v: never) => Uint8Array],
    ['contact invite', [seeds.contact], decodeContactInvite, encodeContactInvite as (v: never) => Uint8Array],
    ['community invite', [seeds.community], decodeCommunityInvite, encodeCommunityInvite as (v: never) => Uint8Array],
    ['prekey record', [seeds.record], (b) => validatePrekeyRecord(prekeyRecordKey(alice.publicKey.signingKey), b), undefined]
  ]
  it.each(cases)('%s', (_name, seedList, decode, encode) => {
    fc.assert(
      fc.property(fc.nat(seedList.length - 1), mutationArb, (which, mutations) => {
        const input = mutate(seedList[which]!, mutations)
        const value = survives(() => decode(input))
        if (value !== undefined && encode !== undefined) {
          expect(Buffer.from(encode(value as never)).equals(input)).toBe(true)
        }
      }),
      runs
    )
  })

  it('topic envelope check', () => {
    fc.assert(
      fc.property(fc.nat(seeds.envelope.length - 1), fc.nat(topics.length - 1), mutationArb, (which, t, mutations) => {
        survives(() => validateTopicEnvelope(topics[t]!, mutate(seeds.envelope[which]!, mutations), { now: T }))
      }),
      runs
    )
  })

  it('text invites', () => {
    const texts = [formatContactInvite(decodeContactInvite(seeds.contact)), formatCommunityInvite(decodeCommunityInvite(seeds.community))]
    fc.assert(
      fc.property(fc.nat(1), fc.nat(), fc.constantFrom('a', '7', '!', ' ', '', 'Z'), (which, at, ch) => {
        const t = texts[which]!
        const i = at % t.length
        survives(() => parseInvite(t.slice(0, i) + ch + t.slice(i + 1)))
      }),
      runs
    )
  })
})
