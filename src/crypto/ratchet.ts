/**
 * The Double Ratchet with header encryption (docs/PROTOCOL.md §5; state layout §6), as in the Signal
 * Double Ratchet specification §4 (RatchetInitAliceHE, RatchetInitBobHE, RatchetEncryptHE, RatchetDecryptHE).
 *
 * A RatchetSession is immutable: encrypt and decrypt return a new session and leave the receiver untouched,
 * so a decrypt that throws leaves the caller with its old state, and the caller commits the new state only
 * after it has stored the message. Each session object holds its own copies of its root, chain and header
 * keys and of its ratchet private key; skipped message keys are shared with the sessions derived from it
 * (see wipe).
 */
import {
  DecryptionError,
  DuplicateMessageError,
  InvalidArgumentError,
  InvalidStateError,
  TooManySkippedError
} from './errors.js'
import { AEAD_NONCE_BYTES, AEAD_TAG_BYTES, checkBytes, concatBytes, equalBytes, KEY_BYTES, toHex, wipe as wipeBytes, x25519, x25519CheckPublic, x25519Public, X25519_BYTES } from './primitives.js'
import {
  decodeHeader,
  decryptBody,
  ENCRYPTED_HEADER_BYTES,
  encodeHeader,
  encryptBody,
  type HeaderFields,
  headerAssociatedData,
  kdfChain,
  kdfRoot,
  MAX_COUNTER,
  MAX_PREVIOUS_CHAINS,
  MAX_SKIP,
  MAX_SKIPPED_TOTAL,
  openHeader,
  sealHeader
} from './ratchet-kdf.js'
import { decodeState, encodeState, MAX_ASSOCIATED_DATA_BYTES, type RatchetState, type ReceivingChain } from './ratchet-state.js'
import type { RandomSource, SessionSecrets, X25519KeyPair } from './types.js'

export {
  ENCRYPTED_HEADER_BYTES,
  MAX_PREVIOUS_CHAINS,
  MAX_SKIP,
  MAX_SKIPPED_TOTAL
} from './ratchet-kdf.js'

/** A ratchet message on the wire: the encrypted header and the encrypted body. */
export interface RatchetMessage {
  /** Encrypted header: nonce [24] || AEAD(header plaintext) [57] (§5.5). */
  header: Uint8Array
  /** Body: AEAD ciphertext || tag [16] (§5.3). */
  ciphertext: Uint8Array
}

/** Options of a session. */
export interface RatchetOptions {
  /** Source of the ratchet private keys and header nonces; the system CSPRNG when absent. */
  random?: RandomSource
}

/** What encrypt returns: the new state and the message to send. */
export interface EncryptResult {
  session: RatchetSession
  message: RatchetMessage
}

/** What decrypt returns: the new state, the plaintext, and an identifier of the message in the session. */
export interface DecryptResult {
  session: RatchetSession
  plaintext: Uint8Array
  /** hex(sender's ratchet public key) + ":" + N: unique per message of a session, not secret. */
  messageKeyId: string
}

/**
 * The default RandomSource: the operating system's CSPRNG through Web Crypto's getRandomValues. libsodium's
 * randombytes_buf in its WebAssembly build reaches the same source but costs ~60 us per call here, which
 * a per-message header nonce cannot afford.
 */
export const systemRandom: RandomSource = (length: number): Uint8Array => {
  const out = new Uint8Array(length)
  for (let o = 0; o < length; o += 65536) globalThis.crypto.getRandomValues(out.subarray(o, Math.min(length, o + 65536)))
  return out
}

/** Bytes of system randomness drawn at a time for header nonces. */
const NONCE_POOL_BYTES = 4096
let noncePool: Uint8Array = new Uint8Array(0)
let noncePoolOffset = 0

/**
 * Header nonces from a pool refilled from systemRandom: one getRandomValues call serves ~170 messages.
 * Only nonces come from the pool; they are public and need only be unique, so holding upcoming ones in
 * memory reveals nothing. Ratchet private keys are always drawn directly.
 */
const pooledNonceRandom: RandomSource = (length: number): Uint8Array => {
  if (length > NONCE_POOL_BYTES) return systemRandom(length)
  if (noncePoolOffset + length > noncePool.length) {
    noncePool = systemRandom(NONCE_POOL_BYTES)
    noncePoolOffset = 0
  }
  const out = noncePool.slice(noncePoolOffset, noncePoolOffset + length)
  noncePoolOffset += length
  return out
}

function draw(random: RandomSource, length: number, what: string): Uint8Array {
  const bytes = random(length)
  checkBytes(what, bytes, length)
  return bytes
}

/** GENERATE_DH(): a new X25519 key pair from 32 random bytes (the private scalar, clamped by X25519). */
function generateDh(random: RandomSource): X25519KeyPair {
  const privateKey = draw(random, X25519_BYTES, 'random ratchet private key')
  return { privateKey, publicKey: x25519Public(privateKey) }
}

/** KDF_RK_HE, zeroing the DH output afterwards. */
function kdfRootWiping(rootKey: Uint8Array, dhOutput: Uint8Array): ReturnType<typeof kdfRoot> {
  try {
    return kdfRoot(rootKey, dhOutput)
  } finally {
    wipeBytes(dhOutput)
  }
}

const copy = (b: Uint8Array): Uint8Array => b.slice()
const copyOrNull = (b: Uint8Array | null): Uint8Array | null => (b === null ? null : b.slice())

/** Derives the message keys of N = from .. until-1 of a chain; returns them with the chain key at `until`. */
function skipKeys(
  chainKey: Uint8Array,
  from: number,
  until: number
): { chainKey: Uint8Array; keys: Array<[number, Uint8Array]> } {
  const keys: Array<[number, Uint8Array]> = []
  let ck = chainKey
  for (let n = from; n < until; n++) {
    const step = kdfChain(ck)
    if (ck !== chainKey) wipeBytes(ck)
    ck = step.chainKey
    keys.push([n, step.messageKey])
  }
  return { chainKey: ck, keys }
}

function withAdded(
  skipped: ReadonlyMap<number, Uint8Array>,
  keys: Array<[number, Uint8Array]>
): ReadonlyMap<number, Uint8Array> {
  if (keys.length === 0) return skipped
  const m = new Map(skipped)
  for (const [n, mk] of keys) m.set(n, mk)
  return m
}

function withRemoved(skipped: ReadonlyMap<number, Uint8Array>, n: number): ReadonlyMap<number, Uint8Array> {
  const m = new Map(skipped)
  m.delete(n)
  return m
}

/** Drops the `count` oldest (smallest N) skipped keys of a chain; returns the new map and eviction mark. */
function dropOldest(
  skipped: ReadonlyMap<number, Uint8Array>,
  evictedBelow: number,
  count: number
): { skipped: ReadonlyMap<number, Uint8Array>; evictedBelow: number } {
  const m = new Map<number, Uint8Array>()
  let i = 0
  let mark = evictedBelow
  for (const [n, mk] of skipped) {
    if (i++ < count) mark = n + 1
    else m.set(n, mk)
  }
  return { skipped: m, evictedBelow: mark }
}

/**
 * Enforces the total bound: evicts the oldest skipped keys (oldest closed chain first, smallest N first)
 * until at most MAX_SKIPPED_TOTAL remain.
 */
function evictOverflow(s: RatchetState): RatchetState {
  let excess = s.skippedTotal - MAX_SKIPPED_TOTAL
  if (excess <= 0) return s
  const previous: ReceivingChain[] = []
  for (const c of s.previous) {
    if (excess > 0 && c.skipped.size > 0) {
      const take = Math.min(excess, c.skipped.size)
      excess -= take
      const d = dropOldest(c.skipped, c.evictedBelow, take)
      previous.push({ headerKey: c.headerKey, end: c.end, evictedBelow: d.evictedBelow, skipped: d.skipped })
    } else {
      previous.push(c)
    }
  }
  let { skipped, evictedBelow } = s
  if (excess > 0) ({ skipped, evictedBelow } = dropOldest(skipped, evictedBelow, excess))
  return { ...s, previous, skipped, evictedBelow, skippedTotal: MAX_SKIPPED_TOTAL }
}

/** The error for a message whose key is no longer held: a duplicate, or a key evicted by the total bound. */
function missingKeyError(n: number, evictedBelow: number): Error {
  return n < evictedBelow
    ? new TooManySkippedError(`message key ${n} was evicted from the skipped-key store (or already used)`)
    : new DuplicateMessageError(`message ${n} was already decrypted`)
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/**
 * A Double Ratchet session with header encryption (docs/PROTOCOL.md §5). Immutable: every operation
 * returns a new session. Secrets are never printed (toString, toJSON and inspect are redacted).
 */
export class RatchetSession {
  readonly #s: RatchetState
  readonly #random: RandomSource
  readonly #headerAd: Uint8Array
  #wiped = false

  private constructor(state: RatchetState, random: RandomSource, headerAd?: Uint8Array) {
    this.#s = state
    this.#random = random
    this.#headerAd = headerAd ?? headerAssociatedData(state.ad)
  }

  /**
   * RatchetInitAliceHE: the initiator's session, from the set-up secrets and the responder's ratchet
   * public key (its signed prekey). Draws the first ratchet key pair (32 random bytes).
   */
  static initAlice(secrets: SessionSecrets, bobRatchetPublic: Uint8Array, opts: RatchetOptions = {}): RatchetSession {
    checkSecrets(secrets)
    checkBytes('bobRatchetPublic', bobRatchetPublic, X25519_BYTES)
    const random = opts.random ?? systemRandom
    const dhs = generateDh(random)
    const root = kdfRootWiping(secrets.rootKey, x25519(dhs.privateKey, bobRatchetPublic))
    const state: RatchetState = {
      dhs,
      dhr: copy(bobRatchetPublic),
      rk: root.rootKey,
      cks: root.chainKey,
      hks: copy(secrets.headerKeyA),
      ckr: null,
      hkr: null,
      nhks: root.nextHeaderKey,
      nhkr: copy(secrets.nextHeaderKeyB),
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: new Map(),
      evictedBelow: 0,
      previous: [],
      skippedTotal: 0,
      ad: copy(secrets.associatedData)
    }
    return new RatchetSession(state, random)
  }

  /**
   * RatchetInitBobHE: the responder's session, from the set-up secrets and its ratchet key pair (the
   * signed prekey Alice used). It can send only after it has decrypted Alice's first message.
   */
  static initBob(secrets: SessionSecrets, bobRatchetKeyPair: X25519KeyPair, opts: RatchetOptions = {}): RatchetSession {
    checkSecrets(secrets)
    checkBytes('bobRatchetKeyPair.privateKey', bobRatchetKeyPair.privateKey, X25519_BYTES)
    checkBytes('bobRatchetKeyPair.publicKey', bobRatchetKeyPair.publicKey, X25519_BYTES)
    if (!equalBytes(x25519Public(bobRatchetKeyPair.privateKey), bobRatchetKeyPair.publicKey)) {
      throw new InvalidArgumentError('bobRatchetKeyPair.publicKey does not match its private key')
    }
    const state: RatchetState = {
      dhs: { privateKey: copy(bobRatchetKeyPair.privateKey), publicKey: copy(bobRatchetKeyPair.publicKey) },
      dhr: null,
      rk: copy(secrets.rootKey),
      cks: null,
      hks: null,
      ckr: null,
      hkr: null,
      nhks: copy(secrets.nextHeaderKeyB),
      nhkr: copy(secrets.headerKeyA),
      ns: 0,
      nr: 0,
      pn: 0,
      skipped: new Map(),
      evictedBelow: 0,
      previous: [],
      skippedTotal: 0,
      ad: copy(secrets.associatedData)
    }
    return new RatchetSession(state, opts.random ?? systemRandom)
  }

  /** Decodes a state written by serialize (§6); throws MalformedError or UnsupportedVersionError. */
  static deserialize(bytes: Uint8Array, opts: RatchetOptions = {}): RatchetSession {
    return new RatchetSession(decodeState(bytes), opts.random ?? systemRandom)
  }

  /** The state in the versioned byte layout of §6. It contains secrets: store it encrypted. */
  serialize(): Uint8Array {
    this.#live()
    return encodeState(this.#s)
  }

  /** True once the session has a sending chain (always for the initiator; for the responder after its first decrypt). */
  get canSend(): boolean {
    return this.#s.cks !== null
  }

  /** Number of skipped message keys held over all chains. */
  get skippedKeyCount(): number {
    return this.#s.skippedTotal
  }

  /** RatchetEncryptHE: encrypts `plaintext`; returns the next state and the message. */
  encrypt(plaintext: Uint8Array): EncryptResult {
    this.#live()
    checkBytes('plaintext', plaintext)
    const s = this.#s
    if (s.cks === null || s.hks === null) {
      throw new InvalidStateError('this session cannot send before it has received a message')
    }
    if (s.ns >= MAX_COUNTER) throw new InvalidStateError('sending chain exhausted')
    const { chainKey, messageKey } = kdfChain(s.cks)
    const nonce = draw(this.#random === systemRandom ? pooledNonceRandom : this.#random, AEAD_NONCE_BYTES, 'random header nonce')
    const header = sealHeader(s.hks, nonce, encodeHeader(s.dhs.publicKey, s.pn, s.ns), this.#headerAd)
    const ciphertext = encryptBody(messageKey, plaintext, concatBytes(s.ad, header))
    wipeBytes(messageKey)
    const next = this.#derive({ ...s, cks: chainKey, ns: s.ns + 1 }, ['cks'])
    return { session: next, message: { header, ciphertext } }
  }

  /**
   * RatchetDecryptHE: decrypts a message. Throws DecryptionError (tampering, unknown header key),
   * DuplicateMessageError (already decrypted), TooManySkippedError (gap beyond MAX_SKIP, or key evicted),
   * InvalidKeyError (low-order ratchet key) or UnsupportedVersionError; this session is unchanged either way.
   */
  decrypt(message: RatchetMessage): DecryptResult {
    this.#live()
    const { header, ciphertext } = message
    if (!(header instanceof Uint8Array) || header.length !== ENCRYPTED_HEADER_BYTES) {
      throw new DecryptionError(`encrypted header must be ${ENCRYPTED_HEADER_BYTES} bytes`)
    }
    if (!(ciphertext instanceof Uint8Array) || ciphertext.length < AEAD_TAG_BYTES) {
      throw new DecryptionError(`ciphertext must be at least ${AEAD_TAG_BYTES} bytes`)
    }
    const s = this.#s
    const bodyAd = concatBytes(s.ad, header)
    if (s.hkr !== null) {
      const plain = openHeader(s.hkr, header, this.#headerAd)
      if (plain !== null) return this.#receiveCurrent(decodeHeader(plain), ciphertext, bodyAd)
    }
    const plainNext = openHeader(s.nhkr, header, this.#headerAd)
    if (plainNext !== null) return this.#receiveRatchet(decodeHeader(plainNext), ciphertext, bodyAd)
    for (let i = s.previous.length - 1; i >= 0; i--) {
      const plain = openHeader(s.previous[i]!.headerKey, header, this.#headerAd)
      if (plain !== null) return this.#receivePrevious(i, decodeHeader(plain), ciphertext, bodyAd)
    }
    throw new DecryptionError('header does not decrypt under any header key of this session')
  }

  /** A message of the current receiving chain (header decrypted under HKr). */
  #receiveCurrent(h: HeaderFields, ciphertext: Uint8Array, bodyAd: Uint8Array): DecryptResult {
    const s = this.#s
    if (h.n < s.nr) {
      const mk = s.skipped.get(h.n)
      if (mk === undefined) throw missingKeyError(h.n, s.evictedBelow)
      const plaintext = decryptBody(mk, ciphertext, bodyAd)
      const next = this.#derive({ ...s, skipped: withRemoved(s.skipped, h.n), skippedTotal: s.skippedTotal - 1 }, [])
      return { session: next, plaintext, messageKeyId: messageKeyId(h) }
    }
    if (h.n - s.nr > MAX_SKIP) throw new TooManySkippedError(`message ${h.n} would skip more than ${MAX_SKIP} keys`)
    if (h.n >= MAX_COUNTER) throw new DecryptionError('message number out of range')
    const skip = skipKeys(s.ckr!, s.nr, h.n)
    const step = kdfChain(skip.chainKey)
    if (skip.chainKey !== s.ckr) wipeBytes(skip.chainKey)
    let plaintext: Uint8Array
    try {
      plaintext = decryptBody(step.messageKey, ciphertext, bodyAd)
    } catch (err) {
      for (const [, mk] of skip.keys) wipeBytes(mk)
      wipeBytes(step.chainKey)
      throw err
    } finally {
      wipeBytes(step.messageKey)
    }
    const next = this.#derive(
      {
        ...s,
        ckr: step.chainKey,
        nr: h.n + 1,
        skipped: withAdded(s.skipped, skip.keys),
        skippedTotal: s.skippedTotal + skip.keys.length
      },
      ['ckr']
    )
    return { session: next, plaintext, messageKeyId: messageKeyId(h) }
  }

  /** The first message of a new receiving chain (header decrypted under NHKr): DHRatchetHE, then receive. */
  #receiveRatchet(h: HeaderFields, ciphertext: Uint8Array, bodyAd: Uint8Array): DecryptResult {
    const s = this.#s
    // Low-order and non-canonical ratchet keys are refused before any key is derived (SECURITY.md, attack 7).
    x25519CheckPublic(h.dh, 'ratchet public key')
    if (s.ckr !== null && h.pn > s.nr && h.pn - s.nr > MAX_SKIP) {
      throw new TooManySkippedError(`previous chain length ${h.pn} would skip more than ${MAX_SKIP} keys`)
    }
    if (h.n > MAX_SKIP) throw new TooManySkippedError(`message ${h.n} would skip more than ${MAX_SKIP} keys`)
    // SkipMessageKeysHE(state, header.pn) on the chain being closed.
    const closing = s.ckr !== null ? skipKeys(s.ckr, s.nr, Math.max(s.nr, h.pn)) : null
    // DHRatchetHE(state, header).
    const receiving = kdfRootWiping(s.rk, x25519(s.dhs.privateKey, h.dh))
    const dhs = generateDh(this.#random)
    const sending = kdfRootWiping(receiving.rootKey, x25519(dhs.privateKey, h.dh))
    // SkipMessageKeysHE(state, header.n), then KDF_CK on the new receiving chain.
    const skip = skipKeys(receiving.chainKey, 0, h.n)
    const step = kdfChain(skip.chainKey)
    let plaintext: Uint8Array
    try {
      plaintext = decryptBody(step.messageKey, ciphertext, bodyAd)
    } catch (err) {
      for (const [, mk] of [...skip.keys, ...(closing?.keys ?? [])]) wipeBytes(mk)
      for (const k of [receiving.rootKey, receiving.chainKey, sending.rootKey, sending.chainKey, dhs.privateKey]) {
        wipeBytes(k)
      }
      if (closing !== null && closing.chainKey !== s.ckr) wipeBytes(closing.chainKey)
      throw err
    } finally {
      wipeBytes(step.messageKey)
    }
    wipeBytes(receiving.rootKey)
    if (skip.chainKey !== receiving.chainKey) wipeBytes(skip.chainKey)
    wipeBytes(receiving.chainKey)
    if (closing !== null && closing.chainKey !== s.ckr) wipeBytes(closing.chainKey)

    let previous: ReceivingChain[] = [...s.previous]
    let skippedTotal = s.skippedTotal + skip.keys.length
    if (s.hkr !== null && closing !== null) {
      skippedTotal += closing.keys.length
      previous.push({
        headerKey: copy(s.hkr),
        end: Math.max(s.nr, h.pn),
        evictedBelow: s.evictedBelow,
        skipped: withAdded(s.skipped, closing.keys)
      })
    }
    if (previous.length > MAX_PREVIOUS_CHAINS) {
      const dropped = previous.slice(0, previous.length - MAX_PREVIOUS_CHAINS)
      for (const c of dropped) skippedTotal -= c.skipped.size
      previous = previous.slice(previous.length - MAX_PREVIOUS_CHAINS)
    }
    const state: RatchetState = evictOverflow({
      dhs,
      dhr: h.dh,
      rk: sending.rootKey,
      cks: sending.chainKey,
      hks: copy(s.nhks),
      ckr: step.chainKey,
      hkr: copy(s.nhkr),
      nhks: sending.nextHeaderKey,
      nhkr: receiving.nextHeaderKey,
      ns: 0,
      nr: h.n + 1,
      pn: s.ns,
      skipped: new Map(skip.keys),
      evictedBelow: 0,
      previous,
      skippedTotal,
      ad: s.ad
    })
    return { session: new RatchetSession(state, this.#random, this.#headerAd), plaintext, messageKeyId: messageKeyId(h) }
  }

  /** A delayed message of a closed receiving chain: only its skipped key can decrypt it. */
  #receivePrevious(index: number, h: HeaderFields, ciphertext: Uint8Array, bodyAd: Uint8Array): DecryptResult {
    const s = this.#s
    const chain = s.previous[index]!
    if (h.n >= chain.end) throw new DecryptionError('message number beyond the end of a closed chain')
    const mk = chain.skipped.get(h.n)
    if (mk === undefined) throw missingKeyError(h.n, chain.evictedBelow)
    const plaintext = decryptBody(mk, ciphertext, bodyAd)
    const previous = [...s.previous]
    previous[index] = { ...chain, skipped: withRemoved(chain.skipped, h.n) }
    const next = this.#derive({ ...s, previous, skippedTotal: s.skippedTotal - 1 }, [])
    return { session: next, plaintext, messageKeyId: messageKeyId(h) }
  }

  /**
   * Builds the successor state: `fresh` names the fields of `state` that are new (owned by the successor);
   * every other secret is copied, so that wiping one session never touches another.
   */
  #derive(state: RatchetState, fresh: Array<'cks' | 'ckr'>): RatchetSession {
    const next: RatchetState = {
      dhs: { privateKey: copy(state.dhs.privateKey), publicKey: state.dhs.publicKey },
      dhr: state.dhr,
      rk: copy(state.rk),
      cks: fresh.includes('cks') ? state.cks : copyOrNull(state.cks),
      hks: copyOrNull(state.hks),
      ckr: fresh.includes('ckr') ? state.ckr : copyOrNull(state.ckr),
      hkr: copyOrNull(state.hkr),
      nhks: copy(state.nhks),
      nhkr: copy(state.nhkr),
      ns: state.ns,
      nr: state.nr,
      pn: state.pn,
      skipped: state.skipped,
      evictedBelow: state.evictedBelow,
      previous: state.previous,
      skippedTotal: state.skippedTotal,
      ad: state.ad
    }
    return new RatchetSession(next.skippedTotal > MAX_SKIPPED_TOTAL ? evictOverflow(next) : next, this.#random, this.#headerAd)
  }

  /**
   * Zeroes the secrets of this session and makes it unusable. Root, chain and header keys and the ratchet
   * private key are this object's own copies and are always zeroed. Skipped message keys and the header
   * keys of closed chains are shared with the sessions derived from this one: pass the session that
   * replaces this one as `successor` to zero only those it no longer holds; without `successor`, all are
   * zeroed, so call it so only when no session derived from this one is still in use.
   */
  wipe(successor?: RatchetSession): void {
    if (this.#wiped) return
    const s = this.#s
    for (const k of [s.dhs.privateKey, s.rk, s.cks, s.hks, s.ckr, s.hkr, s.nhks, s.nhkr]) {
      if (k !== null) wipeBytes(k)
    }
    const kept = new Set<Uint8Array>()
    if (successor !== undefined) {
      const t = successor.#s
      for (const mk of t.skipped.values()) kept.add(mk)
      for (const c of t.previous) {
        kept.add(c.headerKey)
        for (const mk of c.skipped.values()) kept.add(mk)
      }
    }
    const zero = (k: Uint8Array): void => {
      if (!kept.has(k)) wipeBytes(k)
    }
    for (const mk of s.skipped.values()) zero(mk)
    for (const c of s.previous) {
      zero(c.headerKey)
      for (const mk of c.skipped.values()) zero(mk)
    }
    this.#wiped = true
  }

  #live(): void {
    if (this.#wiped) throw new InvalidStateError('this ratchet session was wiped')
  }

  /** Redacted: a session never prints its secrets. */
  toString(): string {
    return '[RatchetSession]'
  }

  /** Redacted: a session never serialises its secrets to JSON (use serialize()). */
  toJSON(): string {
    return '[RatchetSession]'
  }

  /** Redacted output for Node's util.inspect / console.log. */
  [INSPECT](): string {
    return '[RatchetSession]'
  }
}

function messageKeyId(h: HeaderFields): string {
  return `${toHex(h.dh)}:${h.n}`
}

function checkSecrets(secrets: SessionSecrets): void {
  if (secrets === null || typeof secrets !== 'object') throw new InvalidArgumentError('secrets must be an object')
  checkBytes('secrets.rootKey', secrets.rootKey, KEY_BYTES)
  checkBytes('secrets.headerKeyA', secrets.headerKeyA, KEY_BYTES)
  checkBytes('secrets.nextHeaderKeyB', secrets.nextHeaderKeyB, KEY_BYTES)
  checkBytes('secrets.associatedData', secrets.associatedData)
  if (secrets.associatedData.length > MAX_ASSOCIATED_DATA_BYTES) {
    throw new InvalidArgumentError(`secrets.associatedData must be at most ${MAX_ASSOCIATED_DATA_BYTES} bytes`)
  }
}
