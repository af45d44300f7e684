// Generator of test/vectors/community_epoch.json (docs/PROTOCOL.md §8, §16). With WRITE_VECTORS=1 it writes the
// file; otherwise it checks that the code reproduces the committed file byte for byte. Before writing, it
// recomputes every certificate, binding, first chain key, inner plaintext, envelope signature and serialised
// state from the primitives as §8 states them, so the file pins the construction and not only the code.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  COMMUNITY_LABELS,
  COMMUNITY_VERSION,
  CommunityEpoch,
  CommunityReceiverState,
  chainStep,
  createReceiverState,
  createSenderChain,
  deriveEpochKeys,
  MAX_CHAINS_PER_IDENTITY,
  messageKeyMaterial,
  openCommunityMessage,
  readCommunityEnvelope,
  SenderChainState,
  sealCommunityMessage,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import { createRotationStatement, encodeControlStatement, encodeEpochKeyGrant } from '../../src/crypto/community-control.js'
import { pad } from '../../src/crypto/padding.js'
import {
  aeadDecrypt,
  blake2b,
  concatBytes,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  fromHex,
  hkdf,
  toHex,
  utf8
} from '../../src/crypto/primitives.js'

const FILE = fileURLToPath(new URL('./community_epoch.json', import.meta.url))

/** Deterministic bytes: B2b(UTF-8("sotto/vectors/community/" || label), n). */
function seed(label: string, n: number): Uint8Array {
  return blake2b(utf8(`sotto/vectors/community/${label}`), n)
}

function signer(seedBytes: Uint8Array) {
  const kp = ed25519FromSeed(seedBytes)
  return { signingPublicKey: kp.publicKey, sign: (m: Uint8Array) => ed25519Sign(kp.secretKey, m) }
}

/** A RandomSource that returns `bytes` once, for the 32-byte sender seed of SenderChainState.create. */
function fixedRandom(bytes: Uint8Array) {
  let used = false
  return (n: number): Uint8Array => {
    expect(used).toBe(false)
    expect(n).toBe(bytes.length)
    used = true
    return bytes.slice()
  }
}

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
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

/** The name of the error class `f` throws (or 'none'). */
function errorName(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    return (e as Error).constructor.name
  }
  return 'none'
}

function buildCommunityVectors(): string {
  const communityId = seed('community-id', 32)
  const epochKey = seed('epoch-key', 32)
  const epoch = CommunityEpoch.fromEpochKey(communityId, EPOCH_NUMBER, epochKey)
  const derived = deriveEpochKeys(communityId, EPOCH_NUMBER, epochKey)
  const salt = concatBytes(communityId, u32be(EPOCH_NUMBER))
  const topicSecretKey = ed25519FromSeed(derived.topicSigningSeed).secretKey
  const sealedBy: Uint8Array[][] = []
  const chains: { senderKey: Uint8Array; identityKey: Uint8Array; binding: Uint8Array; chainKey: Uint8Array }[] = []

  const senders = SENDERS.map((spec, s) => {
    const idSeed = seed(`identity/${spec.name}`, 32)
    const id = signer(idSeed)
    const idSecretKey = ed25519FromSeed(idSeed).secretKey
    const senderSeed = seed(`sender-seed/${spec.name}`, 32)
    const senderPair = ed25519FromSeed(senderSeed)
    const senderKey = senderPair.publicKey
    let state = createSenderChain(epoch, id, fixedRandom(senderSeed))
    expect(toHex(state.senderKey)).toBe(toHex(senderKey))
    const stateInitial = state.serialize()

    // §8.3, from the primitives: certificate, binding and CK_0 of this sender key.
    const certificateMessage = concatBytes(utf8(COMMUNITY_LABELS.senderCertificate), u32be(EPOCH_NUMBER), senderKey)
    const certificate = ed25519Sign(topicSecretKey, certificateMessage)
    const bindingMessage = concatBytes(utf8(COMMUNITY_LABELS.senderBinding), communityId, u32be(EPOCH_NUMBER), senderKey)
    const binding = ed25519Sign(idSecretKey, bindingMessage)
    expect(toHex(epoch.certifySender(senderKey))).toBe(toHex(certificate))
    let ck = hkdf(epochKey, salt, concatBytes(utf8(COMMUNITY_LABELS.senderChain), senderKey), 32)
    expect(toHex(epoch.initialChainKey(senderKey))).toBe(toHex(ck))
    const initialChainKey = toHex(ck)
    // §8.7: the sender state at index 0.
    const stateFields = concatBytes(
      Uint8Array.of(COMMUNITY_VERSION, 0x53),
      communityId,
      u32be(EPOCH_NUMBER),
      id.signingPublicKey,
      senderSeed,
      certificate,
      binding
    )
    expect(toHex(stateInitial)).toBe(toHex(concatBytes(stateFields, u32be(0), ck)))

    sealedBy[s] = []
    const messages = spec.bodies.map((text, index) => {
      const body = utf8(text)
      const timestamp = BASE_TIME + 1000 * (10 * s + index)
      const { messageKey, nextChainKey } = chainStep(ck)
      const { aeadKey, nonce } = messageKeyMaterial(messageKey)
      const r = sealCommunityMessage(epoch, state, id, body, timestamp)
      const env = readCommunityEnvelope(r.sealed)
      const padded = aeadDecrypt(aeadKey, nonce, env.ciphertext, env.headerBytes)
      // §8.4: the inner plaintext, the binding at offset 81 (145-byte head); everything after it is §9 padding.
      const inner = concatBytes(
        Uint8Array.of(COMMUNITY_VERSION),
        u32be(EPOCH_NUMBER),
        communityId,
        id.signingPublicKey,
        u32be(index),
        u64be(timestamp),
        binding,
        body
      )
      expect(toHex(padded)).toBe(toHex(pad(inner)))
      // §8.5: header, certificate and the sender key's signature over L_ENV || header || ct || certificate.
      const header = concatBytes(Uint8Array.of(COMMUNITY_VERSION), u32be(EPOCH_NUMBER), senderKey, u32be(index))
      expect(toHex(env.headerBytes)).toBe(toHex(header))
      expect(toHex(env.certificate)).toBe(toHex(certificate))
      const signature = ed25519Sign(
        senderPair.secretKey,
        concatBytes(utf8(COMMUNITY_LABELS.envelopeSignature), header, env.ciphertext, certificate)
      )
      expect(toHex(r.sealed)).toBe(toHex(concatBytes(header, env.ciphertext, certificate, signature)))
      expect(verifyCommunityEnvelope(derived.topicId, r.sealed)).toBe(true)
      const out = {
        index,
        timestamp,
        body: toHex(body),
        chainKey: toHex(ck),
        messageKey: toHex(messageKey),
        nextChainKey: toHex(nextChainKey),
        aeadKey: toHex(aeadKey),
        nonce: toHex(nonce),
        inner: toHex(inner),
        paddedLength: padded.length,
        header: toHex(header),
        signature: toHex(signature),
        sealed: toHex(r.sealed)
      }
      sealedBy[s]!.push(r.sealed)
      state = r.state
      ck = nextChainKey
      return out
    })
    const stateAfter = state.serialize()
    expect(toHex(stateAfter)).toBe(toHex(concatBytes(stateFields, u32be(spec.bodies.length), ck)))
    chains.push({ senderKey, identityKey: id.signingPublicKey, binding, chainKey: ck })
    return {
      name: spec.name,
      identitySeed: toHex(idSeed),
      signingPublicKey: toHex(id.signingPublicKey),
      senderSeed: toHex(senderSeed),
      senderKey: toHex(senderKey),
      certificateMessage: toHex(certificateMessage),
      certificate: toHex(certificate),
      bindingMessage: toHex(bindingMessage),
      binding: toHex(binding),
      initialChainKey,
      senderStateInitial: toHex(stateInitial),
      messages,
      senderStateAfter: toHex(stateAfter)
    }
  })

  let receiver: CommunityReceiverState = createReceiverState(epoch)
  const delivery = DELIVERY.map(([s, i]) => {
    const opened = openCommunityMessage(epoch, receiver, sealedBy[s]![i]!)
    expect(toHex(opened.senderKey)).toBe(senders[s]!.signingPublicKey)
    expect(toHex(opened.body)).toBe(senders[s]!.messages[i]!.body)
    receiver = opened.states
    const whole = receiver.serialize()
    checkParts(whole, receiver)
    return { sender: SENDERS[s]!.name, index: i, receiverStateAfter: toHex(whole), change: receiver.change }
  })
  /**
   * §8.7 "in parts", from the whole state's bytes: each chain entry is the 164 bytes at 42 + 164k, the skipped
   * section is the rest; the state's parts equal those slices and reassemble to the same bytes.
   */
  function checkParts(whole: Uint8Array, state: CommunityReceiverState): void {
    const n = new DataView(whole.buffer, whole.byteOffset).getUint32(38)
    const entries = Array.from({ length: n }, (_, k) => whole.subarray(42 + 164 * k, 42 + 164 * (k + 1)))
    const skipped = whole.subarray(42 + 164 * n)
    for (const e of entries) expect(toHex(state.chainEntry(toHex(e.subarray(0, 32)))!)).toBe(toHex(e))
    expect(toHex(state.skippedSection())).toBe(toHex(skipped))
    expect(toHex(CommunityReceiverState.fromParts(communityId, EPOCH_NUMBER, entries.reverse(), skipped).serialize())).toBe(toHex(whole))
  }

  // §8.7: after every message arrived, one chain per sender key (ascending), no skipped keys.
  const sorted = [...chains].sort((a, b) => (toHex(a.senderKey) < toHex(b.senderKey) ? -1 : 1))
  expect(toHex(receiver.serialize())).toBe(
    toHex(
      concatBytes(
        Uint8Array.of(COMMUNITY_VERSION, 0x52),
        communityId,
        u32be(EPOCH_NUMBER),
        u32be(sorted.length),
        ...sorted.flatMap((c) => [c.senderKey, c.identityKey, c.binding, u32be(3), c.chainKey]),
        u32be(0)
      )
    )
  )

  // Messages a receiver must refuse, each opened against the receiver state after the whole delivery.
  const alice0 = sealedBy[0]![0]!
  const flipAt = (bytes: Uint8Array, at: number) => {
    const out = bytes.slice()
    out[at] = out[at]! ^ 0x01
    return out
  }
  // Mallory knows the epoch key (so the topic key certifies her sender key) and copies alice's identity key and
  // binding into her own chain; the binding names alice's sender key, not hers.
  const aliceBinding = concatBytes(
    utf8(COMMUNITY_LABELS.senderBinding),
    communityId,
    u32be(EPOCH_NUMBER),
    chains[0]!.senderKey
  )
  expect(ed25519Verify(chains[0]!.identityKey, aliceBinding, chains[0]!.binding)).toBe(true)
  const mallorySeed = seed('sender-seed/mallory', 32)
  const copier = { signingPublicKey: chains[0]!.identityKey, sign: () => chains[0]!.binding.slice() }
  // Her sender state is built from its serialised form (§8.7): createSenderChain refuses a binding that does not
  // verify, which is the point of this forgery.
  const malloryKey = ed25519FromSeed(mallorySeed).publicKey
  const malloryState = SenderChainState.deserialize(
    concatBytes(
      Uint8Array.of(0x01, 0x53),
      communityId,
      u32be(EPOCH_NUMBER),
      chains[0]!.identityKey,
      mallorySeed,
      epoch.certifySender(malloryKey),
      chains[0]!.binding,
      u32be(0),
      epoch.initialChainKey(malloryKey)
    )
  )
  const mallorySealed = sealCommunityMessage(epoch, malloryState, copier, utf8('this is alice, honestly'), BASE_TIME + 30_000).sealed
  const rejected = [
    {
      name: 'certificate tampered (alice message 0, first certificate byte xor 0x01)',
      sealed: flipAt(alice0, alice0.length - 128)
    },
    {
      name: 'signature tampered (alice message 0, last byte xor 0x01)',
      sealed: flipAt(alice0, alice0.length - 1)
    },
    {
      name: 'replay of alice message 0',
      sealed: alice0
    },
    {
      name: "mallory's certified sender key with alice's identity key and alice's binding",
      senderSeed: toHex(mallorySeed),
      senderKey: toHex(malloryState.senderKey),
      sealed: mallorySealed
    }
  ].map(({ sealed, ...rest }) => ({
    ...rest,
    sealed: toHex(sealed),
    routerAccepts: verifyCommunityEnvelope(derived.topicId, sealed),
    error: errorName(() => openCommunityMessage(epoch, receiver, sealed))
  }))
  expect(rejected.map((r) => [r.routerAccepts, r.error])).toEqual([
    [false, 'DecryptionError'],
    [false, 'DecryptionError'],
    [true, 'DuplicateMessageError'],
    [true, 'SignatureError']
  ])

  // §8.5 chain bounds: dave opens MAX_CHAINS_PER_IDENTITY + 1 chains (one message each, at index 0), delivered
  // in this order to a receiver that had seen nothing; the last one evicts dave's chain with the smallest sender
  // key, among the others. (Text of the message k: "dave chain k".)
  const dave = signer(seed('identity/dave', 32))
  let bounded: CommunityReceiverState = createReceiverState(epoch)
  const daveChains = Array.from({ length: MAX_CHAINS_PER_IDENTITY + 1 }, (_, k) => {
    const senderSeed = seed(`sender-seed/dave-${k}`, 32)
    const chain = createSenderChain(epoch, dave, fixedRandom(senderSeed))
    const body = utf8(`dave chain ${k}`)
    const sealed = sealCommunityMessage(epoch, chain, dave, body, BASE_TIME + 40_000 + k).sealed
    bounded = openCommunityMessage(epoch, bounded, sealed).states
    checkParts(bounded.serialize(), bounded)
    return { senderSeed, senderKey: chain.senderKey, body, timestamp: BASE_TIME + 40_000 + k, sealed }
  })
  const daveKeys = daveChains.map((c) => toHex(c.senderKey))
  const evicted = [...daveKeys.slice(0, MAX_CHAINS_PER_IDENTITY)].sort()[0]!
  expect(bounded.senderCount).toBe(MAX_CHAINS_PER_IDENTITY)
  expect(bounded.nextIndexOf(fromHex(evicted))).toBe(0)
  const chainBounds = {
    description:
      `dave's ${MAX_CHAINS_PER_IDENTITY + 1} chains, one message each, opened in this order from an empty receiver ` +
      'state; receiverStateAfter is the state after the last one, where the chain with the smallest sender key ' +
      '(evictedSenderKey) is gone.',
    identitySeed: toHex(seed('identity/dave', 32)),
    signingPublicKey: toHex(dave.signingPublicKey),
    chains: daveChains.map((c) => ({
      senderSeed: toHex(c.senderSeed),
      senderKey: toHex(c.senderKey),
      timestamp: c.timestamp,
      body: toHex(c.body),
      sealed: toHex(c.sealed)
    })),
    evictedSenderKey: evicted,
    receiverStateAfter: toHex(bounded.serialize()),
    changeOfLast: bounded.change
  }

  // Rotation to the next epoch, removing a third member; the new key is granted with the statement.
  const admin = signer(seed('identity/admin', 32))
  const removed = signer(seed('identity/carol', 32))
  const next = CommunityEpoch.fromEpochKey(communityId, EPOCH_NUMBER + 1, seed('next-epoch-key', 32))
  const statement = createRotationStatement(epoch, next, admin, BASE_TIME + 60_000, [removed.signingPublicKey])

  const doc = {
    description:
      'One community epoch with two senders (PROTOCOL.md §8): derived keys, each sender\'s random sender key ' +
      '(from a fixed senderSeed here) with its topic-key certificate, identity-key binding and first chain key, every ' +
      'chain step, sealed envelopes, the sender states, the receiver states after an out-of-order delivery, four ' +
      'envelopes the receiver must refuse, and a rotation statement with its epoch key grant. ' +
      'Since the one-signature construction: no sender tag or sender-tag key; CK_0 is derived from the sender key; ' +
      'the inner plaintext carries the binding at offset 81 (the same in every message of a chain) instead of a ' +
      'per-message identity signature; the envelope is header || ct || certificate || signature, signed by the ' +
      'sender key instead of the topic key. ' +
      'Seeds: B2b(UTF-8("sotto/vectors/community/" || label), n); identities and sender keys are Ed25519 key pairs ' +
      'from 32-byte seeds. Bodies are hex of UTF-8 text. "rejected" entries are opened against the last ' +
      'receiverStateAfter; routerAccepts is the router check of §8.5 under topicId, error the class thrown. ' +
      '"chainBounds" pins the eviction of §8.5 (MAX_CHAINS_PER_IDENTITY chains per identity). "change" (and ' +
      'chainBounds.changeOfLast) is what the message changed of the receiver state stored in parts (§8.7): the ' +
      'sender keys whose 164-byte chain entries were written or deleted, and whether the skipped section changed.',
    labels: COMMUNITY_LABELS,
    communityId: toHex(communityId),
    epoch: EPOCH_NUMBER,
    epochKey: toHex(epochKey),
    epochSerialized: toHex(epoch.serialize()),
    derived: {
      salt: toHex(salt),
      topicSigningSeed: toHex(derived.topicSigningSeed),
      topicId: toHex(derived.topicId),
      rendezvousKey: toHex(derived.rendezvousKey)
    },
    senders,
    delivery,
    rejected,
    chainBounds,
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
