// Generator of test/vectors/community_epoch.json (docs/PROTOCOL.md §8, §16). With WRITE_VECTORS=1 it writes the
// file; otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  COMMUNITY_LABELS,
  CommunityEpoch,
  chainStep,
  createReceiverState,
  createSenderChain,
  deriveEpochKeys,
  messageKeyMaterial,
  openCommunityMessage,
  readCommunityEnvelope,
  sealCommunityMessage
} from '../../src/crypto/community.js'
import { createRotationStatement, encodeControlStatement, encodeEpochKeyGrant } from '../../src/crypto/community-control.js'
import { pad } from '../../src/crypto/padding.js'
import { aeadDecrypt, blake2b, concatBytes, ed25519FromSeed, ed25519Sign, toHex, utf8 } from '../../src/crypto/primitives.js'

const FILE = fileURLToPath(new URL('./community_epoch.json', import.meta.url))

/** Deterministic bytes: B2b(UTF-8("sotto/vectors/community/" || label), n). */
function seed(label: string, n: number): Uint8Array {
  return blake2b(utf8(`sotto/vectors/community/${label}`), n)
}

function signer(seedBytes: Uint8Array) {
  const kp = ed25519FromSeed(seedBytes)
  return { signingPublicKey: kp.publicKey, sign: (m: Uint8Array) => ed25519Sign(kp.secretKey, m) }
}

const EPOCH_NUMBER = 5
const BASE_TIME = 1_767_225_600_000 // 2026-01-01T00:00:00Z in milliseconds

const SENDERS = [
  { name: 'alice', bodies: ['hello, community', '', 'x'.repeat(150)] },
  { name: 'bob', bodies: ['hi alice', 'Zoë says hi 👋', 'y'.repeat(300)] }
]

/** Delivery order at the receiver: [sender number, message index]. */
const DELIVERY: [number, number][] = [
  [1, 1],
  [0, 0],
  [0, 2],
  [1, 0],
  [0, 1],
  [1, 2]
]

function buildCommunityVectors(): string {
  const communityId = seed('community-id', 32)
  const epochKey = seed('epoch-key', 32)
  const epoch = CommunityEpoch.fromEpochKey(communityId, EPOCH_NUMBER, epochKey)
  const derived = deriveEpochKeys(communityId, EPOCH_NUMBER, epochKey)
  const sealedBy: Uint8Array[][] = []

  const senders = SENDERS.map((spec, s) => {
    const idSeed = seed(`identity/${spec.name}`, 32)
    const id = signer(idSeed)
    const tag = epoch.senderTag(id.signingPublicKey)
    let state = createSenderChain(epoch, id.signingPublicKey)
    let ck = epoch.initialChainKey(tag)
    const initialChainKey = toHex(ck)
    sealedBy[s] = []
    const messages = spec.bodies.map((text, index) => {
      const body = utf8(text)
      const timestamp = BASE_TIME + 1000 * (10 * s + index)
      const { messageKey, nextChainKey } = chainStep(ck)
      const { aeadKey, nonce } = messageKeyMaterial(messageKey)
      const r = sealCommunityMessage(epoch, state, id, body, timestamp)
      const env = readCommunityEnvelope(r.sealed)
      const padded = aeadDecrypt(aeadKey, nonce, env.ciphertext, env.headerBytes)
      // Everything after the last 0x80 is zero padding (§9).
      const inner = padded.subarray(0, padded.lastIndexOf(0x80))
      expect(toHex(pad(inner))).toBe(toHex(padded))
      const out = {
        index,
        timestamp,
        body: toHex(body),
        chainKey: toHex(ck),
        messageKey: toHex(messageKey),
        nextChainKey: toHex(nextChainKey),
        aeadKey: toHex(aeadKey),
        nonce: toHex(nonce),
        innerSignature: toHex(inner.subarray(81, 145)),
        inner: toHex(inner),
        paddedLength: padded.length,
        header: toHex(env.headerBytes),
        topicSignature: toHex(env.topicSignature),
        sealed: toHex(r.sealed)
      }
      sealedBy[s]!.push(r.sealed)
      state = r.state
      ck = nextChainKey
      return out
    })
    return {
      name: spec.name,
      identitySeed: toHex(idSeed),
      signingPublicKey: toHex(id.signingPublicKey),
      senderTag: toHex(tag),
      initialChainKey,
      messages,
      senderStateAfter: toHex(state.serialize())
    }
  })

  let receiver = createReceiverState(epoch)
  const delivery = DELIVERY.map(([s, i]) => {
    const opened = openCommunityMessage(epoch, receiver, sealedBy[s]![i]!)
    receiver = opened.states
    return { sender: SENDERS[s]!.name, index: i, receiverStateAfter: toHex(receiver.serialize()) }
  })

  // Rotation to the next epoch, removing a third member; the new key is granted with the statement.
  const admin = signer(seed('identity/admin', 32))
  const removed = signer(seed('identity/carol', 32))
  const next = CommunityEpoch.fromEpochKey(communityId, EPOCH_NUMBER + 1, seed('next-epoch-key', 32))
  const statement = createRotationStatement(epoch, next, admin, BASE_TIME + 60_000, [removed.signingPublicKey])

  const doc = {
    description:
      'One community epoch with two senders (PROTOCOL.md §8): derived keys, every chain step, sealed envelopes, ' +
      'receiver states after an out-of-order delivery, and a rotation statement with its epoch key grant. ' +
      'Seeds: B2b(UTF-8("sotto/vectors/community/" || label), n); identities are Ed25519 key pairs from 32-byte seeds. ' +
      'Bodies are hex of UTF-8 text.',
    labels: COMMUNITY_LABELS,
    communityId: toHex(communityId),
    epoch: EPOCH_NUMBER,
    epochKey: toHex(epochKey),
    epochSerialized: toHex(epoch.serialize()),
    derived: {
      salt: toHex(concatBytes(communityId, Uint8Array.of(0, 0, 0, EPOCH_NUMBER))),
      topicSigningSeed: toHex(derived.topicSigningSeed),
      topicId: toHex(derived.topicId),
      senderTagKey: toHex(derived.senderTagKey),
      rendezvousKey: toHex(derived.rendezvousKey)
    },
    senders,
    delivery,
    rotation: {
      adminIdentitySeed: toHex(seed('identity/admin', 32)),
      adminSigningPublicKey: toHex(admin.signingPublicKey),
      removedIdentitySeed: toHex(seed('identity/carol', 32)),
      removedSigningPublicKey: toHex(removed.signingPublicKey),
      timestamp: statement.timestamp,
      nextEpoch: next.epoch,
      nextEpochKey: toHex(next.exportEpochKey()),
      nextTopicId: next.topicIdHex,
      statement: toHex(encodeControlStatement(statement)),
      grant: toHex(encodeEpochKeyGrant({ epoch: next, statement }))
    }
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('test/vectors/community_epoch.json', () => {
  it('is reproduced byte for byte by the code', () => {
    const text = buildCommunityVectors()
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
