import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  bindingMessage,
  CERTIFICATE_CACHE_ENTRIES,
  COMMUNITY_LABELS,
  CommunityEpoch,
  CommunityReceiverState,
  chainStep,
  createReceiverState,
  createSenderChain,
  deriveEpochKeys,
  ENVELOPE_HEADER_BYTES,
  ENVELOPE_TRAILER_BYTES,
  INNER_HEADER_BYTES,
  MAX_COMMUNITY_BODY_BYTES,
  MAX_SEALED_BYTES,
  MAX_SKIP,
  MAX_SKIPPED_PER_SENDER,
  MAX_SKIPPED_TOTAL,
  MIN_SEALED_BYTES,
  openCommunityMessage,
  readCommunityEnvelope,
  rendezvousKeyOf,
  SenderChainState,
  sealCommunityMessage,
  signerPublicKey,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import {
  DecryptionError,
  DuplicateMessageError,
  EpochMismatchError,
  InvalidArgumentError,
  MalformedError,
  SignatureError,
  TooManySkippedError,
  UnsupportedVersionError
} from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { aeadDecrypt, concatBytes, ed25519FromSeed, ed25519Sign, ed25519Verify, hmacSha256, sha256, toHex, utf8 } from '../../src/crypto/primitives.js'
import { sodium } from '../../src/crypto/sodium.js'
import {
  bindingBytes,
  certify,
  counterRandom,
  forge,
  identity,
  initialChainKeyByHand,
  innerOf,
  L,
  messageKeysByHand,
  resign,
  sender,
  topicKeyPair,
  u32
} from './community-helpers.js'

const alice = identity(0xa1)
const bob = identity(0xb0)
const mallory = identity(0x6d)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

function fixedEpoch(epoch = 0): CommunityEpoch {
  return CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc0), epoch, new Uint8Array(32).fill(0xe0 + epoch))
}

/** Seals `n` messages from `state` on, returning them in order. */
function sealFrom(epoch: CommunityEpoch, state: SenderChainState, who: typeof alice, n: number, prefix = 'm'): Uint8Array[] {
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const r = sealCommunityMessage(epoch, state, who, utf8(`${prefix}${i}`), 1_700_000_000_000 + i)
    state = r.state
    out.push(r.sealed)
  }
  return out
}

/** Seals `n` messages from a new chain of `who`. */
function sealMany(epoch: CommunityEpoch, who: typeof alice, n: number, prefix = 'm'): Uint8Array[] {
  return sealFrom(epoch, createSenderChain(epoch, who), who, n, prefix)
}

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice()
  out[at]! ^= 0x01
  return out
}

function setIndex(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice()
  new DataView(out.buffer).setUint32(37, index, false)
  return out
}

function setSenderKey(bytes: Uint8Array, senderKey: Uint8Array): Uint8Array {
  const out = bytes.slice()
  out.set(senderKey, 5)
  return out
}

function padShort(): Uint8Array {
  const p = new Uint8Array(256)
  p[0] = 1
  p[10] = 0x80
  return p
}

/** A valid Ed25519 signature with a random nonce (as a hedged signer would make): not libsodium's bytes. */
function randomisedSignature(seed: Uint8Array, publicKey: Uint8Array, message: Uint8Array): Uint8Array {
  const h = sodium.crypto_hash_sha512(seed)
  h[0]! &= 248
  h[31]! &= 127
  h[31]! |= 64
  const a = sodium.crypto_core_ed25519_scalar_reduce(concatBytes(h.subarray(0, 32), new Uint8Array(32)))
  const r = sodium.crypto_core_ed25519_scalar_random()
  const R = sodium.crypto_scalarmult_ed25519_base_noclamp(r)
  const k = sodium.crypto_core_ed25519_scalar_reduce(sodium.crypto_hash_sha512(concatBytes(R, publicKey, message)))
  const S = sodium.crypto_core_ed25519_scalar_add(r, sodium.crypto_core_ed25519_scalar_mul(k, a))
  return concatBytes(R, S)
}

describe('CommunityEpoch (§8.2)', () => {
  it('derives the topic id and rendezvous key as specified, and nothing else', () => {
    const e = fixedEpoch()
    const d = deriveEpochKeys(e.communityId, 0, e.exportEpochKey())
    expect(Object.keys(d).sort()).toEqual(['rendezvousKey', 'topicId', 'topicSigningSeed'])
    expect(toHex(e.topicId)).toBe(toHex(d.topicId))
    expect(toHex(ed25519FromSeed(d.topicSigningSeed).publicKey)).toBe(toHex(e.topicId))
    expect(toHex(topicKeyPair(e).publicKey)).toBe(toHex(e.topicId))
    expect(e.topicIdHex).toBe(toHex(e.topicId))
    expect(toHex(e.rendezvousKey)).toBe(toHex(sha256(concatBytes(utf8('sotto/community/v1/rendezvous'), e.topicId))))
    expect(toHex(rendezvousKeyOf(e.topicId))).toBe(toHex(e.rendezvousKey))
    expect(toHex(e.topicIdView())).toBe(toHex(e.topicId))
    expect(toHex(e.communityIdView())).toBe(toHex(e.communityId))
  })

  it('names the labels of the new construction; the sender-tag and message-signature labels are gone', () => {
    expect(COMMUNITY_LABELS.senderCertificate).toBe('sotto/community/v1/sender-certificate')
    expect(COMMUNITY_LABELS.senderBinding).toBe('sotto/community/v1/sender-binding')
    expect(COMMUNITY_LABELS.envelopeSignature).toBe('sotto/community/v1/envelope')
    expect(COMMUNITY_LABELS.senderChain).toBe('sotto/community/v1/sender-chain')
    expect(Object.keys(COMMUNITY_LABELS).sort()).toEqual(
      ['envelopeSignature', 'messageKeys', 'rendezvous', 'senderBinding', 'senderCertificate', 'senderChain', 'topicSigning'].sort()
    )
  })

  it('certifySender signs L_CERT || u32be(epoch) || senderKey with the topic key', () => {
    const e = fixedEpoch(2)
    const senderKey = ed25519FromSeed(new Uint8Array(32).fill(0x51)).publicKey
    const cert = e.certifySender(senderKey)
    expect(toHex(cert)).toBe(toHex(certify(e, senderKey)))
    expect(ed25519Verify(e.topicId, concatBytes(L.certificate, u32(2), senderKey), cert)).toBe(true)
    // It names the epoch and the sender key: another epoch number or key does not verify.
    expect(ed25519Verify(e.topicId, concatBytes(L.certificate, u32(3), senderKey), cert)).toBe(false)
    expect(ed25519Verify(e.topicId, concatBytes(L.certificate, u32(2), alice.signingPublicKey), cert)).toBe(false)
    expect(() => e.certifySender(new Uint8Array(31))).toThrow(InvalidArgumentError)
  })

  it('bindingMessage is L_BIND || communityId || u32be(epoch) || senderKey', () => {
    const e = fixedEpoch(5)
    const senderKey = new Uint8Array(32).fill(0x77)
    expect(toHex(bindingMessage(e.communityId, 5, senderKey))).toBe(toHex(bindingBytes(e.communityId, 5, senderKey)))
    expect(bindingMessage(e.communityId, 5, senderKey).length).toBe(L.binding.length + 32 + 4 + 32)
  })

  it('binds every derived key to the community id and epoch number', () => {
    const key = new Uint8Array(32).fill(7)
    const a = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(1), 0, key)
    const b = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(2), 0, key)
    const c = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(1), 1, key)
    expect(new Set([a.topicIdHex, b.topicIdHex, c.topicIdHex]).size).toBe(3)
    const senderKey = new Uint8Array(32).fill(9)
    expect(new Set([a, b, c].map((x) => toHex(x.initialChainKey(senderKey)))).size).toBe(3)
    expect(new Set([a, b, c].map((x) => toHex(x.certifySender(senderKey)))).size).toBe(3)
  })

  it('create() and next() use fresh random keys and keep the community id; sender keys are new in every epoch', () => {
    const e0 = CommunityEpoch.create(counterRandom(1))
    expect(e0.epoch).toBe(0)
    expect(Array.from(e0.communityId.subarray(0, 3))).toEqual([1, 2, 3])
    expect(Array.from(e0.exportEpochKey().subarray(0, 2))).toEqual([33, 34])
    const e1 = e0.next()
    expect(e1.epoch).toBe(1)
    expect(toHex(e1.communityId)).toBe(toHex(e0.communityId))
    expect(toHex(e1.exportEpochKey())).not.toBe(toHex(e0.exportEpochKey()))
    expect(e1.topicIdHex).not.toBe(e0.topicIdHex)
    // Sender keys are unlinkable across epochs: nothing in the clear envelope of e1 repeats Alice's sender key of e0.
    const [m0] = sealMany(e0, alice, 1)
    const [m1] = sealMany(e1, alice, 1)
    const k0 = readCommunityEnvelope(m0!).header.senderKey
    const k1 = readCommunityEnvelope(m1!).header.senderKey
    expect(toHex(k1)).not.toBe(toHex(k0))
    expect(toHex(m1!)).not.toContain(toHex(k0))
    expect(toHex(m1!)).not.toContain(toHex(alice.signingPublicKey))
    expect(() => CommunityEpoch.fromEpochKey(e0.communityId, 0xffffffff, new Uint8Array(32)).next()).toThrow(InvalidArgumentError)
  })

  it('serialises to 70 bytes and back; rejects bad versions, types and lengths', () => {
    const e = fixedEpoch(3)
    const bytes = e.serialize()
    expect(bytes.length).toBe(70)
    expect(bytes[0]).toBe(1)
    expect(bytes[1]).toBe(0x45)
    const back = CommunityEpoch.deserialize(bytes)
    expect(back.equals(e)).toBe(true)
    expect(back.topicIdHex).toBe(e.topicIdHex)
    expect(() => CommunityEpoch.deserialize(concatBytes(Uint8Array.of(2), bytes.subarray(1)))).toThrow(UnsupportedVersionError)
    expect(() => CommunityEpoch.deserialize(concatBytes(Uint8Array.of(1, 0x53), bytes.subarray(2)))).toThrow(MalformedError)
    expect(() => CommunityEpoch.deserialize(bytes.subarray(0, 69))).toThrow(MalformedError)
    expect(() => CommunityEpoch.deserialize(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => CommunityEpoch.fromEpochKey(new Uint8Array(31), 0, new Uint8Array(32))).toThrow(InvalidArgumentError)
    expect(() => CommunityEpoch.fromEpochKey(new Uint8Array(32), -1, new Uint8Array(32))).toThrow(InvalidArgumentError)
  })

  it('never prints its secrets', () => {
    const e = fixedEpoch()
    const keyHex = toHex(e.exportEpochKey())
    for (const shown of [String(e), JSON.stringify({ e }), inspect(e), `${e}`]) {
      expect(shown).not.toContain(keyHex)
      expect(shown).toContain('[secret]')
    }
    const a = sender(e, alice, 0x51)
    const s = a.chain()
    let r = createReceiverState(e)
    r = openCommunityMessage(e, r, sealFrom(e, s, alice, 1)[0]!).states
    const secrets = [toHex(e.initialChainKey(a.senderKey)), toHex(a.seed), toHex(a.senderSecretKey.subarray(0, 32))]
    for (const shown of [String(s), inspect(s), JSON.stringify(s), String(r), inspect(r), JSON.stringify(r)]) {
      expect(shown).toContain('[secret]')
      for (const secret of secrets) expect(shown).not.toContain(secret)
    }
  })
})

describe('sender chains (§8.3)', () => {
  it('steps the chain as HMAC(ck, 0x01) / HMAC(ck, 0x02)', () => {
    const ck = new Uint8Array(32).fill(9)
    const s = chainStep(ck)
    expect(toHex(s.messageKey)).toBe(toHex(hmacSha256(ck, Uint8Array.of(1))))
    expect(toHex(s.nextChainKey)).toBe(toHex(hmacSha256(ck, Uint8Array.of(2))))
  })

  it('makes a sender key from 32 random bytes, certifies it with the topic key and binds it with the identity key', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const s = a.chain()
    expect(toHex(s.senderKey)).toBe(toHex(a.senderKey))
    expect(toHex(s.identityKey)).toBe(toHex(alice.signingPublicKey))
    expect(s.nextIndex).toBe(0)
    expect(s.epoch).toBe(0)
    expect(toHex(s.communityId)).toBe(toHex(e.communityId))
    // The state's bytes hold the certificate and binding computed by hand from the specification.
    const bytes = s.serialize()
    expect(toHex(bytes.subarray(102, 166))).toBe(toHex(a.certificate))
    expect(toHex(bytes.subarray(166, 230))).toBe(toHex(a.binding))
    expect(ed25519Verify(alice.signingPublicKey, bindingBytes(e.communityId, 0, a.senderKey), a.binding)).toBe(true)
    // A random source that does not give 32 bytes is refused.
    expect(() => createSenderChain(e, alice, () => new Uint8Array(31))).toThrow(InvalidArgumentError)
  })

  it('starts each chain from HKDF(epochKey, communityId || epoch, L_CHAIN || senderKey) and encrypts with it', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    expect(toHex(e.initialChainKey(a.senderKey))).toBe(toHex(initialChainKeyByHand(e, a.senderKey)))
    expect(toHex(e.initialChainKey(a.senderKey))).not.toBe(toHex(e.initialChainKey(sender(e, alice, 0x52).senderKey)))
    // Message 0 decrypts by hand with the keys of that chain.
    const [m] = sealFrom(e, a.chain(), alice, 1)
    const { aeadKey, nonce } = messageKeysByHand(e, a.senderKey, 0)
    const inner = aeadDecrypt(aeadKey, nonce, m!.subarray(41, m!.length - 128), m!.subarray(0, 41))
    expect(inner.length).toBe(256)
    expect(toHex(inner.subarray(37, 69))).toBe(toHex(alice.signingPublicKey))
  })

  it('two chains of the same identity in the same epoch have different sender keys and chain keys (a lost state never reuses keys)', () => {
    const e = fixedEpoch()
    const s1 = createSenderChain(e, alice)
    const s2 = createSenderChain(e, alice)
    expect(toHex(s1.senderKey)).not.toBe(toHex(s2.senderKey))
    expect(toHex(s1.serialize().subarray(234))).not.toBe(toHex(s2.serialize().subarray(234)))
    expect(toHex(e.initialChainKey(s1.senderKey))).not.toBe(toHex(e.initialChainKey(s2.senderKey)))
    // The same body at the same index and time: different ciphertexts (different AEAD key and nonce).
    const m1 = sealCommunityMessage(e, s1, alice, utf8('same'), 7).sealed
    const m2 = sealCommunityMessage(e, s2, alice, utf8('same'), 7).sealed
    expect(toHex(m1.subarray(41, m1.length - 128))).not.toBe(toHex(m2.subarray(41, m2.length - 128)))
    // A receiver keeps them as two chains, both bound to Alice.
    let r = createReceiverState(e)
    for (const m of [m1, m2]) {
      const o = openCommunityMessage(e, r, m)
      expect(text(o.body)).toBe('same')
      expect(o.index).toBe(0)
      r = o.states
    }
    expect(r.senderCount).toBe(2)
    expect(toHex(r.identityOf(s1.senderKey)!.identityKey)).toBe(toHex(alice.signingPublicKey))
    expect(toHex(r.identityOf(s2.senderKey)!.identityKey)).toBe(toHex(alice.signingPublicKey))
  })

  it('serialises a sender state to 266 bytes in the order of §8.7 and back; sealing leaves the old state as it was', () => {
    const e = fixedEpoch(4)
    const a = sender(e, alice, 0x51)
    const s0 = a.chain()
    const before = toHex(s0.serialize())
    const { state: s1 } = sealCommunityMessage(e, s0, alice, utf8('x'), 1)
    expect(toHex(s0.serialize())).toBe(before)
    expect(s0.nextIndex).toBe(0)
    expect(s1.nextIndex).toBe(1)
    const bytes = s1.serialize()
    // version, type, communityId, epoch, identityKey, senderSeed, certificate, binding, nextIndex, chainKey: 1 + 1 + 32 + 4 + 32 + 32 + 64 + 64 + 4 + 32.
    expect(bytes.length).toBe(266)
    const ck1 = chainStep(initialChainKeyByHand(e, a.senderKey)).nextChainKey
    const expected = concatBytes(
      Uint8Array.of(1, 0x53),
      e.communityId,
      u32(4),
      alice.signingPublicKey,
      a.seed,
      a.certificate,
      a.binding,
      u32(1),
      ck1
    )
    expect(toHex(bytes)).toBe(toHex(expected))
    const back = SenderChainState.deserialize(bytes)
    expect(toHex(back.serialize())).toBe(toHex(bytes))
    expect(back.epoch).toBe(4)
    expect(toHex(back.senderKey)).toBe(toHex(a.senderKey))
    expect(toHex(back.identityKey)).toBe(toHex(alice.signingPublicKey))
    // The restored state goes on where the original left off: index 1 of the same chain.
    let r = openCommunityMessage(e, createReceiverState(e), sealFrom(e, s0, alice, 1)[0]!).states
    const next = sealCommunityMessage(e, back, alice, utf8('after restore'), 2)
    const o = openCommunityMessage(e, r, next.sealed)
    expect(o.index).toBe(1)
    expect(text(o.body)).toBe('after restore')
    r = o.states
    expect(r.senderCount).toBe(1)
    expect(() => SenderChainState.deserialize(bytes.subarray(0, 265))).toThrow(MalformedError)
    expect(() => SenderChainState.deserialize(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => SenderChainState.deserialize(concatBytes(Uint8Array.of(9), bytes.subarray(1)))).toThrow(UnsupportedVersionError)
    expect(() => SenderChainState.deserialize(concatBytes(Uint8Array.of(1, 0x52), bytes.subarray(2)))).toThrow(MalformedError)
    expect(() => SenderChainState.deserialize(new Uint8Array(0))).toThrow(MalformedError)
  })
})

describe('sealCommunityMessage / openCommunityMessage (§8.4, §8.5)', () => {
  it('round trip: body, sender, index and timestamp come back; the envelope passes the router check', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice)
    const { sealed } = sealCommunityMessage(e, s, alice, utf8('hello'), 1234)
    expect(verifyCommunityEnvelope(e.topicId, sealed)).toBe(true)
    const opened = openCommunityMessage(e, createReceiverState(e), sealed)
    expect(text(opened.body)).toBe('hello')
    expect(toHex(opened.senderKey)).toBe(toHex(alice.signingPublicKey))
    expect(opened.index).toBe(0)
    expect(opened.timestamp).toBe(1234)
    expect(opened.states.nextIndexOf(s.senderKey)).toBe(1)
    const bound = opened.states.identityOf(s.senderKey)!
    expect(toHex(bound.identityKey)).toBe(toHex(alice.signingPublicKey))
    expect(ed25519Verify(alice.signingPublicKey, bindingMessage(e.communityId, 0, s.senderKey), bound.binding)).toBe(true)
    expect(opened.states.identityOf(alice.signingPublicKey)).toBeUndefined()
    expect(opened.states.nextIndexOf(alice.signingPublicKey)).toBe(0)
  })

  it('lays the envelope out as header || ct || certificate || signature, with only the sender key in the clear', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const s = a.chain()
    const short = sealCommunityMessage(e, s, alice, utf8('a'), 1).sealed
    const bodyInSmallest = 256 - 1 - INNER_HEADER_BYTES
    expect(INNER_HEADER_BYTES).toBe(145)
    expect(sealCommunityMessage(e, s, alice, new Uint8Array(bodyInSmallest), 1).sealed.length).toBe(MIN_SEALED_BYTES)
    expect(sealCommunityMessage(e, s, alice, new Uint8Array(bodyInSmallest + 1), 1).sealed.length).toBe(MIN_SEALED_BYTES + 256)
    expect([ENVELOPE_HEADER_BYTES, ENVELOPE_TRAILER_BYTES, MIN_SEALED_BYTES, MAX_SEALED_BYTES]).toEqual([41, 128, 441, 65721])
    expect(short.length).toBe(441)
    const { header, headerBytes, ciphertext, certificate, signature } = readCommunityEnvelope(short)
    expect(header).toMatchObject({ version: 1, epoch: 0, index: 0 })
    expect(toHex(header.senderKey)).toBe(toHex(a.senderKey))
    expect(toHex(headerBytes)).toBe(toHex(concatBytes(Uint8Array.of(1), u32(0), a.senderKey, u32(0))))
    expect(ciphertext.length).toBe(256 + 16)
    expect(toHex(certificate)).toBe(toHex(a.certificate))
    expect(toHex(concatBytes(headerBytes, ciphertext, certificate, signature))).toBe(toHex(short))
    expect(ed25519Verify(a.senderKey, concatBytes(L.envelope, short.subarray(0, short.length - 64)), signature)).toBe(true)
    // Neither the identity key nor its binding appears in the clear.
    expect(toHex(short)).not.toContain(toHex(alice.signingPublicKey))
    expect(toHex(short)).not.toContain(toHex(a.binding))
    // The binding is inside, at offset 81 of the inner plaintext, the same in every message of the chain.
    const inner = innerOf(e, short)
    expect(toHex(inner.subarray(81, 145))).toBe(toHex(a.binding))
    const second = sealFrom(e, sealCommunityMessage(e, s, alice, utf8('a'), 1).state, alice, 1)[0]!
    expect(toHex(innerOf(e, second).subarray(81, 145))).toBe(toHex(a.binding))
  })

  it('accepts the identity key pair shape { publicKey: { signingKey }, sign }', () => {
    const e = fixedEpoch()
    const pairShape = { publicKey: { signingKey: bob.signingPublicKey }, sign: bob.sign }
    expect(toHex(signerPublicKey(pairShape))).toBe(toHex(bob.signingPublicKey))
    const { sealed } = sealCommunityMessage(e, createSenderChain(e, pairShape), pairShape, utf8('b'), 5)
    expect(toHex(openCommunityMessage(e, createReceiverState(e), sealed).senderKey)).toBe(toHex(bob.signingPublicKey))
  })

  it('accepts an IdentityKeyPair (src/crypto/identity.ts) as the signer directly', () => {
    const e = fixedEpoch()
    const id = IdentityKeyPair.generate()
    const key = id.publicKey.signingKey
    const { sealed } = sealCommunityMessage(e, createSenderChain(e, id), id, utf8('from a real identity'), 9)
    const o = openCommunityMessage(e, createReceiverState(e), sealed)
    expect(toHex(o.senderKey)).toBe(toHex(key))
    expect(text(o.body)).toBe('from a real identity')
  })

  it('refuses bad arguments when sealing', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice)
    expect(() => sealCommunityMessage(e, s, bob, utf8('x'), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(fixedEpoch(1), s, alice, utf8('x'), 1)).toThrow(InvalidArgumentError)
    const otherCommunity = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc1), 0, new Uint8Array(32).fill(0xe0))
    expect(() => sealCommunityMessage(otherCommunity, s, alice, utf8('x'), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, new Uint8Array(MAX_COMMUNITY_BODY_BYTES + 1), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, utf8('x'), -1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, utf8('x'), 2 ** 53)).toThrow(InvalidArgumentError)
    const badSigner = { signingPublicKey: alice.signingPublicKey, sign: () => new Uint8Array(10) }
    expect(() => createSenderChain(e, badSigner)).toThrow(InvalidArgumentError)
    // The largest body fits exactly in the largest bucket.
    const big = sealCommunityMessage(e, s, alice, new Uint8Array(MAX_COMMUNITY_BODY_BYTES), 1)
    expect(big.sealed.length).toBe(MAX_SEALED_BYTES)
    expect(openCommunityMessage(e, createReceiverState(e), big.sealed).body.length).toBe(MAX_COMMUNITY_BODY_BYTES)
  })

  it('opens out of order, from skipped keys, and each message exactly once', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice)
    const msgs = sealFrom(e, s, alice, 5)
    let r = createReceiverState(e)
    for (const i of [3, 0, 4, 1]) {
      const o = openCommunityMessage(e, r, msgs[i]!)
      expect(text(o.body)).toBe(`m${i}`)
      expect(o.index).toBe(i)
      r = o.states
    }
    expect(r.skippedCount).toBe(1)
    expect(r.hasSkippedKey(s.senderKey, 2)).toBe(true)
    for (const i of [0, 1, 3, 4]) expect(() => openCommunityMessage(e, r, msgs[i]!)).toThrow(DuplicateMessageError)
    r = openCommunityMessage(e, r, msgs[2]!).states
    expect(r.skippedCount).toBe(0)
    expect(() => openCommunityMessage(e, r, msgs[2]!)).toThrow(DuplicateMessageError)
  })

  it('keeps separate chains for two senders', () => {
    const e = fixedEpoch()
    const a = sealMany(e, alice, 2, 'a')
    const b = sealMany(e, bob, 2, 'b')
    let r = createReceiverState(e)
    for (const m of [b[1]!, a[0]!, b[0]!, a[1]!]) r = openCommunityMessage(e, r, m).states
    expect(r.senderCount).toBe(2)
    expect(r.skippedCount).toBe(0)
  })

  it('rejects a jump of more than MAX_SKIP keys, with the state unchanged', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const tooFar = forge({ from: a, index: MAX_SKIP + 1 })
    const justFar = forge({ from: a, index: MAX_SKIP })
    const r = createReceiverState(e)
    expect(() => openCommunityMessage(e, r, tooFar)).toThrow(TooManySkippedError)
    expect(r.senderCount).toBe(0)
    const o = openCommunityMessage(e, r, justFar)
    expect(o.states.skippedCount).toBe(MAX_SKIP)
    expect(text(o.body)).toBe('forged')
  })

  it('deletes the oldest skipped keys beyond the per-sender bound', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    let r = createReceiverState(e)
    r = openCommunityMessage(e, r, forge({ from: a, index: 1000 })).states
    r = openCommunityMessage(e, r, forge({ from: a, index: 1010 })).states
    expect(r.skippedCount).toBe(MAX_SKIPPED_PER_SENDER)
    // Indices 1001..1009 were added, so the nine oldest (0..8) were deleted.
    expect(r.hasSkippedKey(a.senderKey, 8)).toBe(false)
    expect(r.hasSkippedKey(a.senderKey, 9)).toBe(true)
    expect(r.hasSkippedKey(a.senderKey, 1009)).toBe(true)
    // A message whose key was deleted can no longer be opened; one whose key is kept still can.
    expect(() => openCommunityMessage(e, r, forge({ from: a, index: 5 }))).toThrow(DuplicateMessageError)
    expect(openCommunityMessage(e, r, forge({ from: a, index: 9 })).index).toBe(9)
  })

  it('deletes the oldest skipped keys beyond the total bound', () => {
    const e = fixedEpoch()
    let r = createReceiverState(e)
    const senders = [1, 2, 3, 4, 5, 6].map((n) => sender(e, identity(n), 0x40 + n))
    for (const s of senders) r = openCommunityMessage(e, r, forge({ from: s, index: 1000 })).states
    expect(r.skippedCount).toBe(MAX_SKIPPED_TOTAL)
    expect(r.hasSkippedKey(senders[0]!.senderKey, 999)).toBe(false)
    expect(r.hasSkippedKey(senders[1]!.senderKey, 0)).toBe(true)
    const back = CommunityReceiverState.deserialize(r.serialize())
    expect(toHex(back.serialize())).toBe(toHex(r.serialize()))
  })

  it('the opened message and the new state do not share memory with the sealed bytes', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice)
    const [m0, m1] = sealFrom(e, s, alice, 2)
    const input = m1!.slice()
    const o = openCommunityMessage(e, createReceiverState(e), input)
    const stateBytes = toHex(o.states.serialize())
    const shown = [toHex(o.senderKey), toHex(o.body)]
    input.fill(0xff)
    expect(toHex(o.states.serialize())).toBe(stateBytes)
    expect([toHex(o.senderKey), toHex(o.body)]).toEqual(shown)
    expect(o.states.hasSkippedKey(s.senderKey, 0)).toBe(true)
    expect(text(openCommunityMessage(e, o.states, m0!).body)).toBe('m0')
  })

  describe('rejections leave the receiver state unchanged', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const good = sealFrom(e, a.chain(), alice, 3)
    const base = openCommunityMessage(e, createReceiverState(e), good[0]!).states
    const baseBytes = toHex(base.serialize())
    const other = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc1), 0, new Uint8Array(32).fill(0xe0))
    const later = fixedEpoch(1)
    // Mallory holds the epoch key and her own sender keys; she does not hold Alice's sender or identity key.
    const m = sender(e, mallory, 0x6d)
    const mOther = sender(other, mallory, 0x6e)
    const bobBindsAlicesKey = bob.sign(bindingBytes(e.communityId, 0, a.senderKey))

    const cases: [string, () => Uint8Array, new (...a: never[]) => Error][] = [
      ['a replay', () => good[0]!, DuplicateMessageError],
      ['a message of another epoch', () => sealMany(later, alice, 1)[0]!, EpochMismatchError],
      ['a message of another community (same epoch number)', () => sealMany(other, alice, 1)[0]!, DecryptionError],
      ['a flipped ciphertext byte (the sender signature breaks)', () => flip(good[1]!, 60), DecryptionError],
      ['a flipped sender key byte', () => flip(good[1]!, 10), DecryptionError],
      ['a flipped index byte', () => flip(good[1]!, 40), DecryptionError],
      ['a flipped certificate byte', () => flip(good[1]!, good[1]!.length - 100), DecryptionError],
      ['a flipped sender signature byte', () => flip(good[1]!, good[1]!.length - 1), DecryptionError],
      ['a ciphertext changed and re-signed with the sender key', () => resign(e, a.senderSecretKey, flip(good[1]!, 60)), DecryptionError],
      ['an index changed and re-signed with the sender key', () => resign(e, a.senderSecretKey, setIndex(good[1]!, 2)), DecryptionError],
      [
        "Alice's envelope moved under Mallory's sender key (re-certified and re-signed by Mallory)",
        () => resign(e, m.senderSecretKey, setSenderKey(good[1]!, m.senderKey)),
        DecryptionError
      ],
      ['a certificate made by another topic key', () => forge({ from: a, index: 1, certificate: mOther.certificate }), DecryptionError],
      ["a certificate of another sender key (Mallory's)", () => forge({ from: a, index: 1, certificate: m.certificate }), DecryptionError],
      ['a certificate naming another epoch number', () => forge({ from: a, index: 1, certificate: certify(e, a.senderKey, 1) }), DecryptionError],
      ["an envelope naming Alice's sender key signed by Mallory's", () => forge({ from: a, index: 1, envelopeSecretKey: m.senderSecretKey }), DecryptionError],
      ['a truncated envelope', () => good[1]!.subarray(0, MIN_SEALED_BYTES - 1), MalformedError],
      ['outer version 2', () => forge({ from: a, index: 1, outerVersion: 2 }), UnsupportedVersionError],
      ['inner version 2', () => forge({ from: a, index: 1, innerVersion: 2 }), UnsupportedVersionError],
      [
        "another identity (with its own valid binding of Alice's sender key) on Alice's chain after its first message",
        () => forge({ from: a, index: 1, innerIdentityKey: bob.signingPublicKey, binding: bobBindsAlicesKey }),
        SignatureError
      ],
      ["a different binding on Alice's chain after its first message", () => forge({ from: a, index: 1, binding: new Uint8Array(64) }), SignatureError],
      ['a new chain with a bad binding', () => forge({ from: m, index: 0, binding: new Uint8Array(64) }), SignatureError],
      [
        "a new chain claiming Alice with Alice's real binding (it names Alice's sender key, not this one)",
        () => forge({ from: m, index: 0, innerIdentityKey: alice.signingPublicKey, binding: a.binding }),
        SignatureError
      ],
      [
        "a new chain claiming Alice with a binding Mallory signed",
        () => forge({ from: m, index: 0, innerIdentityKey: alice.signingPublicKey }),
        SignatureError
      ],
      [
        'a new chain whose binding names another community',
        () => forge({ from: m, index: 0, binding: mallory.sign(bindingBytes(other.communityId, 0, m.senderKey)) }),
        SignatureError
      ],
      [
        'a new chain whose binding names another epoch',
        () => forge({ from: m, index: 0, binding: mallory.sign(bindingBytes(e.communityId, 1, m.senderKey)) }),
        SignatureError
      ],
      ['an inner index differing from the envelope', () => forge({ from: a, index: 1, innerIndex: 2 }), SignatureError],
      ['an inner epoch differing', () => forge({ from: a, index: 1, innerEpoch: 5 }), EpochMismatchError],
      ['an inner community id differing', () => forge({ from: a, index: 1, innerCommunityId: new Uint8Array(32) }), EpochMismatchError],
      ['bad padding inside', () => forge({ from: a, index: 1, rawPadded: new Uint8Array(256) }), MalformedError],
      ['an inner plaintext shorter than its header', () => forge({ from: a, index: 1, rawPadded: padShort() }), MalformedError],
      ['a jump beyond MAX_SKIP', () => forge({ from: a, index: 2 + MAX_SKIP }), TooManySkippedError]
    ]
    for (const [name, make, Err] of cases) {
      it(`rejects ${name}`, () => {
        const bad = make()
        expect(() => openCommunityMessage(e, base, bad)).toThrow(Err)
        expect(toHex(base.serialize())).toBe(baseBytes)
        // The genuine next message still opens afterwards.
        expect(text(openCommunityMessage(e, base, good[1]!).body)).toBe('m1')
      })
    }

    it('the hand-built messages are otherwise valid: the same forger with the right inputs makes messages that open', () => {
      expect(text(openCommunityMessage(e, base, forge({ from: a, index: 1 })).body)).toBe('forged')
      expect(toHex(openCommunityMessage(e, base, forge({ from: m, index: 0 })).senderKey)).toBe(toHex(mallory.signingPublicKey))
    })

    it("pins a chain's identity and binding at its first message; the pin is what rejects a later change", () => {
      const asBob = forge({ from: a, index: 1, innerIdentityKey: bob.signingPublicKey, binding: bobBindsAlicesKey })
      expect(verifyCommunityEnvelope(e.topicId, asBob)).toBe(true)
      expect(() => openCommunityMessage(e, base, asBob)).toThrow(SignatureError)
      // On a receiver that has not seen the chain, the same message verifies as Bob's and pins the chain to Bob...
      const fresh = openCommunityMessage(e, createReceiverState(e), asBob)
      expect(toHex(fresh.senderKey)).toBe(toHex(bob.signingPublicKey))
      // ...and Alice's earlier message, from the skipped key, is then refused: one sender key, one identity.
      expect(fresh.states.hasSkippedKey(a.senderKey, 0)).toBe(true)
      expect(() => openCommunityMessage(e, fresh.states, good[0]!)).toThrow(SignatureError)
      expect(fresh.states.hasSkippedKey(a.senderKey, 0)).toBe(true)
    })

    it('checks the pin for a message opened from a skipped key too', () => {
      const skippedFirst = openCommunityMessage(e, createReceiverState(e), good[2]!).states
      expect(skippedFirst.hasSkippedKey(a.senderKey, 1)).toBe(true)
      for (const bad of [
        forge({ from: a, index: 1, innerIdentityKey: bob.signingPublicKey, binding: bobBindsAlicesKey }),
        forge({ from: a, index: 1, binding: new Uint8Array(64) })
      ]) {
        expect(() => openCommunityMessage(e, skippedFirst, bad)).toThrow(SignatureError)
        expect(skippedFirst.hasSkippedKey(a.senderKey, 1)).toBe(true)
      }
      expect(text(openCommunityMessage(e, skippedFirst, good[1]!).body)).toBe('m1')
    })

    it('refuses receiver states of another epoch', () => {
      expect(() => openCommunityMessage(later, base, good[1]!)).toThrow(InvalidArgumentError)
    })
  })
})

describe('the router check verifyCommunityEnvelope (§8.5)', () => {
  it('is false for another topic, flipped bytes, junk, bad lengths and wrong-length topic ids', () => {
    const e = fixedEpoch()
    const [m] = sealMany(e, alice, 1)
    expect(verifyCommunityEnvelope(e.topicId, m!)).toBe(true)
    expect(verifyCommunityEnvelope(fixedEpoch(1).topicId, m!)).toBe(false)
    for (const at of [0, 3, 10, 40, 60, m!.length - 100, m!.length - 1]) expect(verifyCommunityEnvelope(e.topicId, flip(m!, at))).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, new Uint8Array(MIN_SEALED_BYTES))).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, m!.subarray(0, 100))).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, concatBytes(m!, new Uint8Array(1)))).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, new Uint8Array(MAX_SEALED_BYTES + 1))).toBe(false)
    expect(verifyCommunityEnvelope(new Uint8Array(31), m!)).toBe(false)
    expect(verifyCommunityEnvelope('topic' as unknown as Uint8Array, m!)).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, 'sealed' as unknown as Uint8Array)).toBe(false)
  })

  it('rejects a certificate for another topic id, and accepts it only under that topic id', () => {
    const e = fixedEpoch()
    const other = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc1), 0, new Uint8Array(32).fill(0xe1))
    const a = sender(e, alice, 0x51)
    const certifiedByOther = forge({ from: a, index: 0, certificate: certify(other, a.senderKey) })
    expect(verifyCommunityEnvelope(e.topicId, certifiedByOther)).toBe(false)
    expect(verifyCommunityEnvelope(other.topicId, certifiedByOther)).toBe(true)
    // Its verification under the other topic id is not reused for this one.
    expect(verifyCommunityEnvelope(e.topicId, certifiedByOther)).toBe(false)
    expect(() => openCommunityMessage(e, createReceiverState(e), certifiedByOther)).toThrow(DecryptionError)
  })

  it('a certificate that verified (and is cached) does not make a different, forged one pass', () => {
    const e = fixedEpoch(6)
    const a = sender(e, alice, 0x51)
    const genuine = forge({ from: a, index: 0 })
    expect(verifyCommunityEnvelope(e.topicId, genuine)).toBe(true)
    const forgedCerts = [
      new Uint8Array(64),
      flip(a.certificate, 0),
      flip(a.certificate, 63),
      certify(e, a.senderKey, 7), // this topic key, another epoch number
      sender(e, alice, 0x52).certificate // this topic key, another sender key
    ]
    for (const certificate of forgedCerts) {
      // Each envelope carries a valid sender signature over its (bad) certificate.
      const bad = forge({ from: a, index: 1, certificate })
      expect(ed25519Verify(a.senderKey, concatBytes(L.envelope, bad.subarray(0, bad.length - 64)), bad.subarray(bad.length - 64))).toBe(true)
      expect(verifyCommunityEnvelope(e.topicId, bad)).toBe(false)
      expect(() => openCommunityMessage(e, createReceiverState(e), bad)).toThrow(DecryptionError)
    }
    // The genuine certificate still passes, and a cached certificate does not excuse a bad sender signature.
    expect(verifyCommunityEnvelope(e.topicId, forge({ from: a, index: 1 }))).toBe(true)
    expect(verifyCommunityEnvelope(e.topicId, flip(genuine, genuine.length - 1))).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, flip(genuine, 60))).toBe(false)
  })

  it('stays correct once more certificates were verified than the cache holds (the oldest are forgotten, then verified again)', () => {
    const e = fixedEpoch(8)
    const a = sender(e, alice, 0x51)
    const genuine = forge({ from: a, index: 0 })
    const forgedCert = forge({ from: a, index: 1, certificate: flip(a.certificate, 5) })
    expect(verifyCommunityEnvelope(e.topicId, genuine)).toBe(true)
    // CERTIFICATE_CACHE_ENTRIES + 1 other sender keys with valid certificates (their envelope signatures are not
    // valid, so each check ends false after its certificate verified and was remembered).
    const template = genuine.slice()
    for (let i = 0; i <= CERTIFICATE_CACHE_ENTRIES; i++) {
      const seed = new Uint8Array(32)
      new DataView(seed.buffer).setUint32(0, i + 1)
      const key = ed25519FromSeed(seed).publicKey
      template.set(key, 5)
      template.set(e.certifySender(key), template.length - 128)
      expect(verifyCommunityEnvelope(e.topicId, template)).toBe(false)
    }
    expect(verifyCommunityEnvelope(e.topicId, forgedCert)).toBe(false)
    expect(verifyCommunityEnvelope(e.topicId, genuine)).toBe(true)
    expect(verifyCommunityEnvelope(e.topicId, forgedCert)).toBe(false)
  })

  it('a different but valid certificate or sender signature (randomised Ed25519) is verified, not refused for differing from the cache', () => {
    const e = fixedEpoch(7)
    const a = sender(e, alice, 0x51)
    const genuine = forge({ from: a, index: 0 })
    expect(verifyCommunityEnvelope(e.topicId, genuine)).toBe(true)
    const topicSeed = deriveEpochKeys(e.communityId, e.epoch, e.exportEpochKey()).topicSigningSeed
    const hedgedCert = randomisedSignature(topicSeed, e.topicId, concatBytes(L.certificate, u32(7), a.senderKey))
    expect(toHex(hedgedCert)).not.toBe(toHex(a.certificate))
    const withHedgedCert = forge({ from: a, index: 0, certificate: hedgedCert })
    expect(verifyCommunityEnvelope(e.topicId, withHedgedCert)).toBe(true)
    expect(text(openCommunityMessage(e, createReceiverState(e), withHedgedCert).body)).toBe('forged')
    // A randomised sender signature over the genuine envelope.
    const hedged = genuine.slice()
    hedged.set(randomisedSignature(a.seed, a.senderKey, concatBytes(L.envelope, genuine.subarray(0, genuine.length - 64))), genuine.length - 64)
    expect(toHex(hedged)).not.toBe(toHex(genuine))
    expect(verifyCommunityEnvelope(e.topicId, hedged)).toBe(true)
    expect(text(openCommunityMessage(e, createReceiverState(e), hedged).body)).toBe('forged')
  })

  it('openCommunityMessage runs the router check unless the caller says it already did', () => {
    const e = fixedEpoch()
    const [m] = sealMany(e, alice, 1)
    const badCert = flip(m!, m!.length - 100)
    const badSig = flip(m!, m!.length - 1)
    const r = CommunityReceiverState.create(e)
    for (const bad of [badCert, badSig]) {
      expect(verifyCommunityEnvelope(e.topicId, bad)).toBe(false)
      expect(() => openCommunityMessage(e, r, bad)).toThrow(DecryptionError)
      // With envelopeChecked the AEAD (which covers the header, not the trailer) and the binding still decide.
      expect(text(openCommunityMessage(e, r, bad, { envelopeChecked: true }).body)).toBe('m0')
    }
    expect(() => openCommunityMessage(e, r, flip(m!, 60), { envelopeChecked: true })).toThrow(DecryptionError)
    const a = sender(e, alice, 0x51)
    const badBinding = forge({ from: a, index: 0, binding: new Uint8Array(64) })
    expect(() => openCommunityMessage(e, r, badBinding, { envelopeChecked: true })).toThrow(SignatureError)
  })
})

describe('CommunityReceiverState serialisation (§8.7)', () => {
  const RECEIVER_HEAD = 1 + 1 + 32 + 4 + 4
  const CHAIN_ENTRY = 32 + 32 + 64 + 4 + 32

  it('round-trips with chains and skipped keys in the layout of §8.7, and the copy keeps working', () => {
    const e = fixedEpoch()
    const sa = createSenderChain(e, alice)
    const sb = createSenderChain(e, bob)
    const a = sealFrom(e, sa, alice, 4)
    const b = sealFrom(e, sb, bob, 3)
    let r = createReceiverState(e)
    for (const m of [a[3]!, b[2]!, a[0]!]) r = openCommunityMessage(e, r, m).states
    const bytes = r.serialize()
    expect(CHAIN_ENTRY).toBe(164)
    expect(bytes.length).toBe(RECEIVER_HEAD + 2 * CHAIN_ENTRY + 4 + 4 * 68)
    // Chains in ascending sender-key order: senderKey || identityKey || binding || u32be(nextIndex) || chainKey.
    const [first, second] = [
      { s: sa, who: alice, next: 4, ck: 4 },
      { s: sb, who: bob, next: 3, ck: 3 }
    ].sort((x, y) => Buffer.compare(x.s.senderKey, y.s.senderKey))
    for (const [n, c] of [first!, second!].entries()) {
      const at = RECEIVER_HEAD + n * CHAIN_ENTRY
      let ck = e.initialChainKey(c.s.senderKey)
      for (let i = 0; i < c.ck; i++) ck = chainStep(ck).nextChainKey
      const binding = c.who.sign(bindingBytes(e.communityId, 0, c.s.senderKey))
      expect(toHex(bytes.subarray(at, at + CHAIN_ENTRY))).toBe(toHex(concatBytes(c.s.senderKey, c.who.signingPublicKey, binding, u32(c.next), ck)))
    }
    // Skipped keys: senderKey || u32be(index) || messageKey.
    const skippedAt = RECEIVER_HEAD + 2 * CHAIN_ENTRY
    expect(Array.from(bytes.subarray(skippedAt, skippedAt + 4))).toEqual([0, 0, 0, 4])
    expect(toHex(bytes.subarray(skippedAt + 4, skippedAt + 36))).toBe(toHex(sa.senderKey))
    const back = CommunityReceiverState.deserialize(bytes)
    expect(toHex(back.serialize())).toBe(toHex(bytes))
    expect(toHex(back.identityOf(sb.senderKey)!.identityKey)).toBe(toHex(bob.signingPublicKey))
    expect(text(openCommunityMessage(e, back, a[1]!).body)).toBe('m1')
    expect(() => openCommunityMessage(e, back, a[3]!)).toThrow(DuplicateMessageError)
  })

  it('keeps the pin across a round trip: a restored state still refuses another identity on a known chain', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const r = openCommunityMessage(e, createReceiverState(e), forge({ from: a, index: 0 })).states
    const back = CommunityReceiverState.deserialize(r.serialize())
    const asBob = forge({ from: a, index: 1, innerIdentityKey: bob.signingPublicKey, binding: bob.sign(bindingBytes(e.communityId, 0, a.senderKey)) })
    expect(() => openCommunityMessage(e, back, asBob)).toThrow(SignatureError)
    expect(openCommunityMessage(e, back, forge({ from: a, index: 1 })).index).toBe(1)
  })

  it('rejects malformed state bytes: unsorted, truncated, extra, inconsistent', () => {
    const e = fixedEpoch()
    let r = createReceiverState(e)
    r = openCommunityMessage(e, r, sealMany(e, alice, 3)[2]!).states
    r = openCommunityMessage(e, r, sealMany(e, bob, 1)[0]!).states
    const bytes = r.serialize()
    expect(() => CommunityReceiverState.deserialize(bytes)).not.toThrow()
    const chainsAt = RECEIVER_HEAD
    // Chains swapped out of ascending order.
    const swapped = bytes.slice()
    swapped.set(bytes.subarray(chainsAt + CHAIN_ENTRY, chainsAt + 2 * CHAIN_ENTRY), chainsAt)
    swapped.set(bytes.subarray(chainsAt, chainsAt + CHAIN_ENTRY), chainsAt + CHAIN_ENTRY)
    expect(() => CommunityReceiverState.deserialize(swapped)).toThrow(MalformedError)
    // The same chain twice (not strictly ascending).
    const twice = bytes.slice()
    twice.set(bytes.subarray(chainsAt, chainsAt + CHAIN_ENTRY), chainsAt + CHAIN_ENTRY)
    expect(() => CommunityReceiverState.deserialize(twice)).toThrow(MalformedError)
    // A skipped key at or beyond its chain's next index.
    const skippedAt = chainsAt + 2 * CHAIN_ENTRY + 4
    const badIndex = bytes.slice()
    badIndex.set([0, 0, 0, 9], skippedAt + 32)
    expect(() => CommunityReceiverState.deserialize(badIndex)).toThrow(MalformedError)
    // A skipped key of a sender key with no chain.
    const orphan = bytes.slice()
    orphan[skippedAt]! ^= 1
    expect(() => CommunityReceiverState.deserialize(orphan)).toThrow(MalformedError)
    // A duplicated skipped key.
    const dup = bytes.slice()
    dup.set(bytes.subarray(skippedAt, skippedAt + 68), skippedAt + 68)
    expect(() => CommunityReceiverState.deserialize(dup)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    for (const cut of [1, 68, 69, 2 * 68 + 4, bytes.length - RECEIVER_HEAD]) {
      expect(() => CommunityReceiverState.deserialize(bytes.subarray(0, bytes.length - cut))).toThrow(MalformedError)
    }
    const hugeCount = bytes.slice()
    hugeCount.set([0xff, 0xff, 0xff, 0xff], chainsAt - 4)
    expect(() => CommunityReceiverState.deserialize(hugeCount)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(concatBytes(Uint8Array.of(1, 0x45), bytes.subarray(2)))).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(concatBytes(Uint8Array.of(2), bytes.subarray(1)))).toThrow(UnsupportedVersionError)
  })
})

describe('what the signatures cover (§8.5)', () => {
  it('the sender signature covers header, ciphertext and certificate; the binding covers community, epoch and sender key', () => {
    const e = fixedEpoch()
    const a = sender(e, alice, 0x51)
    const m = forge({ from: a, index: 0 })
    const signed = concatBytes(L.envelope, m.subarray(0, m.length - 64))
    expect(ed25519Verify(a.senderKey, signed, m.subarray(m.length - 64))).toBe(true)
    expect(toHex(m.subarray(m.length - 64))).toBe(toHex(ed25519Sign(a.senderSecretKey, signed)))
    // The real sealer produces the very same bytes from the same sender seed (Ed25519 and the chain are deterministic).
    const real = sealCommunityMessage(e, a.chain(), alice, utf8('forged'), 1).sealed
    expect(toHex(real)).toBe(toHex(m))
  })
})

describe('sender chain creation checks its signer', () => {
  it('refuses a signer whose signatures do not verify under the public key it names', () => {
    const named = ed25519FromSeed(new Uint8Array(32).fill(1))
    const actual = ed25519FromSeed(new Uint8Array(32).fill(2))
    const liar = { signingPublicKey: named.publicKey, sign: (m: Uint8Array) => ed25519Sign(actual.secretKey, m) }
    expect(() => createSenderChain(CommunityEpoch.create(), liar)).toThrow(InvalidArgumentError)
    const honest = { signingPublicKey: named.publicKey, sign: (m: Uint8Array) => ed25519Sign(named.secretKey, m) }
    expect(createSenderChain(CommunityEpoch.create(), honest).nextIndex).toBe(0)
  })
})
