// Test helpers for the community tests: deterministic identities and sender keys, and a forger that builds
// envelopes by hand from docs/PROTOCOL.md §8 (labels spelled out here, not taken from src), so a test can
// write any inner content, certificate or envelope signature that a holder of the epoch key and of some sender
// key could.
import { type CommunityEpoch, createSenderChain, SenderChainState, sealCommunityMessage } from '../../src/crypto/community.js'
import type { IdentityKeyPair } from '../../src/crypto/identity.js'
import { pad } from '../../src/crypto/padding.js'
import {
  aeadDecrypt,
  aeadEncrypt,
  concatBytes,
  ed25519FromSeed,
  ed25519Sign,
  hkdf,
  hmacSha256,
  publicHex,
  utf8
} from '../../src/crypto/primitives.js'

/** The labels of §8.2-§8.5, as the specification spells them. */
export const L = Object.freeze({
  topic: utf8('sotto/community/v1/topic-signing'),
  chain: utf8('sotto/community/v1/sender-chain'),
  messageKeys: utf8('sotto/community/v1/message-keys'),
  envelope: utf8('sotto/community/v1/envelope'),
  certificate: utf8('sotto/community/v1/sender-certificate'),
  binding: utf8('sotto/community/v1/sender-binding')
})

/** A test identity with the `{ signingPublicKey, sign }` shape. */
export interface TestIdentity {
  signingPublicKey: Uint8Array
  secretKey: Uint8Array
  sign(m: Uint8Array): Uint8Array
}

/** A deterministic Ed25519 identity from a one-byte seed fill. */
export function identity(fill: number): TestIdentity {
  const kp = ed25519FromSeed(new Uint8Array(32).fill(fill))
  return { signingPublicKey: kp.publicKey, secretKey: kp.secretKey, sign: (m) => ed25519Sign(kp.secretKey, m) }
}

/** A deterministic random source (counter bytes) for reproducible epochs. */
export function counterRandom(start: number): (n: number) => Uint8Array {
  let c = start
  return (n) => Uint8Array.from({ length: n }, () => c++ & 0xff)
}

export function u32(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v, false)
  return b
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(v), false)
  return b
}

/** Any signer: its Ed25519 public key and a sign function (a TestIdentity or an IdentityKeyPair). */
export type AnySigner = { signingPublicKey: Uint8Array; sign(m: Uint8Array): Uint8Array } | { publicKey: { signingKey: Uint8Array }; sign(m: Uint8Array): Uint8Array }

function keyOf(signer: AnySigner): Uint8Array {
  return 'signingPublicKey' in signer ? signer.signingPublicKey : signer.publicKey.signingKey
}

/** communityId || u32be(epoch): the HKDF salt of §8.2. */
function ctx(epoch: CommunityEpoch): Uint8Array {
  return concatBytes(epoch.communityId, u32(epoch.epoch))
}

/** The topic signing key pair of an epoch, derived by hand (§8.2). */
export function topicKeyPair(epoch: CommunityEpoch): { publicKey: Uint8Array; secretKey: Uint8Array } {
  return ed25519FromSeed(hkdf(epoch.exportEpochKey(), ctx(epoch), L.topic, 32))
}

/** Sign(topicSk, L_CERT || u32be(e) || senderKey), by hand (§8.3). `epochNumber` defaults to the epoch's. */
export function certify(epoch: CommunityEpoch, senderKey: Uint8Array, epochNumber = epoch.epoch): Uint8Array {
  return ed25519Sign(topicKeyPair(epoch).secretKey, concatBytes(L.certificate, u32(epochNumber), senderKey))
}

/** L_BIND || communityId || u32be(e) || senderKey: what an identity key signs to bind a sender key (§8.3). */
export function bindingBytes(communityId: Uint8Array, epochNumber: number, senderKey: Uint8Array): Uint8Array {
  return concatBytes(L.binding, communityId, u32(epochNumber), senderKey)
}

/** CK_0 = HKDF(EK, ctx, L_CHAIN || senderKey, 32), by hand (§8.3). */
export function initialChainKeyByHand(epoch: CommunityEpoch, senderKey: Uint8Array): Uint8Array {
  return hkdf(epoch.exportEpochKey(), ctx(epoch), concatBytes(L.chain, senderKey), 32)
}

/** AEAD key and nonce of message `index` of the chain of `senderKey`, by hand (§8.3). */
export function messageKeysByHand(epoch: CommunityEpoch, senderKey: Uint8Array, index: number): { aeadKey: Uint8Array; nonce: Uint8Array } {
  let ck = initialChainKeyByHand(epoch, senderKey)
  for (let i = 0; i < index; i++) ck = hmacSha256(ck, Uint8Array.of(2))
  const okm = hkdf(hmacSha256(ck, Uint8Array.of(1)), new Uint8Array(0), L.messageKeys, 56)
  return { aeadKey: okm.slice(0, 32), nonce: okm.slice(32) }
}

/** One sender's keys in one epoch, with their secrets: the sender key pair from a known seed, its certificate and binding. */
export interface TestSender {
  epoch: CommunityEpoch
  identity: AnySigner
  identityKey: Uint8Array
  seed: Uint8Array
  senderKey: Uint8Array
  senderSecretKey: Uint8Array
  certificate: Uint8Array
  binding: Uint8Array
  /** The real SenderChainState with this sender key (createSenderChain with the seed as its random source). */
  chain(): SenderChainState
}

/** The sender keys of `who` in `epoch` from a one-byte seed fill, computed by hand from the specification. */
export function sender(epoch: CommunityEpoch, who: AnySigner, seedFill: number): TestSender {
  const seed = new Uint8Array(32).fill(seedFill)
  const kp = ed25519FromSeed(seed)
  return {
    epoch,
    identity: who,
    identityKey: keyOf(who),
    seed,
    senderKey: kp.publicKey,
    senderSecretKey: kp.secretKey,
    certificate: certify(epoch, kp.publicKey),
    binding: who.sign(bindingBytes(epoch.communityId, epoch.epoch, kp.publicKey)),
    chain: () => createSenderChain(epoch, who, () => seed.slice())
  }
}

/** Options of a hand-built message; the defaults give a valid message of `from`'s chain. */
export interface ForgeOptions {
  /** The sender key whose chain is used and named in the header; its secret key signs the envelope. */
  from: TestSender
  index: number
  /** The epoch whose keys encrypt (defaults to from.epoch). */
  epoch?: CommunityEpoch
  /** The identity key written inside (defaults to the sender's). */
  innerIdentityKey?: Uint8Array
  /** The binding written inside (defaults to the sender's). */
  binding?: Uint8Array
  /** The certificate in the envelope (defaults to the sender's). */
  certificate?: Uint8Array
  /** The secret key that signs the envelope (defaults to the sender's). */
  envelopeSecretKey?: Uint8Array
  /** The sender key named in the header (defaults to the sender's; the chain keys follow it). */
  headerSenderKey?: Uint8Array
  innerVersion?: number
  innerEpoch?: number
  innerCommunityId?: Uint8Array
  innerIndex?: number
  outerVersion?: number
  timestamp?: number
  body?: Uint8Array
  /** Replaces the padded inner plaintext entirely. */
  rawPadded?: Uint8Array
}

/** Builds a sealed envelope by hand (§8.4, §8.5): header || AEAD ciphertext || certificate || sender signature. */
export function forge(o: ForgeOptions): Uint8Array {
  const epoch = o.epoch ?? o.from.epoch
  const senderKey = o.headerSenderKey ?? o.from.senderKey
  const head = concatBytes(
    Uint8Array.of(o.innerVersion ?? 1),
    u32(o.innerEpoch ?? epoch.epoch),
    o.innerCommunityId ?? epoch.communityId,
    o.innerIdentityKey ?? o.from.identityKey,
    u32(o.innerIndex ?? o.index),
    u64(o.timestamp ?? 1),
    o.binding ?? o.from.binding
  )
  const padded = o.rawPadded ?? pad(concatBytes(head, o.body ?? utf8('forged')))
  const { aeadKey, nonce } = messageKeysByHand(epoch, senderKey, o.index)
  const header = concatBytes(Uint8Array.of(o.outerVersion ?? 1), u32(epoch.epoch), senderKey, u32(o.index))
  const unsigned = concatBytes(header, aeadEncrypt(aeadKey, nonce, padded, header), o.certificate ?? o.from.certificate)
  const sig = ed25519Sign(o.envelopeSecretKey ?? o.from.senderSecretKey, concatBytes(L.envelope, unsigned))
  return concatBytes(unsigned, sig)
}

/**
 * Makes an altered envelope pass the router check again, as someone holding the epoch key and `senderSecretKey`
 * could: a fresh certificate of the sender key now in the header (topic key), then a fresh envelope signature.
 */
export function resign(epoch: CommunityEpoch, senderSecretKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  const out = sealed.slice()
  const certAt = out.length - 128
  out.set(certify(epoch, out.subarray(5, 37), new DataView(out.buffer).getUint32(1, false)), certAt)
  out.set(ed25519Sign(senderSecretKey, concatBytes(L.envelope, out.subarray(0, out.length - 64))), out.length - 64)
  return out
}

/** The padded inner plaintext of a sealed envelope, decrypted by hand with the epoch key (what any key holder can read). */
export function innerOf(epoch: CommunityEpoch, sealed: Uint8Array): Uint8Array {
  const senderKey = sealed.subarray(5, 37)
  const index = new DataView(sealed.buffer, sealed.byteOffset).getUint32(37, false)
  const { aeadKey, nonce } = messageKeysByHand(epoch, senderKey, index)
  const ct = sealed.subarray(41, sealed.length - 128)
  return aeadDecrypt(aeadKey, nonce, ct, sealed.subarray(0, 41))
}

/** A new sender chain of `who` and its first `n` envelopes (body "hello", timestamps from 1_700_000_000_000). */
export function chainOf(epoch: CommunityEpoch, who: IdentityKeyPair, n = 1): { senderKey: Uint8Array; keyHex: string; sealed: Uint8Array[] } {
  const body = utf8('hello')
  let state = SenderChainState.create(epoch, who)
  const sealed: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const s = sealCommunityMessage(epoch, state, who, body, 1_700_000_000_000 + i)
    state = s.state
    sealed.push(s.sealed)
  }
  return { senderKey: state.senderKey, keyHex: publicHex(state.senderKey), sealed }
}
