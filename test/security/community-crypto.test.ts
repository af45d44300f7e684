// Attacks 10, 12 and 13 (community half) against the crypto layer (docs/PROTOCOL.md §8) and the topic check
// (§14.2). The app-level versions, with real nodes, are in app.test.ts.
import { describe, expect, it } from 'vitest'
import { CommunityEpoch, createReceiverState, createSenderChain, openCommunityMessage, sealCommunityMessage } from '../../src/crypto/community.js'
import {
  createControlStatement,
  createRotationStatement,
  encodeEpochKeyGrant,
  openEpochKeyGrant,
  verifyControlStatement
} from '../../src/crypto/community-control.js'
import { CryptoError, DecryptionError, EpochMismatchError, SignatureError, UnauthorizedIssuerError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, toHex, utf8 } from '../../src/crypto/primitives.js'
import { communityTopic, directTopic, encodeEnvelope, inboxTopic, TopicSignatureError, validateTopicEnvelope, WrongTopicError } from '../../src/protocol/index.js'
import { forge, resign } from '../crypto/community-helpers.js'

const T = 1_700_000_000_000
const admin = IdentityKeyPair.generate()
const alice = IdentityKeyPair.generate()
const mallory = IdentityKeyPair.generate()
const admins = new Set([toHex(admin.publicKey.signingKey)])

function post(epoch: CommunityEpoch, who: IdentityKeyPair, text: string): Uint8Array {
  return sealCommunityMessage(epoch, createSenderChain(epoch, who.publicKey.signingKey), who, utf8(text), T).sealed
}

describe('attack 10: impersonation inside a community', () => {
  it("attack 10: a member's message made to claim another member's identity is rejected, even re-signed with the topic key", () => {
    const epoch = CommunityEpoch.create()
    const states = createReceiverState(epoch)
    // Mallory holds the epoch key, so she can derive Alice's chain; she cannot sign as Alice.
    const onAliceChain = forge({ epoch, chainOwnerKey: alice.publicKey.signingKey, index: 0, signer: (m) => mallory.sign(m), body: utf8('I am alice') })
    expect(() => openCommunityMessage(epoch, states, onAliceChain)).toThrow(SignatureError)
    // Her own chain, with Alice's key written inside and her own signature.
    const onOwnChain = forge({
      epoch,
      chainOwnerKey: mallory.publicKey.signingKey,
      innerSenderKey: alice.publicKey.signingKey,
      index: 0,
      signer: (m) => mallory.sign(m)
    })
    expect(() => openCommunityMessage(epoch, states, onOwnChain)).toThrow(SignatureError)
    // Alice's real message with the body changed and the topic signature redone (Mallory has the topic key).
    const real = post(epoch, alice, 'real words')
    const changed = real.slice()
    changed[60] ^= 1
    expect(() => openCommunityMessage(epoch, states, resign(epoch, changed))).toThrow(DecryptionError)
    // Alice's own message opens and names her.
    expect(toHex(openCommunityMessage(epoch, states, real).senderKey)).toBe(toHex(alice.publicKey.signingKey))
  })
})

describe('attack 12: unauthorised rotation or membership change', () => {
  it('attack 12: a rotation, removal or admin grant signed by a non-admin, or tampered with, is rejected', () => {
    const epoch = CommunityEpoch.create()
    const next = epoch.next()
    const byMallory = createRotationStatement(epoch, next, mallory, T, [alice.publicKey.signingKey])
    expect(() => verifyControlStatement(byMallory, admins)).toThrow(UnauthorizedIssuerError)
    // A grant carrying Mallory's rotation: members refuse the new key.
    expect(() => openEpochKeyGrant(encodeEpochKeyGrant({ epoch: next, statement: byMallory }), admins)).toThrow(UnauthorizedIssuerError)
    // Mallory claims the admin as issuer but cannot sign as the admin.
    expect(() => verifyControlStatement({ ...byMallory, issuer: admin.publicKey.signingKey }, admins)).toThrow(SignatureError)
    // The admin's real rotation with the removed list or the new topic changed.
    const real = createRotationStatement(epoch, next, admin, T, [mallory.publicKey.signingKey])
    verifyControlStatement(real, admins)
    expect(() => verifyControlStatement({ ...real, removed: [alice.publicKey.signingKey] }, admins)).toThrow(SignatureError)
    expect(() => verifyControlStatement({ ...real, newTopicId: epoch.topicId }, admins)).toThrow(SignatureError)
    // A grant whose key is swapped for another epoch's: the statement names the real new topic id.
    const other = epoch.next()
    expect(() => encodeEpochKeyGrant({ epoch: other, statement: real })).toThrow(CryptoError)
    const grant = encodeEpochKeyGrant({ epoch: next, statement: real })
    const swapped = grant.slice()
    swapped.set(other.exportEpochKey(), 1 + 32 + 4)
    expect(() => openEpochKeyGrant(swapped, admins)).toThrow(CryptoError)
    expect(openEpochKeyGrant(grant, admins).epoch.topicIdHex).toBe(next.topicIdHex)
    // Making oneself admin.
    const selfPromotion = createControlStatement(
      {
        kind: 'admin-add',
        communityId: epoch.communityId,
        epoch: 0,
        newEpoch: 0,
        newTopicId: new Uint8Array(32),
        removed: [],
        added: [mallory.publicKey.signingKey],
        timestamp: T
      },
      mallory
    )
    expect(() => verifyControlStatement(selfPromotion, admins)).toThrow(UnauthorizedIssuerError)
  })
})

describe('attack 13: replay into another community, epoch or topic', () => {
  it('attack 13: a community message replayed into another community or epoch is rejected, even re-encrypted by a member of both', () => {
    const a = CommunityEpoch.create()
    const b = CommunityEpoch.create()
    const a1 = a.next()
    const sealed = post(a, alice, 'for community a, epoch 0')
    expect(() => openCommunityMessage(b, createReceiverState(b), sealed)).toThrow(CryptoError)
    expect(() => openCommunityMessage(a1, createReceiverState(a1), sealed)).toThrow(EpochMismatchError)
    // A member of both communities moves Alice's signed inner message into b (or into a's next epoch).
    for (const target of [b, a1]) {
      const moved = forge({
        epoch: target,
        chainOwnerKey: alice.publicKey.signingKey,
        index: 0,
        innerCommunityId: a.communityId,
        innerEpoch: a.epoch,
        signer: (m) => alice.sign(m)
      })
      expect(() => openCommunityMessage(target, createReceiverState(target), moved)).toThrow(EpochMismatchError)
    }
    // A control statement of community a (or of an earlier epoch) presented to community b (or later).
    const st = createRotationStatement(a, a1, admin, T, [])
    expect(() => verifyControlStatement(st, admins, { communityId: b.communityId })).toThrow(EpochMismatchError)
    expect(() => verifyControlStatement(st, admins, { communityId: a.communityId, epoch: 1 })).toThrow(EpochMismatchError)
  })

  it('attack 13: an envelope replayed onto another topic fails the router check (topic signature, kind per topic)', () => {
    const a = CommunityEpoch.create()
    const b = CommunityEpoch.create()
    const env = encodeEnvelope({ kind: 'community', timestamp: T, sealed: post(a, alice, 'hi') })
    expect(validateTopicEnvelope(communityTopic(a.topicId), env, { now: T }).kind).toBe('community')
    expect(() => validateTopicEnvelope(communityTopic(b.topicId), env, { now: T })).toThrow(TopicSignatureError)
    expect(() => validateTopicEnvelope(communityTopic(a.next().topicId), env, { now: T })).toThrow(TopicSignatureError)
    expect(() => validateTopicEnvelope(inboxTopic(alice.publicKey.signingKey), env, { now: T })).toThrow(WrongTopicError)
    const direct = encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: new Uint8Array(81).fill(1), ciphertext: new Uint8Array(40).fill(2) })
    expect(() => validateTopicEnvelope(communityTopic(a.topicId), direct, { now: T })).toThrow(WrongTopicError)
    expect(() => validateTopicEnvelope(inboxTopic(alice.publicKey.signingKey), direct, { now: T })).toThrow(WrongTopicError)
    expect(validateTopicEnvelope(directTopic(concatBytes(new Uint8Array(32).fill(9))), direct, { now: T }).kind).toBe('direct')
  })
})
