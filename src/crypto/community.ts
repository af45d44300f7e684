/**
 * Community (group) keys: epochs, per-sender hash-ratchet chains, and sealed community messages,
 * as specified in docs/PROTOCOL.md §8. Vectors: test/vectors/community_epoch.json.
 *
 * A community has a stable 32-byte community id. Each epoch has a random 32-byte epoch key (the "topic
 * key"); from it are derived the topic signing key pair (its public key is the topic id that routers and
 * relays see), the sender-tag key, and one hash-ratchet chain per sender. A message is signed by its
 * sender's identity key inside the encryption and the whole envelope is signed by the topic signing key.
 *
 * States are immutable: sealing and opening return new states and leave the inputs untouched, so a
 * caller commits a new state only after it stored the message, and a failed open changes nothing.
 */
import {
  ByteReader,
  compareBytes,
  INSPECT,
  U32_MAX,
  u8,
  u32be,
  u64be
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
import { pad, unpad } from './padding.js'
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
  hmacSha256,
  hmacSha256Each,
  KEY_BYTES,
  randomBytes,
  SIGNATURE_BYTES,
  sha256,
  toHex,
  utf8,
  wipe
} from './primitives.js'
import type { RandomSource } from './types.js'

// --- Constants (§8.1) ------------------------------------------------------------------------------

/** Version byte of community envelopes, inner plaintexts and serialised community states. */
export const COMMUNITY_VERSION = 1
/** Length of a community id, an epoch key, a topic id, a sender tag, a chain key and a message key. */
export const COMMUNITY_KEY_BYTES = 32
/** Most message keys one message may skip in its sender's chain (index - next expected index). */
export const MAX_SKIP = 1000
/** Most skipped message keys kept per sender; beyond it the oldest are deleted. */
export const MAX_SKIPPED_PER_SENDER = 1000
/** Most skipped message keys kept per epoch across all senders; beyond it the oldest are deleted. */
export const MAX_SKIPPED_TOTAL = 5000
/** Highest message index a chain may use (so that the next index still fits in a u32). */
export const MAX_MESSAGE_INDEX = U32_MAX - 1

/** HKDF info strings and labels (§8.2). */
export const COMMUNITY_LABELS = Object.freeze({
  topicSigning: 'sotto/community/v1/topic-signing',
  senderTag: 'sotto/community/v1/sender-tag',
  senderChain: 'sotto/community/v1/sender-chain',
  messageKeys: 'sotto/community/v1/message-keys',
  rendezvous: 'sotto/community/v1/rendezvous',
  envelopeSignature: 'sotto/community/v1/envelope',
  messageSignature: 'sotto/community/v1/message'
})

/** Type bytes of serialised community objects (§8.7). */
const TYPE_EPOCH = 0x45 // 'E'
const TYPE_SENDER = 0x53 // 'S'
const TYPE_RECEIVER = 0x52 // 'R'

/** Outer envelope header: version(1) || epoch(4) || senderTag(32) || index(4). */
export const ENVELOPE_HEADER_BYTES = 1 + 4 + COMMUNITY_KEY_BYTES + 4
/** Inner plaintext before the body: version, epoch, community id, sender key, index, timestamp, signature. */
export const INNER_HEADER_BYTES = 1 + 4 + COMMUNITY_KEY_BYTES + ED25519_PUBLIC_BYTES + 4 + 8 + SIGNATURE_BYTES
/** Largest message body: the largest padding bucket minus the 0x80 pad byte minus the inner header. */
export const MAX_COMMUNITY_BODY_BYTES = 65535 - INNER_HEADER_BYTES
/** Smallest and largest sealed envelopes (smallest and largest padding bucket). */
export const MIN_SEALED_BYTES = ENVELOPE_HEADER_BYTES + 256 + AEAD_TAG_BYTES + SIGNATURE_BYTES
export const MAX_SEALED_BYTES = ENVELOPE_HEADER_BYTES + 65536 + AEAD_TAG_BYTES + SIGNATURE_BYTES

const CHAIN_MESSAGE_KEY_BYTE = 0x01
const CHAIN_NEXT_KEY_BYTE = 0x02
/** chainStep's two HMAC inputs, in the order of its outputs (message key, next chain key). */
const CHAIN_STEP_INPUTS = [Uint8Array.of(CHAIN_MESSAGE_KEY_BYTE), Uint8Array.of(CHAIN_NEXT_KEY_BYTE)] as const
/** HKDF info of the message-key expansion, encoded once. */
const MESSAGE_KEYS_INFO = utf8(COMMUNITY_LABELS.messageKeys)

// --- Key derivation (§8.2, §8.3) -------------------------------------------------------------------

function epochSalt(communityId: Uint8Array, epoch: number): Uint8Array {
  return concatBytes(communityId, u32be(epoch))
}

/** Keys derived from one epoch key (§8.2). Returned for vectors and audits; the objects hold them privately. */
export interface EpochDerivedKeys {
  /** Seed of the topic signing key pair: HKDF(epochKey, communityId || u32be(epoch), "…/topic-signing", 32). */
  topicSigningSeed: Uint8Array
  /** The topic id: the Ed25519 public key of topicSigningSeed. */
  topicId: Uint8Array
  /** Key of the opaque per-epoch sender tags: HKDF(epochKey, communityId || u32be(epoch), "…/sender-tag", 32). */
  senderTagKey: Uint8Array
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
  const senderTagKey = hkdf(epochKey, salt, utf8(COMMUNITY_LABELS.senderTag), 32)
  return { topicSigningSeed, topicId, senderTagKey, rendezvousKey: rendezvousKeyOf(topicId) }
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
  readonly #senderTagKey: Uint8Array
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
    this.#senderTagKey = derived.senderTagKey
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

  /** The opaque sender tag of an identity signing key in this epoch: HMAC(senderTagKey, key) (§8.3). */
  senderTag(senderSigningKey: Uint8Array): Uint8Array {
    checkBytes('senderSigningKey', senderSigningKey, ED25519_PUBLIC_BYTES)
    return hmacSha256(this.#senderTagKey, senderSigningKey)
  }

  /** The first chain key of the chain with this sender tag (§8.3). Secret. */
  initialChainKey(senderTag: Uint8Array): Uint8Array {
    checkBytes('senderTag', senderTag, COMMUNITY_KEY_BYTES)
    return hkdf(
      this.#epochKey,
      epochSalt(this.#communityId, this.#epoch),
      concatBytes(utf8(COMMUNITY_LABELS.senderChain), senderTag),
      COMMUNITY_KEY_BYTES
    )
  }

  /** Signs `message` with the topic signing key (used for envelopes, §8.5). */
  signWithTopicKey(message: Uint8Array): Uint8Array {
    return ed25519Sign(this.#topicSecretKey, message)
  }

  /**
   * A key holder's check of an envelope's topic signature (§8.5, "Holder check"): the same verdict as
   * {@link verifyTopicSignature} under this epoch's topic id, cheaper. Ed25519 signing is deterministic, so
   * the holder signs the envelope itself and compares in constant time (one signing costs about a third of a
   * verification); only when the bytes differ (a forgery, or a signer that randomises its signatures) does it
   * run Verify. False for a malformed envelope.
   */
  checkTopicSignature(sealed: Uint8Array): boolean {
    let parts: ReturnType<typeof readCommunityEnvelope>
    try {
      parts = readCommunityEnvelope(sealed)
    } catch {
      return false
    }
    const signed = envelopeSignedBytes(sealed)
    if (equalBytes(ed25519Sign(this.#topicSecretKey, signed), parts.topicSignature)) return true
    return ed25519Verify(this.#topicId, signed, parts.topicSignature)
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
  return epoch.epoch === epochNumber && equalBytes(epoch.communityId, communityId)
}

// --- Sender chains (§8.3) --------------------------------------------------------------------------

/** A sender's own chain in one epoch: the next index to use and the current chain key. Immutable. */
export class SenderChainState {
  readonly #communityId: Uint8Array
  readonly #epoch: number
  readonly #senderTag: Uint8Array
  readonly #nextIndex: number
  readonly #chainKey: Uint8Array

  private constructor(communityId: Uint8Array, epoch: number, senderTag: Uint8Array, nextIndex: number, chainKey: Uint8Array) {
    this.#communityId = communityId
    this.#epoch = epoch
    this.#senderTag = senderTag
    this.#nextIndex = nextIndex
    this.#chainKey = chainKey
  }

  /** The chain of `senderSigningKey` in `epoch`, at index 0. */
  static create(epoch: CommunityEpoch, senderSigningKey: Uint8Array): SenderChainState {
    const tag = epoch.senderTag(senderSigningKey)
    return new SenderChainState(epoch.communityId, epoch.epoch, tag, 0, epoch.initialChainKey(tag))
  }

  /** The index the next message will carry. */
  get nextIndex(): number {
    return this.#nextIndex
  }

  /** The epoch number of this chain. */
  get epoch(): number {
    return this.#epoch
  }

  /** The community id (a copy). */
  get communityId(): Uint8Array {
    return this.#communityId.slice()
  }

  /** This sender's opaque tag in the epoch (a copy). */
  get senderTag(): Uint8Array {
    return this.#senderTag.slice()
  }

  /** @internal The current chain key (a copy). Secret. */
  chainKeyForSealing(): Uint8Array {
    return this.#chainKey.slice()
  }

  /** @internal The state after one message was sealed. */
  advanced(nextChainKey: Uint8Array): SenderChainState {
    return new SenderChainState(this.#communityId, this.#epoch, this.#senderTag, this.#nextIndex + 1, nextChainKey)
  }

  /** version(1) || 0x53 || communityId[32] || u32be(epoch) || senderTag[32] || u32be(nextIndex) || chainKey[32] (106 bytes). */
  serialize(): Uint8Array {
    return concatBytes(
      u8(COMMUNITY_VERSION),
      u8(TYPE_SENDER),
      this.#communityId,
      u32be(this.#epoch),
      this.#senderTag,
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
    const tag = r.bytes(COMMUNITY_KEY_BYTES)
    const nextIndex = r.u32()
    const chainKey = r.bytes(COMMUNITY_KEY_BYTES)
    r.end()
    return new SenderChainState(communityId, epoch, tag, nextIndex, chainKey)
  }

  /** Never prints the chain key. */
  toString(): string {
    return `SenderChainState { epoch: ${this.#epoch}, nextIndex: ${this.#nextIndex}, [secret] }`
  }

  /** Never serialises the chain key to JSON. */
  toJSON(): string {
    return this.toString()
  }

  [INSPECT](): string {
    return this.toString()
  }
}

/** The chain of `senderSigningKey` in `epoch`, at index 0 (same as SenderChainState.create). */
export function createSenderChain(epoch: CommunityEpoch, senderSigningKey: Uint8Array): SenderChainState {
  return SenderChainState.create(epoch, senderSigningKey)
}

/** A receiver's position in one sender's chain. */
interface ReceiverChain {
  readonly senderTag: Uint8Array
  readonly nextIndex: number
  readonly chainKey: Uint8Array
}

/** A message key kept for a message that has not arrived yet. */
interface SkippedKey {
  readonly senderTag: Uint8Array
  readonly index: number
  readonly messageKey: Uint8Array
}

function skippedId(tagHex: string, index: number): string {
  return `${tagHex}:${index}`
}

/**
 * A receiver's view of every sender chain of one epoch: per sender (by tag) the next expected index and
 * chain key, and the skipped message keys (bounded per sender and in total, oldest deleted first).
 * Immutable: opening a message returns a new state.
 */
export class CommunityReceiverState {
  readonly #communityId: Uint8Array
  readonly #epoch: number
  /** Keyed by hex of the sender tag. */
  readonly #chains: ReadonlyMap<string, ReceiverChain>
  /** Keyed by `${tagHex}:${index}`, in insertion order (oldest first). */
  readonly #skipped: ReadonlyMap<string, SkippedKey>

  private constructor(
    communityId: Uint8Array,
    epoch: number,
    chains: ReadonlyMap<string, ReceiverChain>,
    skipped: ReadonlyMap<string, SkippedKey>
  ) {
    this.#communityId = communityId
    this.#epoch = epoch
    this.#chains = chains
    this.#skipped = skipped
  }

  /** An empty receiver state for `epoch` (no sender seen yet). */
  static create(epoch: CommunityEpoch): CommunityReceiverState {
    return new CommunityReceiverState(epoch.communityId, epoch.epoch, new Map(), new Map())
  }

  /** The epoch number. */
  get epoch(): number {
    return this.#epoch
  }

  /** The community id (a copy). */
  get communityId(): Uint8Array {
    return this.#communityId.slice()
  }

  /** Number of senders seen. */
  get senderCount(): number {
    return this.#chains.size
  }

  /** Number of skipped message keys held. */
  get skippedCount(): number {
    return this.#skipped.size
  }

  /** The next index expected from the sender with this tag (0 if never seen). */
  nextIndexOf(senderTag: Uint8Array): number {
    return this.#chains.get(toHex(senderTag))?.nextIndex ?? 0
  }

  /** True when a message key for (senderTag, index) is held for a message that has not arrived. */
  hasSkippedKey(senderTag: Uint8Array, index: number): boolean {
    return this.#skipped.has(skippedId(toHex(senderTag), index))
  }

  /**
   * @internal Finds the message key for (tag, index) and the state to commit if the message then
   * verifies. Throws DuplicateMessageError or TooManySkippedError; never changes this state.
   */
  prepare(epoch: CommunityEpoch, senderTag: Uint8Array, index: number): { messageKey: Uint8Array; commit: () => CommunityReceiverState } {
    const tagHex = toHex(senderTag)
    const chain = this.#chains.get(tagHex)
    const nextIndex = chain?.nextIndex ?? 0
    if (index < nextIndex) {
      const id = skippedId(tagHex, index)
      const entry = this.#skipped.get(id)
      if (entry === undefined) throw new DuplicateMessageError('message already opened (or its skipped key was deleted)')
      return {
        messageKey: entry.messageKey.slice(),
        commit: () => {
          const skipped = new Map(this.#skipped)
          skipped.delete(id)
          return new CommunityReceiverState(this.#communityId, this.#epoch, this.#chains, skipped)
        }
      }
    }
    if (index > MAX_MESSAGE_INDEX) throw new MalformedError('message index out of range')
    if (index - nextIndex > MAX_SKIP) {
      throw new TooManySkippedError(`message would skip ${index - nextIndex} keys (max ${MAX_SKIP})`)
    }
    let ck = chain?.chainKey ?? epoch.initialChainKey(senderTag)
    const newSkipped: SkippedKey[] = []
    for (let i = nextIndex; i < index; i++) {
      const step = chainStep(ck)
      newSkipped.push({ senderTag: senderTag.slice(), index: i, messageKey: step.messageKey })
      ck = step.nextChainKey
    }
    const step = chainStep(ck)
    return {
      messageKey: step.messageKey,
      commit: () => {
        const chains = new Map(this.#chains)
        chains.set(tagHex, { senderTag: senderTag.slice(), nextIndex: index + 1, chainKey: step.nextChainKey })
        let skipped: ReadonlyMap<string, SkippedKey> = this.#skipped
        if (newSkipped.length > 0) {
          const grown = new Map(this.#skipped)
          for (const s of newSkipped) grown.set(skippedId(tagHex, s.index), s)
          evictOldest(grown, tagHex)
          skipped = grown
        }
        return new CommunityReceiverState(this.#communityId, this.#epoch, chains, skipped)
      }
    }
  }

  /**
   * version(1) || 0x52 || communityId[32] || u32be(epoch) || u32be(nChains) || chains ||
   * u32be(nSkipped) || skipped (§8.7). Chains in ascending tag order: senderTag[32] || u32be(nextIndex) ||
   * chainKey[32]. Skipped keys oldest first: senderTag[32] || u32be(index) || messageKey[32]. Secret.
   */
  serialize(): Uint8Array {
    const chains = [...this.#chains.values()].sort((a, b) => compareBytes(a.senderTag, b.senderTag))
    const parts: Uint8Array[] = [
      u8(COMMUNITY_VERSION),
      u8(TYPE_RECEIVER),
      this.#communityId,
      u32be(this.#epoch),
      u32be(chains.length)
    ]
    for (const c of chains) parts.push(c.senderTag, u32be(c.nextIndex), c.chainKey)
    parts.push(u32be(this.#skipped.size))
    for (const s of this.#skipped.values()) parts.push(s.senderTag, u32be(s.index), s.messageKey)
    return concatBytes(...parts)
  }

  /** Parses `serialize()` output, checking order, bounds and consistency; throws MalformedError. */
  static deserialize(bytes: Uint8Array): CommunityReceiverState {
    checkBytes('bytes', bytes)
    const r = new ByteReader(bytes, 'community receiver state')
    readVersionAndType(r, TYPE_RECEIVER)
    const communityId = r.bytes(COMMUNITY_KEY_BYTES)
    const epoch = r.u32()
    const nChains = r.u32()
    // Each chain entry is 68 bytes: refuse counts the input cannot hold before allocating anything.
    if (nChains * 68 > r.remaining) throw new MalformedError('community receiver state is truncated')
    const chains = new Map<string, ReceiverChain>()
    let previous: Uint8Array | undefined
    for (let i = 0; i < nChains; i++) {
      const senderTag = r.bytes(COMMUNITY_KEY_BYTES)
      const nextIndex = r.u32()
      const chainKey = r.bytes(COMMUNITY_KEY_BYTES)
      if (previous !== undefined && compareBytes(previous, senderTag) >= 0) {
        throw new MalformedError('sender chains not in ascending tag order')
      }
      if (nextIndex > MAX_MESSAGE_INDEX + 1) throw new MalformedError('next index out of range')
      previous = senderTag
      chains.set(toHex(senderTag), { senderTag, nextIndex, chainKey })
    }
    const nSkipped = r.u32()
    if (nSkipped > MAX_SKIPPED_TOTAL) throw new MalformedError('too many skipped keys')
    const skipped = new Map<string, SkippedKey>()
    const perSender = new Map<string, number>()
    for (let i = 0; i < nSkipped; i++) {
      const senderTag = r.bytes(COMMUNITY_KEY_BYTES)
      const index = r.u32()
      const messageKey = r.bytes(COMMUNITY_KEY_BYTES)
      const tagHex = toHex(senderTag)
      const chain = chains.get(tagHex)
      if (chain === undefined || index >= chain.nextIndex) throw new MalformedError('skipped key outside its chain')
      const id = skippedId(tagHex, index)
      if (skipped.has(id)) throw new MalformedError('duplicate skipped key')
      const count = (perSender.get(tagHex) ?? 0) + 1
      if (count > MAX_SKIPPED_PER_SENDER) throw new MalformedError('too many skipped keys for one sender')
      perSender.set(tagHex, count)
      skipped.set(id, { senderTag, index, messageKey })
    }
    r.end()
    return new CommunityReceiverState(communityId, epoch, chains, skipped)
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

/** Deletes the oldest skipped keys of `tagHex` above MAX_SKIPPED_PER_SENDER, then the oldest overall above MAX_SKIPPED_TOTAL. */
function evictOldest(skipped: Map<string, SkippedKey>, tagHex: string): void {
  const prefix = `${tagHex}:`
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
  senderTag: Uint8Array
  index: number
}

/**
 * Splits a sealed envelope into header, ciphertext and topic signature, checking only lengths and the
 * version. Throws UnsupportedVersionError or MalformedError.
 */
export function readCommunityEnvelope(sealed: Uint8Array): {
  header: CommunityEnvelopeHeader
  headerBytes: Uint8Array
  ciphertext: Uint8Array
  topicSignature: Uint8Array
} {
  checkBytes('sealed', sealed)
  if (sealed.length < MIN_SEALED_BYTES || sealed.length > MAX_SEALED_BYTES) {
    throw new MalformedError(`sealed community message of ${sealed.length} bytes is out of range`)
  }
  const r = new ByteReader(sealed, 'sealed community message')
  const version = r.u8()
  if (version !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`community envelope version ${version}`)
  const epoch = r.u32()
  const senderTag = r.bytes(COMMUNITY_KEY_BYTES)
  const index = r.u32()
  const ciphertext = r.bytes(r.remaining - SIGNATURE_BYTES)
  const topicSignature = r.bytes(SIGNATURE_BYTES)
  return {
    header: { version, epoch, senderTag, index },
    headerBytes: sealed.slice(0, ENVELOPE_HEADER_BYTES),
    ciphertext,
    topicSignature
  }
}

function envelopeSignedBytes(sealed: Uint8Array): Uint8Array {
  return concatBytes(utf8(COMMUNITY_LABELS.envelopeSignature), sealed.subarray(0, sealed.length - SIGNATURE_BYTES))
}

/**
 * The router's check (§8.5): true when `sealed` is a well-formed version-1 envelope whose topic
 * signature verifies under `topicId`. Needs no secret; reveals nothing about the content.
 */
export function verifyTopicSignature(topicId: Uint8Array, sealed: Uint8Array): boolean {
  if (!(topicId instanceof Uint8Array) || topicId.length !== COMMUNITY_KEY_BYTES) return false
  let parts: ReturnType<typeof readCommunityEnvelope>
  try {
    parts = readCommunityEnvelope(sealed)
  } catch {
    return false
  }
  return ed25519Verify(topicId, envelopeSignedBytes(sealed), parts.topicSignature)
}

function innerSignedBytes(innerWithoutSignature: Uint8Array, body: Uint8Array): Uint8Array {
  return concatBytes(utf8(COMMUNITY_LABELS.messageSignature), innerWithoutSignature, body)
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
  const senderKey = signerPublicKey(identity)
  if (!sameEpoch(epoch, senderState.communityId, senderState.epoch)) {
    throw new InvalidArgumentError('senderState belongs to another community or epoch')
  }
  const tag = epoch.senderTag(senderKey)
  if (!equalBytes(tag, senderState.senderTag)) throw new InvalidArgumentError('senderState belongs to another sender')
  const index = senderState.nextIndex
  if (index > MAX_MESSAGE_INDEX) throw new InvalidArgumentError('sender chain exhausted; rotate the epoch')

  const innerHead = concatBytes(
    u8(COMMUNITY_VERSION),
    u32be(epoch.epoch),
    epoch.communityId,
    senderKey,
    u32be(index),
    u64be(timestamp)
  )
  const signature = signWith(identity, innerSignedBytes(innerHead, body))
  const padded = pad(concatBytes(innerHead, signature, body))

  const ck = senderState.chainKeyForSealing()
  const { messageKey, nextChainKey } = chainStep(ck)
  const { aeadKey, nonce } = messageKeyMaterial(messageKey)
  const header = concatBytes(u8(COMMUNITY_VERSION), u32be(epoch.epoch), tag, u32be(index))
  const ciphertext = aeadEncrypt(aeadKey, nonce, padded, header)
  // The message key is used once and deleted; only the next chain key survives in the new state.
  wipe(ck)
  wipe(messageKey)
  wipe(aeadKey)
  wipe(padded)
  const unsigned = concatBytes(header, ciphertext, new Uint8Array(SIGNATURE_BYTES))
  const topicSignature = epoch.signWithTopicKey(envelopeSignedBytes(unsigned))
  unsigned.set(topicSignature, unsigned.length - SIGNATURE_BYTES)
  return { state: senderState.advanced(nextChainKey), sealed: unsigned }
}

/** What opening a community message yields. */
export interface OpenedCommunityMessage {
  /** The receiver state to commit once the message is stored. */
  states: CommunityReceiverState
  /** The sender's Ed25519 identity public key (authenticated by its signature). */
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
   * True when the caller has already checked this envelope's topic signature under this epoch's topic id
   * (e.g. the gossip validator did, with {@link CommunityEpoch.checkTopicSignature} or
   * {@link verifyTopicSignature}), so it is not checked twice. Never set it for bytes nobody checked.
   */
  topicSignatureChecked?: boolean
}

/**
 * Opens a sealed community message (§8.5, §8.4). On success returns the new receiver state and the
 * authenticated message; on any failure throws and `receiverStates` is unchanged:
 * UnsupportedVersionError / MalformedError (bad layout), EpochMismatchError (another epoch or
 * community), DecryptionError (bad topic signature or AEAD failure), DuplicateMessageError (replay),
 * TooManySkippedError (beyond MAX_SKIP), SignatureError (bad sender signature or sender mismatch).
 */
export function openCommunityMessage(
  epoch: CommunityEpoch,
  receiverStates: CommunityReceiverState,
  sealed: Uint8Array,
  options: OpenCommunityOptions = {}
): OpenedCommunityMessage {
  if (!sameEpoch(epoch, receiverStates.communityId, receiverStates.epoch)) {
    throw new InvalidArgumentError('receiverStates belong to another community or epoch')
  }
  const { header, headerBytes, ciphertext } = readCommunityEnvelope(sealed)
  if (header.epoch !== epoch.epoch) throw new EpochMismatchError(`message is for epoch ${header.epoch}, not ${epoch.epoch}`)
  if (options.topicSignatureChecked !== true && !epoch.checkTopicSignature(sealed)) {
    throw new DecryptionError('topic signature does not verify: tampered, or not from this community epoch')
  }
  const prepared = receiverStates.prepare(epoch, header.senderTag, header.index)
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
  const communityId = r.bytes(COMMUNITY_KEY_BYTES)
  if (innerEpoch !== epoch.epoch || !equalBytes(communityId, epoch.communityId)) {
    throw new EpochMismatchError('inner plaintext names another community or epoch')
  }
  const senderKey = r.bytes(ED25519_PUBLIC_BYTES)
  const index = r.u32()
  const timestamp = r.u64()
  const signature = r.bytes(SIGNATURE_BYTES)
  const body = r.rest()
  if (!equalBytes(epoch.senderTag(senderKey), header.senderTag)) throw new SignatureError('sender key does not match the sender tag')
  if (index !== header.index) throw new SignatureError('inner index does not match the envelope')
  const innerHead = inner.subarray(0, INNER_HEADER_BYTES - SIGNATURE_BYTES)
  if (!ed25519Verify(senderKey, innerSignedBytes(innerHead, body), signature)) {
    throw new SignatureError('bad sender signature on community message')
  }
  return { states: prepared.commit(), senderKey, index, timestamp, body }
}
