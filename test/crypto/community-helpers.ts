// Test helpers for the community tests: deterministic identities and a forger that builds envelopes with
// arbitrary inner content, the way a holder of the epoch key (but not of someone's identity key) could.
import {
  COMMUNITY_LABELS,
  type CommunityEpoch,
  chainStep,
  messageKeyMaterial
} from '../../src/crypto/community.js'
import { pad } from '../../src/crypto/padding.js'
import {
  aeadEncrypt,
  concatBytes,
  ed25519FromSeed,
  ed25519Sign,
  utf8
} from '../../src/crypto/primitives.js'

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

function u32(v: number): Uint8Array {
  const b = new Uint8Array(4)
  new DataView(b.buffer).setUint32(0, v, false)
  return b
}

function u64(v: number): Uint8Array {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigUint64(0, BigInt(v), false)
  return b
}

/** Options of a forged message; defaults give a valid message from `signer` claiming to be `claimedKey`. */
export interface ForgeOptions {
  epoch: CommunityEpoch
  /** The key whose chain (tag) is used in the envelope. */
  chainOwnerKey: Uint8Array
  index: number
  /** The sender key written inside (defaults to chainOwnerKey). */
  innerSenderKey?: Uint8Array
  /** Signs the inner content (defaults: a bad signature of zeros). */
  signer?: (m: Uint8Array) => Uint8Array
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

/** Builds an envelope with the given inner content, encrypted and topic-signed with the epoch's keys. */
export function forge(o: ForgeOptions): Uint8Array {
  const innerSenderKey = o.innerSenderKey ?? o.chainOwnerKey
  const head = concatBytes(
    Uint8Array.of(o.innerVersion ?? 1),
    u32(o.innerEpoch ?? o.epoch.epoch),
    o.innerCommunityId ?? o.epoch.communityId,
    innerSenderKey,
    u32(o.innerIndex ?? o.index),
    u64(o.timestamp ?? 1)
  )
  const body = o.body ?? utf8('forged')
  const signed = concatBytes(utf8(COMMUNITY_LABELS.messageSignature), head, body)
  const signature = o.signer ? o.signer(signed) : new Uint8Array(64)
  const padded = o.rawPadded ?? pad(concatBytes(head, signature, body))
  const tag = o.epoch.senderTag(o.chainOwnerKey)
  let ck = o.epoch.initialChainKey(tag)
  for (let i = 0; i < o.index; i++) ck = chainStep(ck).nextChainKey
  const { aeadKey, nonce } = messageKeyMaterial(chainStep(ck).messageKey)
  const header = concatBytes(Uint8Array.of(o.outerVersion ?? 1), u32(o.epoch.epoch), tag, u32(o.index))
  const ct = aeadEncrypt(aeadKey, nonce, padded, header)
  const unsigned = concatBytes(header, ct)
  const sig = o.epoch.signWithTopicKey(concatBytes(utf8(COMMUNITY_LABELS.envelopeSignature), unsigned))
  return concatBytes(unsigned, sig)
}

/** Re-signs an envelope's outer signature after it was altered (what a topic key holder can do). */
export function resign(epoch: CommunityEpoch, sealed: Uint8Array): Uint8Array {
  const unsigned = sealed.slice(0, sealed.length - 64)
  const sig = epoch.signWithTopicKey(concatBytes(utf8(COMMUNITY_LABELS.envelopeSignature), unsigned))
  return concatBytes(unsigned, sig)
}
