/**
 * Community (group) keys: epochs, per-sender hash-ratchet chains, and sealed community messages,
 * as specified in docs/PROTOCOL.md §8. Vectors: test/vectors/community_epoch.json.
 *
 * A community has a stable 32-byte community id. Each epoch has a random 32-byte epoch key (the "topic
 * key"); from it are derived the topic signing key pair (its public key is the topic id that routers and
 * relays see) and one hash-ratchet chain per sender. Each sender has a random signing key per epoch (its
 * sender key, named in the clear): the topic key certifies it for routers, and the sender's identity key
 * binds it, inside the encryption, to the identity. Every envelope is signed by its sender key, so one
 * signature per message serves both routers and members.
 *
 * States are immutable: sealing and opening return new states and leave the inputs untouched, so a
 * caller commits a new state only after it stored the message, and a failed open changes nothing.
 */
import {
  ByteReader,
  ByteWriter,
  compareBytes,
  INSPECT,
  U32_MAX,
  u8,
  u32be
} from './community-bytes.js'
import {
  DecryptionError,
  DuplicateMessageError,
  EpochMismatchError,
  InvalidArgumentError,
  MalformedError,
  PaddingError,
  SignatureError,
  TooManySkippedError,
  UnsupportedVersionError
} from './errors.js'
import { PAD_MARKER, paddedLength, unpad } from './padding.js'
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  aeadDecrypt,
  aeadEncrypt,
  checkBytes,
  concatBytes,
  ED25519_PUBLIC_BYTES,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  equalBytes,
  hkdf,
  hmacSha256Each,
  KEY_BYTES,
  randomBytes,
  SIGNATURE_BYTES,
  publicHex,
  sha256,
  toHex,
  utf8,
  wipe
} from './primitives.js'
import type { RandomSource } from './types.js'

// --- Constants (§8.1) ------------------------------------------------------------------------------

/** Version byte of community envelopes, inner plaintexts and serialised community states. */
export const COMMUNITY_VERSION = 1
/** Length of a community id, an epoch key, a topic id, a chain key and a message key. */
export const COMMUNITY_KEY_BYTES = 32
/** Most message keys one message may skip in its sender's chain (index - next expected index). */
export const MAX_SKIP = 1000
/** Most skipped message keys kept per sender; beyond it the oldest are deleted. */
export const MAX_SKIPPED_PER_SENDER = 1000
/** Most skipped message keys kept per epoch across all senders; beyond it the oldest are deleted. */
export const MAX_SKIPPED_TOTAL = 5000
/** Highest message index a chain may use (so that the next index still fits in a u32). */
export const MAX_MESSAGE_INDEX = U32_MAX - 1
/** Most sender chains a receiver state keeps bound to one identity; a new one beyond it evicts one (§8.5). */
export const MAX_CHAINS_PER_IDENTITY = 16
/** Most sender chains a receiver state keeps per epoch, all identities together (§8.5). */
export const MAX_RECEIVER_CHAINS = 4096

/** HKDF info strings and labels (§8.2). */
export const COMMUNITY_LABELS = Object.freeze({
  topicSigning: 'sotto/community/v1/topic-signing',
  senderChain: 'sotto/community/v1/sender-chain',
  messageKeys: 'sotto/community/v1/message-keys',
  rendezvous: 'sotto/community/v1/rendezvous',
  envelopeSignature: 'sotto/community/v1/envelope',
  senderCertificate: 'sotto/community/v1/sender-certificate',
  senderBinding: 'sotto/community/v1/sender-binding'
})

/** Type bytes of serialised community objects (§8.7). */
const TYPE_EPOCH = 0x45 // 'E'
const TYPE_SENDER = 0x53 // 'S'
const TYPE_RECEIVER = 0x52 // 'R'

/** Outer envelope header: version(1) || epoch(4) || senderKey(32) || index(4). */
export const ENVELOPE_HEADER_BYTES = 1 + 4 + ED25519_PUBLIC_BYTES + 4
/** What follows the ciphertext: the topic key's certificate of the sender key, then the sender key's signature. */
export const ENVELOPE_TRAILER_BYTES = 2 * SIGNATURE_BYTES
/** Inner plaintext before the body: version, epoch, community id, identity key, index, timestamp, binding. */
export const INNER_HEADER_BYTES = 1 + 4 + COMMUNITY_KEY_BYTES + ED25519_PUBLIC_BYTES + 4 + 8 + SIGNATURE_BYTES
/** Largest message body: the largest padding bucket minus the 0x80 pad byte minus the inner header. */
export const MAX_COMMUNITY_BODY_BYTES = 65535 - INNER_HEADER_BYTES
/** Smallest and largest sealed envelopes (smallest and largest padding bucket). */
export const MIN_SEALED_BYTES = ENVELOPE_HEADER_BYTES + 256 + AEAD_TAG_BYTES + ENVELOPE_TRAILER_BYTES
export const MAX_SEALED_BYTES = ENVELOPE_HEADER_BYTES + 65536 + AEAD_TAG_BYTES + ENVELOPE_TRAILER_BYTES

const CHAIN_MESSAGE_KEY_BYTE = 0x01
const CHAIN_NEXT_KEY_BYTE = 0x02
/** chainStep's two HMAC inputs, in the order of its outputs (message key, next chain key). */
const CHAIN_STEP_INPUTS = [Uint8Array.of(CHAIN_MESSAGE_KEY_BYTE), Uint8Array.of(CHAIN_NEXT_KEY_BYTE)] as const
/** Labels encoded once. */
const MESSAGE_KEYS_INFO = utf8(COMMUNITY_LABELS.messageKeys)
const ENVELOPE_LABEL = utf8(COMMUNITY_LABELS.envelopeSignature)
const CERTIFICATE_LABEL = utf8(COMMUNITY_LABELS.senderCertificate)
const BINDING_LABEL = utf8(COMMUNITY_LABELS.senderBinding)
/** Offsets in a sealed envelope (§8.5). */
const HEADER_EPOCH_AT = 1
const HEADER_SENDER_AT = 5
const HEADER_INDEX_AT = 37

// --- Key derivation (§8.2, §8.3) -------------------------------------------------------------------

function epochSalt(communityId: Uint8Array, epoch: number): Uint8Array {
  return concatBytes(communityId, u32be(epoch))
}

/** What the topic key signs to certify a sender key (§8.3): L_CERT || u32be(epoch) || senderKey. */
function certificateMessage(epoch: number, senderKey: Uint8Array): Uint8Array {
  return concatBytes(CERTIFICATE_LABEL, u32be(epoch), senderKey)
}

/** What an identity key signs to bind a sender key (§8.3): L_BIND || communityId || u32be(epoch) || senderKey. */
export function bindingMessage(communityId: Uint8Array, epoch: number, senderKey: Uint8Array): Uint8Array {
  return concatBytes(BINDING_LABEL, communityId, u32be(epoch), senderKey)
}

/** Keys derived from one epoch key (§8.2). Returned for vectors and audits; the objects hold them privately. */
export interface EpochDerivedKeys {
  /** Seed of the topic signing key pair: HKDF(epochKey, communityId || u32be(epoch), "…/topic-signing", 32). */
  topicSigningSeed: Uint8Array
  /** The topic id: the Ed25519 public key of topicSigningSeed. */
  topicId: Uint8Array
  /** DHT rendezvous key: SHA-256("sotto/community/v1/rendezvous" || topicId). */
  rendezvousKey: Uint8Array
}

/** Derives the per-epoch keys of §8.2 from the community id, epoch number and epoch key. */
export function deriveEpochKeys(communityId: Uint8Array, epoch: number, epochKey: Uint8Array): EpochDerivedKeys {
  checkBytes('communityId', communityId, COMMUNITY_KEY_BYTES)
  checkBytes('epochKey', epochKey, COMMUNITY_KEY_BYTES)
  const salt = epochSalt(communityId, epoch)
  const topicSigningSeed = hkdf(epochKey, salt, utf8(COMMUNITY_LABELS.topicSigning), 32)
  const topicId = ed25519FromSeed(topicSigningSeed).publicKey
  return { topicSigningSeed, topicId, rendezvousKey: rendezvousKeyOf(topicId) }
}

/** The DHT rendezvous key of a topic id: SHA-256("sotto/community/v1/rendezvous" || topicId) (§8.2). */
export function rendezvousKeyOf(topicId: Uint8Array): Uint8Array {
  checkBytes('topicId', topicId, COMMUNITY_KEY_BYTES)
  return sha256(concatBytes(utf8(COMMUNITY_LABELS.rendezvous), topicId))
}

/** One step of a sender chain (§8.3): message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02). */
export function chainStep(chainKey: Uint8Array): { messageKey: Uint8Array; nextChainKey: Uint8Array } {
  checkBytes('chainKey', chainKey, COMMUNITY_KEY_BYTES)
  const [messageKey, nextChainKey] = hmacSha256Each(chainKey, CHAIN_STEP_INPUTS) as [Uint8Array, Uint8Array]
  return { messageKey, nextChainKey }
}

/** AEAD key and nonce of a message key (§8.3): HKDF(mk, empty salt, "…/message-keys", 56) = key[32] || nonce[24]. */
export function messageKeyMaterial(messageKey: Uint8Array): { aeadKey: Uint8Array; nonce: Uint8Array } {
  checkBytes('messageKey', messageKey, COMMUNITY_KEY_BYTES)
  const okm = hkdf(messageKey, new Uint8Array(0), MESSAGE_KEYS_INFO, KEY_BYTES + AEAD_NONCE_BYTES)
  const out = { aeadKey: okm.slice(0, KEY_BYTES), nonce: okm.slice(KEY_BYTES) }
  wipe(okm)
  return out
}

// --- Signers ------------------------------------------------------------------------------------

/**
 * What sealing and control statements need of an identity key: the Ed25519 public key and a signer.
 * Either shape is accepted: `{ signingPublicKey, sign }` or an identity key pair with
 * `publicKey.signingKey` and `sign` (src/crypto/identity.ts).
 */
export type CommunitySigner =
  | { readonly signingPublicKey: Uint8Array; sign(message: Uint8Array): Uint8Array }
  | { readonly publicKey: { readonly signingKey: Uint8Array }; sign(message: Uint8Array): Uint8Array }

/** The Ed25519 public key of a CommunitySigner (checked to be 32 bytes). */
export function signerPublicKey(signer: CommunitySigner): Uint8Array {
  const key = 'signingPublicKey' in signer ? signer.signingPublicKey : signer.publicKey?.signingKey
  checkBytes('signer public key', key, ED25519_PUBLIC_BYTES)
  return key
}

/** Signs with a CommunitySigner and checks that the result is 64 bytes. */
export function signWith(signer: CommunitySigner, message: Uint8Array): Uint8Array {
  const signature = signer.sign(message)
  checkBytes('signature', signature, SIGNATURE_BYTES)
  return signature
}

// --- Epochs (§8.2) --------------------------------------------------------------------------------

function checkEpochNumber(epoch: number): void {
  if (!Number.isInteger(epoch) || epoch < 0 || epoch > U32_MAX) throw new InvalidArgumentError('epoch must be a u32')
}

/**
 * One epoch of a community: the community id, the epoch number and its random epoch key (topic key),
 * with the keys derived from it. Secrets are never printed; `exportEpochKey` hands out a copy on purpose.
 */
export class CommunityEpoch {
  readonly #communityId: Uint8Array
  readonly #epoch: number
  readonly #epochKey: Uint8Array
  readonly #topicSecretKey: Uint8Array
  readonly #topicId: Uint8Array
  readonly #rendezvousKey: Uint8Array

  private constructor(communityId: Uint8Array, epoch: number, epochKey: Uint8Array) {
    checkBytes('communityId', communityId, COMMUNITY_KEY_BYTES)
    checkEpochNumber(epoch)
    checkBytes('epochKey', epochKey, COMMUNITY_KEY_BYTES)
    this.#communityId = communityId.slice()
    this.#epoch = epoch
    this.#epochKey = epochKey.slice()
    const derived = deriveEpochKeys(communityId, epoch, epochKey)
    this.#topicSecretKey = ed25519FromSeed(derived.topicSigningSeed).secretKey
    wipe(derived.topicSigningSeed)
    this.#topicId = derived.topicId
    this.#rendezvousKey = derived.rendezvousKey
  }

  /** A new community: random community id, epoch 0, random epoch key. */
  static create(random: RandomSource = randomBytes): CommunityEpoch {
    return new CommunityEpoch(random(COMMUNITY_KEY_BYTES), 0, random(COMMUNITY_KEY_BYTES))
  }

  /** An epoch from its parts (e.g. received in an EpochKeyGrant or an invite). */
  static fromEpochKey(communityId: Uint8Array, epoch: number, epochKey: Uint8Array): CommunityEpoch {
    return new CommunityEpoch(communityId, epoch, epochKey)
  }

  /** The next epoch of the same community, with a fresh random epoch key (rotation, §8.6). */
  next(random: RandomSource = randomBytes): CommunityEpoch {
    if (this.#epoch >= U32_MAX) throw new InvalidArgumentError('epoch number exhausted')
    return new CommunityEpoch(this.#communityId, this.#epoch + 1, random(COMMUNITY_KEY_BYTES))
  }

  /** The stable community id (a copy). */
  get communityId(): Uint8Array {
    return this.#communityId.slice()
  }

  /** The epoch number. */
  get epoch(): number {
    return this.#epoch
  }

  /** The topic id: the public key of the epoch's topic signing key (a copy). */
  get topicId(): Uint8Array {
    return this.#topicId.slice()
  }

  /** The topic id in lowercase hex. */
  get topicIdHex(): string {
    return toHex(this.#topicId)
  }

  /** The DHT rendezvous key of this epoch's topic (a copy). */
  get rendezvousKey(): Uint8Array {
    return this.#rendezvousKey.slice()
  }

  /** The first chain key of the chain of this sender key (§8.3). Secret. */
  initialChainKey(senderKey: Uint8Array): Uint8Array {
    checkBytes('senderKey', senderKey, ED25519_PUBLIC_BYTES)
    return hkdf(
      this.#epochKey,
      epochSalt(this.#communityId, this.#epoch),
      concatBytes(utf8(COMMUNITY_LABELS.senderChain), senderKey),
      COMMUNITY_KEY_BYTES
    )
  }

  /** Signs `message` with the topic signing key. */
  signWithTopicKey(message: Uint8Array): Uint8Array {
    return ed25519Sign(this.#topicSecretKey, message)
  }

  /** The topic key's certificate of a sender key (§8.3): Sign(topicSk, L_CERT || u32be(epoch) || senderKey). */
  certifySender(senderKey: Uint8Array): Uint8Array {
    checkBytes('senderKey', senderKey, ED25519_PUBLIC_BYTES)
    return ed25519Sign(this.#topicSecretKey, certificateMessage(this.#epoch, senderKey))
  }

  /** @internal The topic id without a copy, for the envelope check. */
  topicIdView(): Uint8Array {
    return this.#topicId
  }

  /** @internal The community id without a copy. */
  communityIdView(): Uint8Array {
    return this.#communityId
  }

  /** A copy of the secret epoch key, for an EpochKeyGrant or an invite. Handle as a secret. */
  exportEpochKey(): Uint8Array {
    return this.#epochKey.slice()
  }

  /** True when both describe the same community, epoch and key. */
  equals(other: CommunityEpoch): boolean {
    return (
      this.#epoch === other.#epoch &&
      equalBytes(this.#communityId, other.#communityId) &&
      equalBytes(this.#epochKey, other.#epochKey)
    )
  }

  /** version(1) || 0x45 || communityId[32] || u32be(epoch) || epochKey[32] (70 bytes, §8.7). Secret. */
  serialize(): Uint8Array {
    return concatBytes(u8(COMMUNITY_VERSION), u8(TYPE_EPOCH), this.#communityId, u32be(this.#epoch), this.#epochKey)
  }

  /** Parses `serialize()` output; throws UnsupportedVersionError or MalformedError. */
  static deserialize(bytes: Uint8Array): CommunityEpoch {
    checkBytes('bytes', bytes)
    const r = new ByteReader(bytes, 'community epoch')
    readVersionAndType(r, TYPE_EPOCH)
    const communityId = r.bytes(COMMUNITY_KEY_BYTES)
    const epoch = r.u32()
    const epochKey = r.bytes(COMMUNITY_KEY_BYTES)
    r.end()
    return new CommunityEpoch(communityId, epoch, epochKey)
  }

  /** Never prints the key. */
  toString(): string {
    return `CommunityEpoch { epoch: ${this.#epoch}, topicId: ${this.topicIdHex}, [secret] }`
  }

  /** Never serialises the key to JSON. */
  toJSON(): string {
    return this.toString()
  }

  [INSPECT](): string {
    return this.toString()
  }
}

function readVersionAndType(r: ByteReader, type: number): void {
  const version = r.u8()
  if (version !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`community version ${version}`)
  if (r.u8() !== type) throw new MalformedError('wrong object type byte')
}

function sameEpoch(epoch: CommunityEpoch, communityId: Uint8Array, epochNumber: number): boolean {
  return epoch.epoch === epochNumber && equalBytes(epoch.communityIdView(), communityId)
}

// --- Sender chains (§8.3) --------------------------------------------------------------------------

/** What a sender chain keeps from its first message to its last (§8.3, §8.7): everything but the position. */
interface SenderChainParts {
  readonly communityId: Uint8Array
  readonly epoch: number
  readonly identityKey: Uint8Array
  readonly senderSeed: Uint8Array
  /** The sender key pair, from senderSeed. */
  readonly senderKey: Uint8Array
  readonly senderSecretKey: Uint8Array
  readonly certificate: Uint8Array
  readonly binding: Uint8Array
}

/**
 * A sender's own chain in one epoch (§8.3): its identity key, its random sender key pair (from `senderSeed`),
 * the topic key's certificate and the identity key's binding of the sender key, the next index to use and the
 * current chain key. Immutable.
 */
export class SenderChainState {
  readonly #parts: SenderChainParts
  readonly #nextIndex: number
  readonly #chainKey: Uint8Array

  private constructor(parts: SenderChainParts, nextIndex: number, chainKey: Uint8Array) {
    this.#parts = parts
    this.#nextIndex = nextIndex
    this.#chainKey = chainKey
  }

  /**
   * A new chain of `identity` in `epoch`, at index 0: a fresh random sender key, certified by the topic key and
   * bound to the identity key (two signatures, once per chain).
   */
  static create(epoch: CommunityEpoch, identity: CommunitySigner, random: RandomSource = randomBytes): SenderChainState {
    const identityKey = signerPublicKey(identity).slice()
    const senderSeed = random(32)
    checkBytes('random sender seed', senderSeed, 32)
    const { publicKey: senderKey, secretKey: senderSecretKey } = ed25519FromSeed(senderSeed)
    const bound = bindingMessage(epoch.communityIdView(), epoch.epoch, senderKey)
    const binding = signWith(identity, bound)
    // Once per chain: a signer whose signatures do not verify under its key would make every message rejected.
    if (!ed25519Verify(identityKey, bound, binding)) throw new InvalidArgumentError('the identity signer does not sign for its public key')
    const parts = {
      communityId: epoch.communityId,
      epoch: epoch.epoch,
      identityKey,
      senderSeed,
      senderKey,
      senderSecretKey,
      certificate: epoch.certifySender(senderKey),
      binding
    }
    return new SenderChainState(parts, 0, epoch.initialChainKey(senderKey))
  }

  /** The index the next message will carry. */
  get nextIndex(): number {
    return this.#nextIndex
  }

  /** The epoch number of this chain. */
  get epoch(): number {
    return this.#parts.epoch
  }

  /** The community id (a copy). */
  get communityId(): Uint8Array {
    return this.#parts.communityId.slice()
  }

  /** The sender's identity key (a copy). */
  get identityKey(): Uint8Array {
    return this.#parts.identityKey.slice()
  }

  /** This chain's public sender key, named in every envelope's header (a copy). */
  get senderKey(): Uint8Array {
    return this.#parts.senderKey.slice()
  }

  /** @internal The chain's parts, without copies, for sealing. Secret. */
  sealingParts(): SenderChainParts {
    return this.#parts
  }

  /** @internal The current chain key, without a copy, for sealing. Secret. */
  chainKeyForSealing(): Uint8Array {
    return this.#chainKey
  }

  /** @internal The state after one message was sealed. */
  advanced(nextChainKey: Uint8Array): SenderChainState {
    return new SenderChainState(this.#parts, this.#nextIndex + 1, nextChainKey)
  }

  /**
   * version(1) || 0x53 || communityId[32] || u32be(epoch) || identityKey[32] || senderSeed[32] || certificate[64] ||
   * binding[64] || u32be(nextIndex) || chainKey[32] (266 bytes, §8.7). Secret.
   */
  serialize(): Uint8Array {
    const p = this.#parts
    return concatBytes(
      u8(COMMUNITY_VERSION),
      u8(TYPE_SENDER),
      p.communityId,
      u32be(p.epoch),
      p.identityKey,
      p.senderSeed,
      p.certificate,
      p.binding,
      u32be(this.#nextIndex),
      this.#chainKey
    )
  }

  /** Parses `serialize()` output; throws UnsupportedVersionError or MalformedError. */
  static deserialize(bytes: Uint8Array): SenderChainState {
    checkBytes('bytes', bytes)
    const r = new ByteReader(bytes, 'sender chain state')
    readVersionAndType(r, TYPE_SENDER)
    const communityId = r.bytes(COMMUNITY_KEY_BYTES)
    const epoch = r.u32()
    const identityKey = r.bytes(ED25519_PUBLIC_BYTES)
    const senderSeed = r.bytes(32)
    const certificate = r.bytes(SIGNATURE_BYTES)
    const binding = r.bytes(SIGNATURE_BYTES)
    const nextIndex = r.u32()
    const chainKey = r.bytes(COMMUNITY_KEY_BYTES)
    r.end()
    const { publicKey: senderKey, secretKey: senderSecretKey } = ed25519FromSeed(senderSeed)
    const parts = { communityId, epoch, identityKey, senderSeed, senderKey, senderSecretKey, certificate, binding }
    return new SenderChainState(parts, nextIndex, chainKey)
  }

  /** Never prints the keys. */
  toString(): string {
    return `SenderChainState { epoch: ${this.#parts.epoch}, nextIndex: ${this.#nextIndex}, [secret] }`
  }

  /** Never serialises the keys to JSON. */
  toJSON(): string {
    return this.toString()
  }

  [INSPECT](): string {
    return this.toString()
  }
}

/** A new chain of `identity` in `epoch`, at index 0 (same as SenderChainState.create). */
export function createSenderChain(epoch: CommunityEpoch, identity: CommunitySigner, random: RandomSource = randomBytes): SenderChainState {
  return SenderChainState.create(epoch, identity, random)
}

/** Who a sender key belongs to: the identity key and its binding of the sender key (§8.3), as first verified. */
export interface SenderIdentity {
  readonly identityKey: Uint8Array
  readonly binding: Uint8Array
}

/** A receiver's position in one sender's chain, and the identity the chain's sender key is bound to. */
interface ReceiverChain extends SenderIdentity {
  readonly senderKey: Uint8Array
  readonly nextIndex: number
  readonly chainKey: Uint8Array
}

/** A message key kept for a message that has not arrived yet. */
interface SkippedKey {
  readonly senderKey: Uint8Array
  readonly index: number
  readonly messageKey: Uint8Array
}

/** Bytes of a chain entry in a serialised receiver state (§8.7). */
const RECEIVER_CHAIN_BYTES = ED25519_PUBLIC_BYTES + ED25519_PUBLIC_BYTES + SIGNATURE_BYTES + 4 + COMMUNITY_KEY_BYTES

function skippedId(keyHex: string, index: number): string {
  return `${keyHex}:${index}`
}

/**
 * An immutable map that shares its entries with the map it was made from: `with` puts one entry into a small
 * overlay (copied) over a base map that is never changed, and merges the overlay into a new base once it holds
 * OVERLAY_MAX entries. A receiver state's commit for a known chain thus costs O(OVERLAY_MAX) amortised, not a copy
 * of every chain of the epoch (up to MAX_RECEIVER_CHAINS). Values are never undefined.
 */
class SharedMap<V> {
  static readonly OVERLAY_MAX = 64
  readonly #base: ReadonlyMap<string, V>
  readonly #overlay: ReadonlyMap<string, V>
  readonly size: number

  private constructor(base: ReadonlyMap<string, V>, overlay: ReadonlyMap<string, V>, size: number) {
    this.#base = base
    this.#overlay = overlay
    this.size = size
  }

  /** A map over `map`, which must not change afterwards. */
  static of<V>(map: ReadonlyMap<string, V>): SharedMap<V> {
    return new SharedMap(map, new Map(), map.size)
  }

  get(key: string): V | undefined {
    return this.#overlay.get(key) ?? this.#base.get(key)
  }

  /** This map with `key` set to `value`. */
  with(key: string, value: V): SharedMap<V> {
    const size = this.get(key) === undefined ? this.size + 1 : this.size
    const overlay = new Map(this.#overlay).set(key, value)
    if (overlay.size < SharedMap.OVERLAY_MAX) return new SharedMap(this.#base, overlay, size)
    const merged = new Map(this.#base)
    for (const [k, v] of overlay) merged.set(k, v)
    return new SharedMap(merged, new Map(), size)
  }

  /** A new Map of every entry (the base's keys first, in its order). */
  toMap(): Map<string, V> {
    const out = new Map(this.#base)
    for (const [k, v] of this.#overlay) out.set(k, v)
    return out
  }

  keys(): IterableIterator<string> {
    return this.toMap().keys()
  }

  values(): IterableIterator<V> {
    return this.toMap().values()
  }
}

/**
 * What a receiver state changed from the state it was made from (§8.7, stored in parts): the sender keys (hex)
 * whose chain entries it wrote or deleted, and whether its skipped keys changed. A store that keeps a receiver
 * state in parts rewrites only these.
 */
export interface ReceiverStateChange {
  /** Sender keys (lower-case hex) whose chain entry is new or changed. */
  readonly written: readonly string[]
  /** Sender keys (lower-case hex) whose chain was deleted (pushed out by a new chain). */
  readonly deleted: readonly string[]
  /** True when the skipped keys changed. */
  readonly skipped: boolean
}

/**
 * A receiver's view of every sender chain of one epoch: per sender key the identity it is bound to, the next
 * expected index and chain key, and the skipped message keys (bounded per sender and in total, oldest
 * deleted first). Immutable: opening a message returns a new state.
 */
export class CommunityReceiverState {
  readonly #communityId: Uint8Array
  readonly #epoch: number
  /** Keyed by hex of the sender key. */
  readonly #chains: SharedMap<ReceiverChain>
  /** Keyed by `${keyHex}:${index}`, in insertion order (oldest first). */
  readonly #skipped: ReadonlyMap<string, SkippedKey>
  readonly #change: ReceiverStateChange | undefined

  private constructor(
    communityId: Uint8Array,
    epoch: number,
    chains: SharedMap<ReceiverChain>,
    skipped: ReadonlyMap<string, SkippedKey>,
    change?: ReceiverStateChange
  ) {
    this.#communityId = communityId
    this.#epoch = epoch
    this.#chains = chains
    this.#skipped = skipped
    this.#change = change
  }

  /**
   * What this state changed from the one whose `prepare(...).commit` made it; undefined for a state made by
   * `create`, `deserialize` or `fromParts`.
   */
  get change(): ReceiverStateChange | undefined {
    return this.#change
  }

  /** An empty receiver state for `epoch` (no sender seen yet). */
  static create(epoch: CommunityEpoch): CommunityReceiverState {
    return new CommunityReceiverState(epoch.communityId, epoch.epoch, SharedMap.of(new Map()), new Map())
  }

  /** The epoch number. */
  get epoch(): number {
    return this.#epoch
  }

  /** The community id (a copy). */
  get communityId(): Uint8Array {
    return this.#communityId.slice()
  }

  /** @internal The community id without a copy. */
  communityIdView(): Uint8Array {
    return this.#communityId
  }

  /** Number of senders seen. */
  get senderCount(): number {
    return this.#chains.size
  }

  /** Number of skipped message keys held. */
  get skippedCount(): number {
    return this.#skipped.size
  }

  /** The next index expected from this sender key (0 if never seen). */
  nextIndexOf(senderKey: Uint8Array): number {
    return this.#chains.get(publicHex(senderKey))?.nextIndex ?? 0
  }

  /** True when a message key for (senderKey, index) is held for a message that has not arrived. */
  hasSkippedKey(senderKey: Uint8Array, index: number): boolean {
    return this.#skipped.has(skippedId(publicHex(senderKey), index))
  }

  /** The identity this sender key was found bound to (undefined for a sender key never seen). */
  identityOf(senderKey: Uint8Array): SenderIdentity | undefined {
    const chain = this.#chains.get(publicHex(senderKey))
    return chain === undefined ? undefined : { identityKey: chain.identityKey.slice(), binding: chain.binding.slice() }
  }

  /**
   * @internal Finds the message key for (senderKey, index), the identity the chain is bound to (undefined for a
   * new chain), and the state to commit if the message then verifies; a new chain is committed bound to the
   * identity passed to `commit`. Throws DuplicateMessageError, TooManySkippedError or MalformedError; never
   * changes this state.
   */
  prepare(
    epoch: CommunityEpoch,
    senderKey: Uint8Array,
    index: number
  ): { messageKey: Uint8Array; bound: SenderIdentity | undefined; commit: (identity: SenderIdentity) => CommunityReceiverState } {
    const keyHex = publicHex(senderKey)
    const chain = this.#chains.get(keyHex)
    const nextIndex = chain?.nextIndex ?? 0
    if (index < nextIndex) {
      const id = skippedId(keyHex, index)
      const entry = this.#skipped.get(id)
      if (entry === undefined) throw new DuplicateMessageError('message already opened (or its skipped key was deleted)')
      return {
        messageKey: entry.messageKey.slice(),
        bound: chain,
        commit: () => {
          const skipped = new Map(this.#skipped)
          skipped.delete(id)
          return new CommunityReceiverState(this.#communityId, this.#epoch, this.#chains, skipped, { written: [], deleted: [], skipped: true })
        }
      }
    }
    if (index > MAX_MESSAGE_INDEX) throw new MalformedError('message index out of range')
    if (index - nextIndex > MAX_SKIP) {
      throw new TooManySkippedError(`message would skip ${index - nextIndex} keys (max ${MAX_SKIP})`)
    }
    let ck = chain?.chainKey ?? epoch.initialChainKey(senderKey)
    const newSkipped: SkippedKey[] = []
    for (let i = nextIndex; i < index; i++) {
      const step = chainStep(ck)
      newSkipped.push({ senderKey: senderKey.slice(), index: i, messageKey: step.messageKey })
      ck = step.nextChainKey
    }
    const step = chainStep(ck)
    return {
      messageKey: step.messageKey,
      bound: chain,
      commit: (identity) => {
        // A known chain keeps its (immutable, never handed out) arrays; a new one copies the caller's, and may push
        // an older one out (§8.5), with its skipped keys: that (once per chain) works on a copy of every chain.
        let chains: SharedMap<ReceiverChain>
        let evicted: string[] = []
        if (chain !== undefined) {
          chains = this.#chains.with(keyHex, { ...chain, nextIndex: index + 1, chainKey: step.nextChainKey })
        } else {
          const all = this.#chains.toMap()
          all.set(keyHex, {
            senderKey: senderKey.slice(),
            identityKey: identity.identityKey.slice(),
            binding: identity.binding.slice(),
            nextIndex: index + 1,
            chainKey: step.nextChainKey
          })
          evicted = evictChains(all, keyHex)
          chains = SharedMap.of(all)
        }
        let skipped: ReadonlyMap<string, SkippedKey> = this.#skipped
        if (newSkipped.length > 0 || evicted.length > 0) {
          const grown = new Map(this.#skipped)
          for (const gone of evicted) for (const id of grown.keys()) if (id.startsWith(`${gone}:`)) grown.delete(id)
          for (const k of newSkipped) grown.set(skippedId(keyHex, k.index), k)
          evictOldest(grown, keyHex)
          // Pushed-out chains that held no skipped keys leave the skipped keys as they were.
          if (newSkipped.length > 0 || grown.size !== this.#skipped.size) skipped = grown
        }
        const change = { written: [keyHex], deleted: evicted, skipped: skipped !== this.#skipped }
        return new CommunityReceiverState(this.#communityId, this.#epoch, chains, skipped, change)
      }
    }
  }

  /**
   * The chain entry of one sender key (lower-case hex) as it appears in `serialize()` (§8.7, 164 bytes:
   * senderKey || identityKey || binding || u32be(nextIndex) || chainKey), or undefined when there is no such chain.
   * Secret.
   */
  chainEntry(senderKeyHex: string): Uint8Array | undefined {
    const c = this.#chains.get(senderKeyHex)
    if (c === undefined) return undefined
    return new ByteWriter(RECEIVER_CHAIN_BYTES).bytes(c.senderKey).bytes(c.identityKey).bytes(c.binding).u32(c.nextIndex).bytes(c.chainKey).end()
  }

  /** Sender keys (lower-case hex) of every chain held, in no particular order. */
  senderKeys(): string[] {
    return [...this.#chains.keys()]
  }

  /** The skipped-key section of `serialize()` (§8.7): u32be(nSkipped) || skipped keys oldest first. Secret. */
  skippedSection(): Uint8Array {
    let length = 4
    for (const k of this.#skipped.values()) length += k.senderKey.length + 4 + k.messageKey.length
    const w = new ByteWriter(length).u32(this.#skipped.size)
    for (const k of this.#skipped.values()) w.bytes(k.senderKey).u32(k.index).bytes(k.messageKey)
    return w.end()
  }

  /**
   * The state whose `serialize()` is the header for (communityId, epoch), the chain entries sorted by sender key,
   * then the skipped section (§8.7 "in parts"): exactly what `deserialize` of those bytes gives, with its checks.
   * Throws MalformedError when an entry is not 164 bytes or the assembled state does not decode.
   */
  static fromParts(communityId: Uint8Array, epoch: number, chainEntries: readonly Uint8Array[], skippedSection: Uint8Array): CommunityReceiverState {
    checkBytes('communityId', communityId, COMMUNITY_KEY_BYTES)
    checkBytes('skippedSection', skippedSection)
    if (chainEntries.length > MAX_RECEIVER_CHAINS) throw new MalformedError('too many sender chains')
    for (const e of chainEntries) {
      checkBytes('chain entry', e)
      if (e.length !== RECEIVER_CHAIN_BYTES) throw new MalformedError(`a chain entry is ${RECEIVER_CHAIN_BYTES} bytes`)
    }
    const sorted = [...chainEntries].sort((a, b) => compareBytes(a.subarray(0, ED25519_PUBLIC_BYTES), b.subarray(0, ED25519_PUBLIC_BYTES)))
    const w = new ByteWriter(2 + COMMUNITY_KEY_BYTES + 8 + sorted.length * RECEIVER_CHAIN_BYTES + skippedSection.length)
      .u8(COMMUNITY_VERSION)
      .u8(TYPE_RECEIVER)
      .bytes(communityId)
      .u32(epoch)
      .u32(sorted.length)
    for (const e of sorted) w.bytes(e)
    return CommunityReceiverState.deserialize(w.bytes(skippedSection).end())
  }

  /**
   * version(1) || 0x52 || communityId[32] || u32be(epoch) || u32be(nChains) || chains ||
   * u32be(nSkipped) || skipped (§8.7). Chains in ascending sender-key order: senderKey[32] || identityKey[32] ||
   * binding[64] || u32be(nextIndex) || chainKey[32]. Skipped keys oldest first: senderKey[32] || u32be(index) ||
   * messageKey[32]. Secret.
   */
  serialize(): Uint8Array {
    // Written once, every message received: sized first, then written in place (no array per field).
    const chains = [...this.#chains.values()].sort((a, b) => compareBytes(a.senderKey, b.senderKey))
    let length = 2 + this.#communityId.length + 4 + 4 + 4
    for (const c of chains) length += c.senderKey.length + c.identityKey.length + c.binding.length + 4 + c.chainKey.length
    for (const k of this.#skipped.values()) length += k.senderKey.length + 4 + k.messageKey.length
    const w = new ByteWriter(length).u8(COMMUNITY_VERSION).u8(TYPE_RECEIVER).bytes(this.#communityId).u32(this.#epoch).u32(chains.length)
    for (const c of chains) w.bytes(c.senderKey).bytes(c.identityKey).bytes(c.binding).u32(c.nextIndex).bytes(c.chainKey)
    w.u32(this.#skipped.size)
    for (const k of this.#skipped.values()) w.bytes(k.senderKey).u32(k.index).bytes(k.messageKey)
    return w.end()
  }

  /** Parses `serialize()` output, checking order, bounds and consistency; throws MalformedError. */
  static deserialize(bytes: Uint8Array): CommunityReceiverState {
    checkBytes('bytes', bytes)
    const r = new ByteReader(bytes, 'community receiver state')
    readVersionAndType(r, TYPE_RECEIVER)
    const communityId = r.bytes(COMMUNITY_KEY_BYTES)
    const epoch = r.u32()
    const nChains = r.u32()
    if (nChains > MAX_RECEIVER_CHAINS) throw new MalformedError('too many sender chains')
    // Refuse counts the input cannot hold before allocating anything.
    if (nChains * RECEIVER_CHAIN_BYTES > r.remaining) throw new MalformedError('community receiver state is truncated')
    const perIdentity = new Map<string, number>()
    const chains = new Map<string, ReceiverChain>()
    let previous: Uint8Array | undefined
    for (let i = 0; i < nChains; i++) {
      const senderKey = r.bytes(ED25519_PUBLIC_BYTES)
      const identityKey = r.bytes(ED25519_PUBLIC_BYTES)
      const binding = r.bytes(SIGNATURE_BYTES)
      const nextIndex = r.u32()
      const chainKey = r.bytes(COMMUNITY_KEY_BYTES)
      if (previous !== undefined && compareBytes(previous, senderKey) >= 0) {
        throw new MalformedError('sender chains not in ascending sender-key order')
      }
      if (nextIndex > MAX_MESSAGE_INDEX + 1) throw new MalformedError('next index out of range')
      const identityHex = publicHex(identityKey)
      const held = (perIdentity.get(identityHex) ?? 0) + 1
      if (held > MAX_CHAINS_PER_IDENTITY) throw new MalformedError('too many sender chains for one identity')
      perIdentity.set(identityHex, held)
      previous = senderKey
      chains.set(publicHex(senderKey), { senderKey, identityKey, binding, nextIndex, chainKey })
    }
    const nSkipped = r.u32()
    if (nSkipped > MAX_SKIPPED_TOTAL) throw new MalformedError('too many skipped keys')
    const skipped = new Map<string, SkippedKey>()
    const perSender = new Map<string, number>()
    for (let i = 0; i < nSkipped; i++) {
      const senderKey = r.bytes(ED25519_PUBLIC_BYTES)
      const index = r.u32()
      const messageKey = r.bytes(COMMUNITY_KEY_BYTES)
      const keyHex = publicHex(senderKey)
      const chain = chains.get(keyHex)
      if (chain === undefined || index >= chain.nextIndex) throw new MalformedError('skipped key outside its chain')
      const id = skippedId(keyHex, index)
      if (skipped.has(id)) throw new MalformedError('duplicate skipped key')
      const count = (perSender.get(keyHex) ?? 0) + 1
      if (count > MAX_SKIPPED_PER_SENDER) throw new MalformedError('too many skipped keys for one sender')
      perSender.set(keyHex, count)
      skipped.set(id, { senderKey, index, messageKey })
    }
    r.end()
    return new CommunityReceiverState(communityId, epoch, SharedMap.of(chains), skipped)
  }

  /** Never prints keys. */
  toString(): string {
    return `CommunityReceiverState { epoch: ${this.#epoch}, senders: ${this.#chains.size}, skipped: ${this.#skipped.size}, [secret] }`
  }

  /** Never serialises keys to JSON. */
  toJSON(): string {
    return this.toString()
  }

  [INSPECT](): string {
    return this.toString()
  }
}

/**
 * After the new chain `keyHex` was added to `chains`: while the identity it is bound to has more than
 * MAX_CHAINS_PER_IDENTITY chains, deletes that identity's other chain with the smallest sender key; then, while
 * there are more than MAX_RECEIVER_CHAINS, deletes the other chain with the smallest sender key. Returns the
 * deleted sender keys (hex). Runs once per new chain, not per message.
 */
function evictChains(chains: Map<string, ReceiverChain>, keyHex: string): string[] {
  const evicted: string[] = []
  const identityKey = chains.get(keyHex)!.identityKey
  // Lower-case hex of equal length sorts as the bytes do.
  const own = [...chains.entries()]
    .filter(([k, c]) => k !== keyHex && equalBytes(c.identityKey, identityKey))
    .map(([k]) => k)
    .sort()
  for (let i = 0; own.length - i >= MAX_CHAINS_PER_IDENTITY; i++) evicted.push(own[i]!)
  for (const k of evicted) chains.delete(k)
  if (chains.size > MAX_RECEIVER_CHAINS) {
    const others = [...chains.keys()].filter((k) => k !== keyHex).sort()
    for (let i = 0; chains.size > MAX_RECEIVER_CHAINS; i++) {
      chains.delete(others[i]!)
      evicted.push(others[i]!)
    }
  }
  return evicted
}

/** Deletes the oldest skipped keys of `keyHex` above MAX_SKIPPED_PER_SENDER, then the oldest overall above MAX_SKIPPED_TOTAL. */
function evictOldest(skipped: Map<string, SkippedKey>, keyHex: string): void {
  const prefix = `${keyHex}:`
  let count = 0
  for (const id of skipped.keys()) if (id.startsWith(prefix)) count++
  for (const id of skipped.keys()) {
    if (count <= MAX_SKIPPED_PER_SENDER) break
    if (id.startsWith(prefix)) {
      skipped.delete(id)
      count--
    }
  }
  for (const id of skipped.keys()) {
    if (skipped.size <= MAX_SKIPPED_TOTAL) break
    skipped.delete(id)
  }
}

/** An empty receiver state for `epoch` (same as CommunityReceiverState.create). */
export function createReceiverState(epoch: CommunityEpoch): CommunityReceiverState {
  return CommunityReceiverState.create(epoch)
}

// --- Messages (§8.4, §8.5) ---------------------------------------------------------------------------

/** The clear header of a sealed community envelope (§8.5). */
export interface CommunityEnvelopeHeader {
  version: number
  epoch: number
  senderKey: Uint8Array
  index: number
}

/** The parts of a sealed envelope, as views into it (§8.5). */
interface EnvelopeParts {
  epoch: number
  senderKey: Uint8Array
  index: number
  headerBytes: Uint8Array
  ciphertext: Uint8Array
  certificate: Uint8Array
  signature: Uint8Array
}

/** Checks length and version and splits `sealed` into views; throws UnsupportedVersionError or MalformedError. */
function envelopeParts(sealed: Uint8Array): EnvelopeParts {
  checkBytes('sealed', sealed)
  if (sealed.length < MIN_SEALED_BYTES || sealed.length > MAX_SEALED_BYTES) {
    throw new MalformedError(`sealed community message of ${sealed.length} bytes is out of range`)
  }
  if (sealed[0] !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`community envelope version ${sealed[0]}`)
  const trailer = sealed.length - ENVELOPE_TRAILER_BYTES
  return {
    epoch: readU32(sealed, HEADER_EPOCH_AT),
    senderKey: sealed.subarray(HEADER_SENDER_AT, HEADER_INDEX_AT),
    index: readU32(sealed, HEADER_INDEX_AT),
    headerBytes: sealed.subarray(0, ENVELOPE_HEADER_BYTES),
    ciphertext: sealed.subarray(ENVELOPE_HEADER_BYTES, trailer),
    certificate: sealed.subarray(trailer, trailer + SIGNATURE_BYTES),
    signature: sealed.subarray(trailer + SIGNATURE_BYTES)
  }
}

/**
 * Splits a sealed envelope into header, ciphertext, the topic key's certificate of the sender key and the
 * sender key's signature (copies), checking only lengths and the version. Throws UnsupportedVersionError or
 * MalformedError.
 */
export function readCommunityEnvelope(sealed: Uint8Array): {
  header: CommunityEnvelopeHeader
  headerBytes: Uint8Array
  ciphertext: Uint8Array
  certificate: Uint8Array
  signature: Uint8Array
} {
  const p = envelopeParts(sealed)
  return {
    header: { version: COMMUNITY_VERSION, epoch: p.epoch, senderKey: p.senderKey.slice(), index: p.index },
    headerBytes: p.headerBytes.slice(),
    ciphertext: p.ciphertext.slice(),
    certificate: p.certificate.slice(),
    signature: p.signature.slice()
  }
}

/** L_ENV || sealed without its last 64 bytes: what the sender key signs (§8.5). */
function envelopeSignedBytes(sealed: Uint8Array): Uint8Array {
  return concatBytes(ENVELOPE_LABEL, sealed.subarray(0, sealed.length - SIGNATURE_BYTES))
}

/**
 * Certificates that verified, so a sender's certificate is verified once and not with every envelope: keyed by
 * topic id, epoch and sender key (hex), holding the certificate's bytes. Bounded; the oldest entry goes first.
 * Only a certificate whose bytes equal a verified one is taken from here; any other is verified.
 */
const verifiedCertificates = new Map<string, Uint8Array>()
/** Most certificates remembered (about 200 bytes each). */
export const CERTIFICATE_CACHE_ENTRIES = 4096

function certificateVerifies(topicId: Uint8Array, parts: EnvelopeParts): boolean {
  const { epoch, senderKey, certificate } = parts
  const key = `${publicHex(topicId)}:${epoch}:${publicHex(senderKey)}`
  const known = verifiedCertificates.get(key)
  if (known !== undefined && equalBytes(known, certificate)) return true
  if (!ed25519Verify(topicId, certificateMessage(epoch, senderKey), certificate)) return false
  if (verifiedCertificates.size >= CERTIFICATE_CACHE_ENTRIES) {
    verifiedCertificates.delete(verifiedCertificates.keys().next().value as string)
  }
  verifiedCertificates.set(key, certificate.slice())
  return true
}

function readU32(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/**
 * The router's check (§8.5): true when `sealed` is a well-formed version-1 envelope whose certificate verifies
 * under `topicId` (so its sender key was certified by a holder of the epoch key) and whose signature verifies
 * under that sender key. Needs no secret; reveals nothing about the content or the sender's identity.
 */
export function verifyCommunityEnvelope(topicId: Uint8Array, sealed: Uint8Array): boolean {
  if (!(topicId instanceof Uint8Array) || topicId.length !== COMMUNITY_KEY_BYTES) return false
  let parts: EnvelopeParts
  try {
    parts = envelopeParts(sealed)
  } catch {
    return false
  }
  return envelopeVerifies(topicId, sealed, parts)
}

function envelopeVerifies(topicId: Uint8Array, sealed: Uint8Array, parts: EnvelopeParts): boolean {
  if (!certificateVerifies(topicId, parts)) return false
  return ed25519Verify(parts.senderKey, envelopeSignedBytes(sealed), parts.signature)
}

/**
 * Seals `body` from `identity` in `epoch` (§8.4, §8.5). `timestamp` is milliseconds since the Unix epoch.
 * Returns the advanced sender state and the sealed envelope; `senderState` itself is unchanged.
 *
 * The caller must store the returned state before it publishes `sealed`: the key and nonce of an index
 * are deterministic, so sealing a different body again from the old state would reuse them.
 */
export function sealCommunityMessage(
  epoch: CommunityEpoch,
  senderState: SenderChainState,
  identity: CommunitySigner,
  body: Uint8Array,
  timestamp: number
): { state: SenderChainState; sealed: Uint8Array } {
  checkBytes('body', body)
  if (body.length > MAX_COMMUNITY_BODY_BYTES) {
    throw new InvalidArgumentError(`body must be at most ${MAX_COMMUNITY_BODY_BYTES} bytes, got ${body.length}`)
  }
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new InvalidArgumentError('timestamp must be a non-negative safe integer')
  const parts = senderState.sealingParts()
  if (senderState.epoch !== epoch.epoch || !equalBytes(parts.communityId, epoch.communityIdView())) {
    throw new InvalidArgumentError('senderState belongs to another community or epoch')
  }
  if (!equalBytes(signerPublicKey(identity), parts.identityKey)) throw new InvalidArgumentError('senderState belongs to another sender')
  const index = senderState.nextIndex
  if (index > MAX_MESSAGE_INDEX) throw new InvalidArgumentError('sender chain exhausted; rotate the epoch')

  // The padded inner plaintext (§8.4, §9), written in place: fields, body, 0x80, zeros.
  const innerLength = INNER_HEADER_BYTES + body.length
  const padded = new Uint8Array(paddedLength(innerLength))
  const view = new DataView(padded.buffer)
  padded[0] = COMMUNITY_VERSION
  view.setUint32(1, epoch.epoch)
  padded.set(parts.communityId, 5)
  padded.set(parts.identityKey, 37)
  view.setUint32(69, index)
  view.setUint32(73, Math.floor(timestamp / 0x1_0000_0000))
  view.setUint32(77, timestamp >>> 0)
  padded.set(parts.binding, 81)
  padded.set(body, INNER_HEADER_BYTES)
  padded[innerLength] = PAD_MARKER
  const { messageKey, nextChainKey } = chainStep(senderState.chainKeyForSealing())
  const { aeadKey, nonce } = messageKeyMaterial(messageKey)
  // L_ENV || header || ct || certificate, signed by the sender key; the envelope is that without the label, plus
  // the signature. The header is written in place; the ciphertext is copied in.
  const at = ENVELOPE_LABEL.length
  const ctLength = padded.length + AEAD_TAG_BYTES
  const labelled = new Uint8Array(at + ENVELOPE_HEADER_BYTES + ctLength + ENVELOPE_TRAILER_BYTES)
  labelled.set(ENVELOPE_LABEL, 0)
  const header = labelled.subarray(at, at + ENVELOPE_HEADER_BYTES)
  const headerView = new DataView(labelled.buffer, at, ENVELOPE_HEADER_BYTES)
  header[0] = COMMUNITY_VERSION
  headerView.setUint32(HEADER_EPOCH_AT, epoch.epoch)
  header.set(parts.senderKey, HEADER_SENDER_AT)
  headerView.setUint32(HEADER_INDEX_AT, index)
  labelled.set(aeadEncrypt(aeadKey, nonce, padded, header), at + ENVELOPE_HEADER_BYTES)
  // The message key is used once and deleted; only the next chain key survives in the new state.
  wipe(messageKey)
  wipe(aeadKey)
  wipe(padded)
  labelled.set(parts.certificate, at + ENVELOPE_HEADER_BYTES + ctLength)
  const signedLength = labelled.length - SIGNATURE_BYTES
  labelled.set(ed25519Sign(parts.senderSecretKey, labelled.subarray(0, signedLength)), signedLength)
  return { state: senderState.advanced(nextChainKey), sealed: labelled.slice(at) }
}

/** What opening a community message yields. */
export interface OpenedCommunityMessage {
  /** The receiver state to commit once the message is stored. */
  states: CommunityReceiverState
  /** The sender's Ed25519 identity public key (authenticated through its binding of the sender key). */
  senderKey: Uint8Array
  /** The message's index in its sender's chain. */
  index: number
  /** The sender's timestamp (milliseconds since the Unix epoch), as signed by the sender. */
  timestamp: number
  /** The message body. */
  body: Uint8Array
}

/** Options of {@link openCommunityMessage}. */
export interface OpenCommunityOptions {
  /**
   * True when the caller has already run the router check ({@link verifyCommunityEnvelope}) on these exact bytes
   * under this epoch's topic id (e.g. its gossip validator did), so it is not run twice. Never set it for bytes
   * nobody checked.
   */
  envelopeChecked?: boolean
}

/**
 * Opens a sealed community message (§8.5, §8.4). On success returns the new receiver state and the
 * authenticated message; on any failure throws and `receiverStates` is unchanged:
 * UnsupportedVersionError / MalformedError (bad layout), EpochMismatchError (another epoch or
 * community), DecryptionError (the router check fails, or AEAD failure), DuplicateMessageError (replay),
 * TooManySkippedError (beyond MAX_SKIP), SignatureError (bad binding, or an identity other than the one the
 * sender key is bound to).
 */
export function openCommunityMessage(
  epoch: CommunityEpoch,
  receiverStates: CommunityReceiverState,
  sealed: Uint8Array,
  options: OpenCommunityOptions = {}
): OpenedCommunityMessage {
  if (!sameEpoch(epoch, receiverStates.communityIdView(), receiverStates.epoch)) {
    throw new InvalidArgumentError('receiverStates belong to another community or epoch')
  }
  const header = envelopeParts(sealed)
  const { headerBytes, ciphertext } = header
  if (header.epoch !== epoch.epoch) throw new EpochMismatchError(`message is for epoch ${header.epoch}, not ${epoch.epoch}`)
  if (options.envelopeChecked !== true && !envelopeVerifies(epoch.topicIdView(), sealed, header)) {
    throw new DecryptionError('envelope signatures do not verify: tampered, or not from this community epoch')
  }
  const prepared = receiverStates.prepare(epoch, header.senderKey, header.index)
  const { aeadKey, nonce } = messageKeyMaterial(prepared.messageKey)
  let padded: Uint8Array
  try {
    padded = aeadDecrypt(aeadKey, nonce, ciphertext, headerBytes)
  } finally {
    wipe(aeadKey)
    wipe(prepared.messageKey)
  }
  let inner: Uint8Array
  try {
    inner = unpad(padded)
  } catch (e) {
    if (e instanceof PaddingError) throw new MalformedError('community plaintext is not correctly padded')
    throw e
  }
  const r = new ByteReader(inner, 'community inner plaintext')
  const version = r.u8()
  if (version !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`community message version ${version}`)
  const innerEpoch = r.u32()
  const communityId = r.view(COMMUNITY_KEY_BYTES)
  if (innerEpoch !== epoch.epoch || !equalBytes(communityId, epoch.communityIdView())) {
    throw new EpochMismatchError('inner plaintext names another community or epoch')
  }
  // Views into `inner`, which is this function's own copy (unpad's output).
  const identityKey = r.view(ED25519_PUBLIC_BYTES)
  const index = r.u32()
  const timestamp = r.u64()
  const binding = r.view(SIGNATURE_BYTES)
  const body = r.rest()
  if (index !== header.index) throw new SignatureError('inner index does not match the envelope')
  const bound = prepared.bound
  if (bound !== undefined) {
    // The sender key's binding was verified with the chain's first message; the sender repeats it unchanged.
    if (!equalBytes(identityKey, bound.identityKey) || !equalBytes(binding, bound.binding)) {
      throw new SignatureError('identity or binding differs from the one this sender key is bound to')
    }
  } else if (!ed25519Verify(identityKey, bindingMessage(communityId, innerEpoch, header.senderKey), binding)) {
    throw new SignatureError('bad binding of the sender key to the identity key')
  }
  return { states: prepared.commit({ identityKey, binding }), senderKey: identityKey.slice(), index, timestamp, body }
}
