import { describe, expect, it } from 'vitest'
import { CommunityEpoch, createSenderChain, MIN_SEALED_BYTES, sealCommunityMessage } from '../../src/crypto/community.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { encodeContent } from '../../src/protocol/content.js'
import { encodeEnvelope } from '../../src/protocol/envelope.js'
import {
  MalformedError,
  TimestampError,
  TopicSignatureError,
  WrongTopicError
} from '../../src/protocol/errors.js'
import { communityTopic, directTopic, inboxTopic } from '../../src/protocol/topics.js'
import { MAX_FUTURE_SKEW_MS, validateTopicEnvelope } from '../../src/protocol/validate.js'
import { bytes, protocolErrorOf } from './helpers.js'

const NOW = 1_767_225_600_000
const member = IdentityKeyPair.fromSeed(bytes(32, 0x31))
const epoch = CommunityEpoch.fromEpochKey(bytes(32, 1), 0, bytes(32, 2))
const other = CommunityEpoch.fromEpochKey(bytes(32, 1), 1, bytes(32, 3))
const signer = { signingPublicKey: member.publicKey.signingKey, sign: (m: Uint8Array) => member.sign(m) }

function sealed(e: CommunityEpoch): Uint8Array {
  const body = encodeContent({ type: 'text', body: 'hi', sentAt: NOW, messageId: bytes(16, 9) })
  return sealCommunityMessage(e, createSenderChain(e, signer), signer, body, NOW).sealed
}

describe('topic envelope check (attack 9: non-members publishing are dropped; attack 13: wrong topic)', () => {
  const cTopic = communityTopic(epoch.topicId)
  const good = encodeEnvelope({ kind: 'community', timestamp: NOW, sealed: sealed(epoch) })

  it('accepts a key holder\'s envelope on its own topic', () => {
    expect(validateTopicEnvelope(cTopic, good, { now: NOW }).kind).toBe('community')
  })

  it('rejects a sealed message of another epoch (its sender key not certified by this topic key)', () => {
    const foreign = encodeEnvelope({ kind: 'community', timestamp: NOW, sealed: sealed(other) })
    expect(protocolErrorOf(() => validateTopicEnvelope(cTopic, foreign, { now: NOW }))).toBeInstanceOf(TopicSignatureError)
  })

  it('rejects random sealed bytes from a non-member', () => {
    const junk = encodeEnvelope({ kind: 'community', timestamp: NOW, sealed: bytes(MIN_SEALED_BYTES, 1) })
    expect(protocolErrorOf(() => validateTopicEnvelope(cTopic, junk, { now: NOW }))).toBeInstanceOf(TopicSignatureError)
  })

  it('rejects an envelope whose certificate or sender signature was changed, also after a good one was checked', () => {
    const s = sealed(epoch)
    expect(validateTopicEnvelope(cTopic, encodeEnvelope({ kind: 'community', timestamp: NOW, sealed: s }), { now: NOW }).kind).toBe('community')
    for (const at of [s.length - 100, s.length - 1, 60]) {
      const bad = s.slice()
      bad[at]! ^= 1
      const env = encodeEnvelope({ kind: 'community', timestamp: NOW, sealed: bad })
      expect(protocolErrorOf(() => validateTopicEnvelope(cTopic, env, { now: NOW }))).toBeInstanceOf(TopicSignatureError)
    }
  })

  it('rejects a valid envelope on a topic of another kind', () => {
    expect(protocolErrorOf(() => validateTopicEnvelope(directTopic(bytes(32)), good, { now: NOW }))).toBeInstanceOf(WrongTopicError)
    const direct = encodeEnvelope({ kind: 'direct', timestamp: NOW, ratchetHeader: bytes(81), ciphertext: bytes(272) })
    expect(protocolErrorOf(() => validateTopicEnvelope(inboxTopic(bytes(32)), direct, { now: NOW }))).toBeInstanceOf(WrongTopicError)
    expect(validateTopicEnvelope(directTopic(bytes(32)), direct, { now: NOW }).kind).toBe('direct')
  })

  it('rejects timestamps too far ahead, accepts old ones (sync) and the skew itself', () => {
    expect(validateTopicEnvelope(cTopic, good, { now: NOW - MAX_FUTURE_SKEW_MS }).kind).toBe('community')
    expect(protocolErrorOf(() => validateTopicEnvelope(cTopic, good, { now: NOW - MAX_FUTURE_SKEW_MS - 1 }))).toBeInstanceOf(
      TimestampError
    )
    expect(validateTopicEnvelope(cTopic, good, { now: NOW + 365 * 86_400_000 }).kind).toBe('community')
  })

  it('rejects foreign topic names and malformed data', () => {
    expect(protocolErrorOf(() => validateTopicEnvelope('/chat/general', good, { now: NOW }))).toBeInstanceOf(MalformedError)
    expect(protocolErrorOf(() => validateTopicEnvelope(cTopic, bytes(512), { now: NOW }))).toBeInstanceOf(Error)
  })
})
