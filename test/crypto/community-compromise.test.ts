// What someone who learns a topic (epoch) key can and cannot do: docs/PROTOCOL.md §8.8 states the same.
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  chainStep,
  createReceiverState,
  createSenderChain,
  messageKeyMaterial,
  openCommunityMessage,
  readCommunityEnvelope,
  sealCommunityMessage,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import { createRotationStatement, encodeEpochKeyGrant, openEpochKeyGrant, verifyControlStatement } from '../../src/crypto/community-control.js'
import {
  DecryptionError,
  DuplicateMessageError,
  EpochMismatchError,
  SignatureError,
  UnauthorizedIssuerError
} from '../../src/crypto/errors.js'
import { aeadDecrypt, toHex, utf8 } from '../../src/crypto/primitives.js'
import { bindingBytes, counterRandom, forge, identity, innerOf, resign, sender, type TestIdentity, type TestSender } from './community-helpers.js'

const alice = identity(0x0a) // admin
const bob = identity(0x0b)
const carol = identity(0x0c) // removed at the rotation from epoch 1 to 2
const eve = identity(0x0e) // learns the epoch-1 key later
const admins = new Set([toHex(alice.signingPublicKey)])
const text = (b: Uint8Array) => new TextDecoder().decode(b)

const ePrev = CommunityEpoch.create(counterRandom(1)) // epoch 0 ("e - 1")
const eCur = ePrev.next(counterRandom(100)) // epoch 1 ("e"): the key that leaks
const rotation = createRotationStatement(eCur, eCur.next(counterRandom(150)), alice, 1000, [carol.signingPublicKey])
const eNext = openEpochKeyGrant(encodeEpochKeyGrant({ epoch: eCur.next(counterRandom(150)), statement: rotation }), admins).epoch // epoch 2

function send(epoch: CommunityEpoch, who: TestIdentity, bodies: string[], from?: TestSender): Uint8Array[] {
  let s = from?.chain() ?? createSenderChain(epoch, who)
  return bodies.map((b, i) => {
    const r = sealCommunityMessage(epoch, s, who, utf8(b), i)
    s = r.state
    return r.sealed
  })
}

/** Alice's sender key of epoch e, whose seed the tests know (to show what its secret key, which Eve lacks, would do). */
const aliceCur = sender(eCur, alice, 0x5a)
const prevMsgs = send(ePrev, alice, ['prev-a0', 'prev-a1'])
const curMsgs = [...send(eCur, alice, ['cur-a0', 'cur-a1', 'cur-a2'], aliceCur), ...send(eCur, bob, ['cur-b0'])]
const nextMsgs = send(eNext, alice, ['next-a0', 'next-a1'])

/** Eve's copy of the epoch-1 key, learned after the fact (e.g. a leaked invite). */
const eveEpoch = CommunityEpoch.fromEpochKey(eCur.communityId, eCur.epoch, eCur.exportEpochKey())

describe('someone who learns the topic key of epoch e', () => {
  it('can read every message of epoch e they obtain, including ones sent before they learned the key', () => {
    let r = createReceiverState(eveEpoch)
    const bodies: string[] = []
    for (const m of curMsgs) {
      const o = openCommunityMessage(eveEpoch, r, m)
      bodies.push(text(o.body))
      r = o.states
    }
    expect(bodies).toEqual(['cur-a0', 'cur-a1', 'cur-a2', 'cur-b0'])
  })

  it('cannot read epoch e + 1 or e - 1 (independent random keys)', () => {
    const r = createReceiverState(eveEpoch)
    for (const m of [...nextMsgs, ...prevMsgs]) expect(() => openCommunityMessage(eveEpoch, r, m)).toThrow(EpochMismatchError)
    // Relabelling her key with the other epoch numbers does not help: wrong topic key, wrong chains.
    for (const [n, msgs] of [[2, nextMsgs], [0, prevMsgs]] as const) {
      const guess = CommunityEpoch.fromEpochKey(eCur.communityId, n, eveEpoch.exportEpochKey())
      for (const m of msgs) expect(() => openCommunityMessage(guess, createReceiverState(guess), m)).toThrow(DecryptionError)
    }
    expect(new Set([ePrev.topicIdHex, eveEpoch.topicIdHex, eNext.topicIdHex]).size).toBe(3)
  })

  it("cannot forge a message as another member (that needs the member's sender key or identity key)", () => {
    const r = createReceiverState(eCur)
    // Eve's own sender key, certified with her copy of the epoch key: routers accept her envelopes.
    const eveSender = sender(eveEpoch, eve, 0xe5)
    // What she can read of Alice's first message: Alice's identity key and her binding of her sender key.
    const aliceInner = innerOf(eveEpoch, curMsgs[0]!)
    const aliceBinding = aliceInner.slice(81, 145)
    expect(toHex(aliceInner.subarray(37, 69))).toBe(toHex(alice.signingPublicKey))
    const attempts = [
      // Alice's identity key and real binding moved onto Eve's chain: the binding names Alice's sender key.
      forge({ from: eveSender, index: 0, innerIdentityKey: alice.signingPublicKey, binding: aliceBinding }),
      // Alice's identity key with a binding Eve signs herself.
      forge({ from: eveSender, index: 0, innerIdentityKey: alice.signingPublicKey, binding: eve.sign(bindingBytes(eCur.communityId, eCur.epoch, eveSender.senderKey)) }),
      // Alice's identity key with a binding of zeros.
      forge({ from: eveSender, index: 0, innerIdentityKey: alice.signingPublicKey, binding: new Uint8Array(64) })
    ]
    for (const m of attempts) {
      expect(verifyCommunityEnvelope(eCur.topicId, m)).toBe(true)
      expect(() => openCommunityMessage(eCur, r, m)).toThrow(SignatureError)
    }
    // On Alice's own chain Eve can derive the keys and write Alice's identity and binding, but cannot sign the
    // envelope with Alice's sender key: her own key's signature, and her own certificate, fail the router check.
    const onAlicesChain = [
      forge({ from: aliceCur, epoch: eveEpoch, index: 3, body: utf8('alice: I quit'), envelopeSecretKey: eveSender.senderSecretKey }),
      resign(eveEpoch, eveSender.senderSecretKey, curMsgs[1]!)
    ]
    for (const m of onAlicesChain) {
      expect(verifyCommunityEnvelope(eCur.topicId, m)).toBe(false)
      expect(() => openCommunityMessage(eCur, r, m)).toThrow(DecryptionError)
    }
    // A real message of Alice's with its body changed and re-encrypted: same failure.
    const altered = curMsgs[0]!.slice()
    altered[60]! ^= 1
    expect(() => openCommunityMessage(eCur, r, altered)).toThrow(DecryptionError)
    // The only missing piece is Alice's sender secret key: with it, the same hand-built message would open.
    expect(text(openCommunityMessage(eCur, r, forge({ from: aliceCur, index: 3, body: utf8('control') })).body)).toBe('control')
    // None of these attempts used up Alice's index 0.
    expect(text(openCommunityMessage(eCur, r, curMsgs[0]!).body)).toBe('cur-a0')
  })

  it('can post in epoch e as themself, and the message names their own identity key', () => {
    // The crypto layer proves who wrote it; the app decides whether that key is a member.
    const [m] = send(eveEpoch, eve, ['hello from eve'])
    expect(verifyCommunityEnvelope(eCur.topicId, m!)).toBe(true)
    const o = openCommunityMessage(eCur, createReceiverState(eCur), m!)
    expect(toHex(o.senderKey)).toBe(toHex(eve.signingPublicKey))
    // Her certificate is the one the topic key gives any sender key: she needs nobody's help to make it.
    const { header, certificate } = readCommunityEnvelope(m!)
    expect(toHex(certificate)).toBe(toHex(eCur.certifySender(header.senderKey)))
  })
})

describe('a member removed at a rotation (holds the epoch e key, not e + 1)', () => {
  const carolEpoch = CommunityEpoch.fromEpochKey(eCur.communityId, eCur.epoch, eCur.exportEpochKey())

  it('the rotation statement is accepted from the admin and names the new topic id', () => {
    expect(() => verifyControlStatement(rotation, admins, { communityId: eCur.communityId, epoch: 1 })).not.toThrow()
    expect(toHex(rotation.newTopicId)).toBe(eNext.topicIdHex)
  })

  it('cannot read anything of epoch e + 1', () => {
    for (const m of nextMsgs) {
      expect(() => openCommunityMessage(carolEpoch, createReceiverState(carolEpoch), m)).toThrow(EpochMismatchError)
      const guess = CommunityEpoch.fromEpochKey(eCur.communityId, 2, carolEpoch.exportEpochKey())
      expect(() => openCommunityMessage(guess, createReceiverState(guess), m)).toThrow(DecryptionError)
    }
  })

  it('cannot produce anything that routers or members accept in epoch e + 1', () => {
    const guess = CommunityEpoch.fromEpochKey(eCur.communityId, 2, carolEpoch.exportEpochKey())
    const [fake] = send(guess, carol, ['still here'])
    expect(verifyCommunityEnvelope(eNext.topicId, fake!)).toBe(false)
    expect(() => openCommunityMessage(eNext, createReceiverState(eNext), fake!)).toThrow(DecryptionError)
    // Nor can she issue a rotation of her own.
    const hers = createRotationStatement(carolEpoch, carolEpoch.next(), carol, 2000)
    expect(() => verifyControlStatement(hers, admins)).toThrow(UnauthorizedIssuerError)
  })
})

describe('leaked chain state without the epoch key', () => {
  it('a receiver state does not hold the keys of messages it already opened', () => {
    let r = createReceiverState(eCur)
    for (const m of curMsgs.slice(0, 3)) r = openCommunityMessage(eCur, r, m).states
    const stolen = CommunityReceiverState.deserialize(r.serialize())
    for (const m of curMsgs.slice(0, 3)) expect(() => openCommunityMessage(eCur, stolen, m)).toThrow(DuplicateMessageError)
  })

  it('message keys derived forward from a leaked sender state at index n do not open messages before n', () => {
    let s = createSenderChain(eCur, bob)
    const earlier: Uint8Array[] = []
    for (let i = 0; i < 4; i++) {
      const r = sealCommunityMessage(eCur, s, bob, utf8(`b${i}`), i)
      earlier.push(r.sealed)
      s = r.state
    }
    // The chain key is the last 32 bytes of the serialised sender state (§8.7).
    const bytes = s.serialize()
    let ck: Uint8Array = bytes.slice(bytes.length - 32)
    expect(toHex(ck)).not.toBe(toHex(eCur.initialChainKey(s.senderKey)))
    for (let step = 0; step < 8; step++) {
      const { messageKey, nextChainKey } = chainStep(ck)
      const { aeadKey, nonce } = messageKeyMaterial(messageKey)
      for (const m of earlier) {
        const { headerBytes, ciphertext } = readCommunityEnvelope(m)
        expect(() => aeadDecrypt(aeadKey, nonce, ciphertext, headerBytes)).toThrow(DecryptionError)
      }
      ck = nextChainKey
    }
  })
})
