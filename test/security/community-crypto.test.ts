// Attacks 10, 12 and 13 (community half) against the crypto layer (docs/PROTOCOL.md §8) and the topic check
// (§14.2). The app-level versions, with real nodes, are in app.test.ts.
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  createReceiverState,
  createSenderChain,
  openCommunityMessage,
  readCommunityEnvelope,
  sealCommunityMessage,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import {
  createControlStatement,
  createRotationStatement,
  encodeEpochKeyGrant,
  openEpochKeyGrant,
  verifyControlStatement
} from '../../src/crypto/community-control.js'
import { CryptoError, DecryptionError, EpochMismatchError, SignatureError, UnauthorizedIssuerError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, ed25519Verify, toHex, utf8 } from '../../src/crypto/primitives.js'
import { communityTopic, directTopic, encodeEnvelope, inboxTopic, TopicSignatureError, validateTopicEnvelope, WrongTopicError } from '../../src/protocol/index.js'
import { bindingBytes, forge, innerOf, resign, sender } from '../crypto/community-helpers.js'

const T = 1_700_000_000_000
const admin = IdentityKeyPair.generate()
const alice = IdentityKeyPair.generate()
const mallory = IdentityKeyPair.generate()
const admins = new Set([toHex(admin.publicKey.signingKey)])

function post(epoch: CommunityEpoch, who: IdentityKeyPair, text: string): Uint8Array {
  return sealCommunityMessage(epoch, createSenderChain(epoch, who), who, utf8(text), T).sealed
}

describe('attack 10: impersonation inside a community', () => {
  it("attack 10: a member's message made to claim another member's identity is rejected, even with a valid certificate and envelope signature", () => {
    const epoch = CommunityEpoch.create()
    const states = createReceiverState(epoch)
    // Mallory holds the epoch key, so she certifies sender keys of her own and reads Alice's messages.
    const mal = sender(epoch, mallory, 0x6d)
    const real = post(epoch, alice, 'real words')
    const aliceSenderKey = readCommunityEnvelope(real).header.senderKey
    const aliceBinding = innerOf(epoch, real).slice(81, 145)
    const onOwnChain = [
      // Alice's identity key and real binding: the binding names Alice's sender key, not Mallory's.
      forge({ from: mal, index: 0, innerIdentityKey: alice.publicKey.signingKey, binding: aliceBinding, body: utf8('I am alice') }),
      // Alice's identity key with Mallory's binding of her own sender key.
      forge({ from: mal, index: 0, innerIdentityKey: alice.publicKey.signingKey, body: utf8('I am alice') })
    ]
    for (const m of onOwnChain) {
      expect(verifyCommunityEnvelope(epoch.topicId, m)).toBe(true)
      expect(() => openCommunityMessage(epoch, states, m)).toThrow(SignatureError)
    }
    // Alice's sender key named in the header (Mallory can derive its chain and certify it) but signed by Mallory.
    const onAliceChain = forge({
      from: mal,
      headerSenderKey: aliceSenderKey,
      certificate: epoch.certifySender(aliceSenderKey),
      index: 1,
      innerIdentityKey: alice.publicKey.signingKey,
      binding: aliceBinding,
      body: utf8('I am alice')
    })
    expect(verifyCommunityEnvelope(epoch.topicId, onAliceChain)).toBe(false)
    expect(() => openCommunityMessage(epoch, states, onAliceChain)).toThrow(DecryptionError)
    // Alice's real message with the body changed, re-certified and re-signed with Mallory's sender key.
    const changed = real.slice()
    changed[60]! ^= 1
    expect(() => openCommunityMessage(epoch, states, resign(epoch, mal.senderSecretKey, changed))).toThrow(DecryptionError)
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
    // A member of both communities moves Alice's identity and binding (of her sender key in a, epoch 0) into b
    // (or into a's next epoch) on a sender key of his own.
    const aliceBinding = innerOf(a, sealed).slice(81, 145)
    for (const [n, target] of [b, a1].entries()) {
      const own = sender(target, mallory, 0x70 + n)
      const asInA = forge({
        from: own,
        index: 0,
        innerCommunityId: a.communityId,
        innerEpoch: a.epoch,
        innerIdentityKey: alice.publicKey.signingKey,
        binding: aliceBinding
      })
      expect(() => openCommunityMessage(target, createReceiverState(target), asInA)).toThrow(EpochMismatchError)
      const relabelled = forge({ from: own, index: 0, innerIdentityKey: alice.publicKey.signingKey, binding: aliceBinding })
      expect(() => openCommunityMessage(target, createReceiverState(target), relabelled)).toThrow(SignatureError)
      // Alice's binding verifies only for the community, epoch and sender key it names.
      expect(verifyBinding(alice, a, readCommunityEnvelope(sealed).header.senderKey, aliceBinding)).toBe(true)
      expect(verifyBinding(alice, target, readCommunityEnvelope(sealed).header.senderKey, aliceBinding)).toBe(false)
    }
    // A control statement of community a (or of an earlier epoch) presented to community b (or later).
    const st = createRotationStatement(a, a1, admin, T, [])
    expect(() => verifyControlStatement(st, admins, { communityId: b.communityId })).toThrow(EpochMismatchError)
    expect(() => verifyControlStatement(st, admins, { communityId: a.communityId, epoch: 1 })).toThrow(EpochMismatchError)
  })

  it('attack 13: an envelope replayed onto another topic fails the router check (certificate, kind per topic)', () => {
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

function verifyBinding(who: IdentityKeyPair, epoch: CommunityEpoch, senderKey: Uint8Array, binding: Uint8Array): boolean {
  return ed25519Verify(who.publicKey.signingKey, bindingBytes(epoch.communityId, epoch.epoch, senderKey), binding)
}
