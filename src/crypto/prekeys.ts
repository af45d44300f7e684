/**
 * Prekeys and prekey bundles (docs/PROTOCOL.md §3), after Signal's X3DH/PQXDH: a signed X25519 prekey, an
 * ML-KEM-768 signed prekey, and one-time X25519 prekeys, published together in a bundle that the identity
 * key signs. `LocalPrekeys` keeps the private halves; `PrekeyBundle` is the public, canonically encoded object.
 */
import {
  InvalidArgumentError,
  MalformedError,
  SignatureError,
  UnknownPrekeyError,
  UnsupportedVersionError
} from './errors.js'
import { IDENTITY_PUBLIC_BYTES, type IdentityKeyPair, IdentityPublicKey } from './identity.js'
import {
  checkBytes,
  concatBytes,
  ED25519_PUBLIC_BYTES,
  ed25519Verify,
  equalBytes,
  MLKEM768_PUBLIC_BYTES,
  MLKEM768_SEED_BYTES,
  mlkem768CheckPublic,
  mlkem768FromSeed,
  randomBytes,
  SIGNATURE_BYTES,
  utf8,
  wipe,
  X25519_BYTES,
  x25519CheckPublic,
  x25519Public
} from './primitives.js'
import type { RandomSource, X25519KeyPair } from './types.js'

/** Version byte of the bundle encoding (§3). */
export const BUNDLE_VERSION = 1
/** Version byte of the private `LocalPrekeys` encoding. */
export const LOCAL_PREKEYS_VERSION = 1
/** At most this many one-time prekeys travel in one bundle. */
export const MAX_BUNDLE_ONE_TIME_PREKEYS = 16
/** At most this many one-time private keys are kept locally. */
export const MAX_LOCAL_ONE_TIME_PREKEYS = 10_000
/** Signed (and ML-KEM) prekeys older than the current one that are kept for late initial messages. */
export const MAX_PREVIOUS_SIGNED_PREKEYS = 3
/** Flag bit in the bundle: an ML-KEM-768 prekey follows. */
export const BUNDLE_FLAG_PQ = 0x01

/** Prefix of the message signed over a signed X25519 prekey (§3). */
export const SIGNED_PREKEY_LABEL = 'sotto/v1/prekey/signed'
/** Prefix of the message signed over an ML-KEM-768 prekey (§3). */
export const PQ_PREKEY_LABEL = 'sotto/v1/prekey/pq'
/** Prefix of the message signed over a whole bundle (§3). */
export const BUNDLE_LABEL = 'sotto/v1/prekey/bundle'

const SIGNED_PREKEY_BYTES = 4 + 8 + X25519_BYTES + SIGNATURE_BYTES
const PQ_PREKEY_BYTES = 4 + 8 + MLKEM768_PUBLIC_BYTES + SIGNATURE_BYTES
const ONE_TIME_PREKEY_BYTES = 4 + X25519_BYTES
/** Largest possible bundle encoding (with the ML-KEM prekey and 16 one-time prekeys): 2156 bytes. */
export const MAX_BUNDLE_BYTES =
  1 + IDENTITY_PUBLIC_BYTES + 8 + 8 + SIGNED_PREKEY_BYTES + 1 + PQ_PREKEY_BYTES + 1 +
  MAX_BUNDLE_ONE_TIME_PREKEYS * ONE_TIME_PREKEY_BYTES + SIGNATURE_BYTES

const INSPECT = Symbol.for('nodejs.util.inspect.custom')
const MAX_U32 = 0xffff_ffff

// --- Byte helpers shared with x3dh.ts ------------------------------------------------------------

/** Big-endian u32 (4 bytes); throws InvalidArgumentError outside 0..2^32-1. */
export function u32be(value: number): Uint8Array {
  if (!Number.isInteger(value) || value < 0 || value > MAX_U32) throw new InvalidArgumentError('u32 out of range')
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, value)
  return out
}

/** Big-endian u64 (8 bytes) of a safe integer; throws InvalidArgumentError outside 0..2^53-1. */
export function u64be(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new InvalidArgumentError('u64 must be a safe non-negative integer')
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(value))
  return out
}

/** A cursor over untrusted bytes: every read is bounds-checked and throws MalformedError naming `what`. */
export class ByteReader {
  #bytes: Uint8Array
  #offset = 0
  readonly #what: string

  /** Reads `bytes`; `what` names the object in error messages. */
  constructor(bytes: Uint8Array, what: string) {
    checkBytes(what, bytes)
    this.#bytes = bytes
    this.#what = what
  }

  /** The next `length` bytes (a copy). */
  take(length: number): Uint8Array {
    if (this.#offset + length > this.#bytes.length) throw new MalformedError(`${this.#what} is truncated`)
    // A fresh Uint8Array, never a view: the input may be a Node Buffer, whose slice() shares its pool.
    const out = new Uint8Array(length)
    out.set(this.#bytes.subarray(this.#offset, this.#offset + length))
    this.#offset += length
    return out
  }

  /** The next byte. */
  u8(): number {
    return this.take(1)[0]!
  }

  /** The next big-endian u32. */
  u32(): number {
    return new DataView(this.take(4).buffer).getUint32(0)
  }

  /** The next big-endian u64; values above 2^53-1 are refused as malformed. */
  u64(): number {
    const v = new DataView(this.take(8).buffer).getBigUint64(0)
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError(`${this.#what}: u64 above 2^53-1`)
    return Number(v)
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#offset
  }

  /** Throws MalformedError when bytes are left over. */
  end(): void {
    if (this.#offset !== this.#bytes.length) throw new MalformedError(`${this.#what} has trailing bytes`)
  }
}

/** An X25519 key pair from a random 32-byte private key (`random` injectable for test vectors). */
export function generateX25519KeyPair(random: RandomSource = randomBytes): X25519KeyPair {
  const privateKey = random(X25519_BYTES)
  checkBytes('random output', privateKey, X25519_BYTES)
  return { privateKey: privateKey.slice(), publicKey: x25519Public(privateKey) }
}

// --- Public prekey records -----------------------------------------------------------------------

/** A signed X25519 prekey as published. */
export interface SignedPrekeyPublic {
  /** u32 id, unique among this identity's signed prekeys. */
  readonly id: number
  /** Creation time, milliseconds since the Unix epoch. */
  readonly createdAt: number
  /** X25519 public key (32 bytes). */
  readonly publicKey: Uint8Array
  /** Ed25519 signature by the identity over `"sotto/v1/prekey/signed" || u32be(id) || u64be(createdAt) || publicKey`. */
  readonly signature: Uint8Array
}

/** An ML-KEM-768 signed prekey as published. */
export interface PqPrekeyPublic {
  /** u32 id, unique among this identity's ML-KEM prekeys. */
  readonly id: number
  /** Creation time, milliseconds since the Unix epoch. */
  readonly createdAt: number
  /** ML-KEM-768 encapsulation key (1184 bytes). */
  readonly publicKey: Uint8Array
  /** Ed25519 signature by the identity over `"sotto/v1/prekey/pq" || u32be(id) || u64be(createdAt) || publicKey`. */
  readonly signature: Uint8Array
}

/** A one-time X25519 prekey as published (covered by the bundle signature only). */
export interface OneTimePrekeyPublic {
  /** u32 id, unique among this identity's one-time prekeys. */
  readonly id: number
  /** X25519 public key (32 bytes). */
  readonly publicKey: Uint8Array
}

function signedPrekeyMessage(id: number, createdAt: number, publicKey: Uint8Array): Uint8Array {
  return concatBytes(utf8(SIGNED_PREKEY_LABEL), u32be(id), u64be(createdAt), publicKey)
}

function pqPrekeyMessage(id: number, createdAt: number, publicKey: Uint8Array): Uint8Array {
  return concatBytes(utf8(PQ_PREKEY_LABEL), u32be(id), u64be(createdAt), publicKey)
}

/**
 * A prekey bundle (§3): what an initiator needs to open a session with its owner without the owner being
 * online. Every instance has been checked: build one with `PrekeyBundle.decode` or `LocalPrekeys.bundle`.
 */
export class PrekeyBundle {
  /** Encoding version (1). */
  readonly version: number
  /** The owner's identity; it signed everything below. */
  readonly identity: IdentityPublicKey
  /** Publication sequence number (u64 <= 2^53-1): a higher one replaces a lower one. */
  readonly sequence: number
  /** Publication time, milliseconds since the Unix epoch. */
  readonly createdAt: number
  /** The current signed X25519 prekey. */
  readonly signedPrekey: SignedPrekeyPublic
  /** The current ML-KEM-768 prekey, when the owner offers PQXDH. */
  readonly pqPrekey: PqPrekeyPublic | undefined
  /** Up to 16 one-time prekeys, ids strictly increasing. */
  readonly oneTimePrekeys: readonly OneTimePrekeyPublic[]
  /** Ed25519 signature by the identity over `"sotto/v1/prekey/bundle" ||` the encoding before it. */
  readonly signature: Uint8Array

  private constructor(fields: {
    identity: IdentityPublicKey
    sequence: number
    createdAt: number
    signedPrekey: SignedPrekeyPublic
    pqPrekey: PqPrekeyPublic | undefined
    oneTimePrekeys: OneTimePrekeyPublic[]
    signature: Uint8Array
  }) {
    this.version = BUNDLE_VERSION
    this.identity = fields.identity
    this.sequence = fields.sequence
    this.createdAt = fields.createdAt
    this.signedPrekey = fields.signedPrekey
    this.pqPrekey = fields.pqPrekey
    this.oneTimePrekeys = fields.oneTimePrekeys
    this.signature = fields.signature
  }

  /** The bytes the bundle signature covers (the encoding without its last 64 bytes). */
  static #body(b: Omit<PrekeyBundle, 'signature' | 'encode'>): Uint8Array {
    const parts: Uint8Array[] = [
      Uint8Array.of(BUNDLE_VERSION),
      b.identity.serialize(),
      u64be(b.sequence),
      u64be(b.createdAt),
      u32be(b.signedPrekey.id),
      u64be(b.signedPrekey.createdAt),
      b.signedPrekey.publicKey,
      b.signedPrekey.signature,
      Uint8Array.of(b.pqPrekey === undefined ? 0 : BUNDLE_FLAG_PQ)
    ]
    if (b.pqPrekey !== undefined) {
      parts.push(u32be(b.pqPrekey.id), u64be(b.pqPrekey.createdAt), b.pqPrekey.publicKey, b.pqPrekey.signature)
    }
    parts.push(Uint8Array.of(b.oneTimePrekeys.length))
    for (const k of b.oneTimePrekeys) parts.push(u32be(k.id), k.publicKey)
    return concatBytes(...parts)
  }

  /** Signs and builds a bundle (used by LocalPrekeys.bundle); the result is checked like a decoded one. */
  static create(
    identity: IdentityKeyPair,
    fields: {
      sequence: number
      createdAt: number
      signedPrekey: SignedPrekeyPublic
      pqPrekey?: PqPrekeyPublic
      oneTimePrekeys: OneTimePrekeyPublic[]
    }
  ): PrekeyBundle {
    const unsigned = { ...fields, pqPrekey: fields.pqPrekey, version: BUNDLE_VERSION, identity: identity.publicKey }
    const body = PrekeyBundle.#body(unsigned)
    const signature = identity.sign(concatBytes(utf8(BUNDLE_LABEL), body))
    return PrekeyBundle.decode(concatBytes(body, signature))
  }

  /** The canonical encoding (§3), rebuilt from the fields. */
  encode(): Uint8Array {
    return concatBytes(PrekeyBundle.#body(this), this.signature)
  }

  /**
   * Decodes and checks a bundle: version, exact lengths, flags, counts (<= 16 one-time prekeys, ids strictly
   * increasing), every key (no low-order X25519 key, ML-KEM key reduced mod q) and every signature.
   * Throws UnsupportedVersionError, MalformedError, InvalidKeyError or SignatureError.
   */
  static decode(bytes: Uint8Array): PrekeyBundle {
    checkBytes('bundle', bytes)
    if (bytes.length > MAX_BUNDLE_BYTES) throw new MalformedError(`bundle longer than ${MAX_BUNDLE_BYTES} bytes`)
    const r = new ByteReader(bytes, 'bundle')
    const version = r.u8()
    if (version !== BUNDLE_VERSION) throw new UnsupportedVersionError(`bundle version ${version}`)
    const identityBytes = r.take(IDENTITY_PUBLIC_BYTES)
    const sequence = r.u64()
    const createdAt = r.u64()
    const signedPrekey: SignedPrekeyPublic = {
      id: r.u32(),
      createdAt: r.u64(),
      publicKey: r.take(X25519_BYTES),
      signature: r.take(SIGNATURE_BYTES)
    }
    const flags = r.u8()
    if ((flags & ~BUNDLE_FLAG_PQ) !== 0) throw new MalformedError(`bundle has unknown flags ${flags}`)
    let pqPrekey: PqPrekeyPublic | undefined
    if (flags & BUNDLE_FLAG_PQ) {
      pqPrekey = {
        id: r.u32(),
        createdAt: r.u64(),
        publicKey: r.take(MLKEM768_PUBLIC_BYTES),
        signature: r.take(SIGNATURE_BYTES)
      }
    }
    const count = r.u8()
    if (count > MAX_BUNDLE_ONE_TIME_PREKEYS) throw new MalformedError(`bundle has ${count} one-time prekeys (max 16)`)
    const oneTimePrekeys: OneTimePrekeyPublic[] = []
    for (let i = 0; i < count; i++) {
      const id = r.u32()
      if (i > 0 && id <= oneTimePrekeys[i - 1]!.id) throw new MalformedError('one-time prekey ids must increase')
      oneTimePrekeys.push({ id, publicKey: r.take(X25519_BYTES) })
    }
    const bodyLength = r.offset
    const signature = r.take(SIGNATURE_BYTES)
    r.end()

    const identity = IdentityPublicKey.deserialize(identityBytes)
    if (!ed25519Verify(identity.signingKey, concatBytes(utf8(BUNDLE_LABEL), bytes.subarray(0, bodyLength)), signature)) {
      throw new SignatureError('bad signature on the prekey bundle')
    }
    x25519CheckPublic(signedPrekey.publicKey, 'signed prekey')
    if (!identity.verify(signedPrekeyMessage(signedPrekey.id, signedPrekey.createdAt, signedPrekey.publicKey), signedPrekey.signature)) {
      throw new SignatureError('bad signature on the signed prekey')
    }
    if (pqPrekey !== undefined) {
      mlkem768CheckPublic(pqPrekey.publicKey, 'ML-KEM prekey')
      if (!identity.verify(pqPrekeyMessage(pqPrekey.id, pqPrekey.createdAt, pqPrekey.publicKey), pqPrekey.signature)) {
        throw new SignatureError('bad signature on the ML-KEM prekey')
      }
    }
    for (const k of oneTimePrekeys) x25519CheckPublic(k.publicKey, `one-time prekey ${k.id}`)
    return new PrekeyBundle({ identity, sequence, createdAt, signedPrekey, pqPrekey, oneTimePrekeys, signature })
  }

  /** Short human form. */
  toString(): string {
    return `PrekeyBundle(${this.identity.fingerprint()} seq ${this.sequence})`
  }
}

/**
 * True when `a` should replace `b` (a DHT selector): higher sequence, then later createdAt, then the
 * lexicographically greater encoding, so that every node picks the same record. Both must be of one identity.
 */
export function isNewer(a: PrekeyBundle, b: PrekeyBundle): boolean {
  if (!equalBytes(a.identity.signingKey, b.identity.signingKey)) {
    throw new InvalidArgumentError('isNewer compares bundles of one identity only')
  }
  if (a.sequence !== b.sequence) return a.sequence > b.sequence
  if (a.createdAt !== b.createdAt) return a.createdAt > b.createdAt
  const ea = a.encode()
  const eb = b.encode()
  for (let i = 0; i < Math.min(ea.length, eb.length); i++) if (ea[i] !== eb[i]) return ea[i]! > eb[i]!
  return ea.length > eb.length
}

// --- Private halves ------------------------------------------------------------------------------

interface LocalSignedPrekey {
  id: number
  createdAt: number
  keyPair: X25519KeyPair
  signature: Uint8Array
}

interface LocalPqPrekey {
  id: number
  createdAt: number
  seed: Uint8Array
  publicKey: Uint8Array
  secretKey: Uint8Array
  signature: Uint8Array
}

/** Options for creating or rotating prekeys. */
export interface PrekeyOptions {
  /** Source of the private keys (default: libsodium's CSPRNG). */
  random?: RandomSource
  /** Creation time in ms since the Unix epoch (default: Date.now()). */
  now?: number
}

function copyPair(kp: X25519KeyPair): X25519KeyPair {
  return { publicKey: kp.publicKey.slice(), privateKey: kp.privateKey.slice() }
}

/**
 * The private halves of a user's prekeys, to be kept (encrypted) in the store. Mutating methods change this
 * object in place; the caller persists it with `serialize()` afterwards. Secrets are never printed.
 */
export class LocalPrekeys {
  readonly #owner: Uint8Array
  #signed: LocalSignedPrekey[] = []
  #pq: LocalPqPrekey[] = []
  #oneTime = new Map<number, X25519KeyPair>()
  #nextSignedId = 1
  #nextPqId = 1
  #nextOneTimeId = 1
  #sequence = 0

  private constructor(owner: Uint8Array) {
    this.#owner = owner.slice()
  }

  /**
   * New prekeys for `identity`: a signed X25519 prekey, an ML-KEM-768 prekey unless `pq` is false, and
   * `oneTimeCount` (default 32) one-time prekeys. Random bytes are drawn in that order (§16 vectors rely on it).
   */
  static generate(identity: IdentityKeyPair, opts: PrekeyOptions & { oneTimeCount?: number; pq?: boolean } = {}): LocalPrekeys {
    const local = new LocalPrekeys(identity.publicKey.signingKey)
    local.#addSigned(identity, opts)
    if (opts.pq !== false) local.#addPq(identity, opts)
    local.addOneTimePrekeys(opts.oneTimeCount ?? 32, opts.random)
    return local
  }

  #checkOwner(identity: IdentityKeyPair): void {
    if (!equalBytes(identity.publicKey.signingKey, this.#owner)) {
      throw new InvalidArgumentError('these prekeys belong to another identity')
    }
  }

  #addSigned(identity: IdentityKeyPair, opts: PrekeyOptions): void {
    const createdAt = opts.now ?? Date.now()
    const id = this.#nextSignedId
    if (id > MAX_U32) throw new InvalidArgumentError('signed prekey ids exhausted')
    const keyPair = generateX25519KeyPair(opts.random)
    const signature = identity.sign(signedPrekeyMessage(id, createdAt, keyPair.publicKey))
    this.#signed.push({ id, createdAt, keyPair, signature })
    this.#nextSignedId++
    for (const old of this.#signed.splice(0, Math.max(0, this.#signed.length - 1 - MAX_PREVIOUS_SIGNED_PREKEYS))) {
      wipe(old.keyPair.privateKey)
    }
  }

  #addPq(identity: IdentityKeyPair, opts: PrekeyOptions): void {
    const createdAt = opts.now ?? Date.now()
    const id = this.#nextPqId
    if (id > MAX_U32) throw new InvalidArgumentError('ML-KEM prekey ids exhausted')
    const seed = (opts.random ?? randomBytes)(MLKEM768_SEED_BYTES)
    checkBytes('random output', seed, MLKEM768_SEED_BYTES)
    const kp = mlkem768FromSeed(seed)
    const signature = identity.sign(pqPrekeyMessage(id, createdAt, kp.publicKey))
    this.#pq.push({ id, createdAt, seed: seed.slice(), publicKey: kp.publicKey, secretKey: kp.secretKey, signature })
    this.#nextPqId++
    for (const old of this.#pq.splice(0, Math.max(0, this.#pq.length - 1 - MAX_PREVIOUS_SIGNED_PREKEYS))) {
      wipe(old.seed)
      wipe(old.secretKey)
    }
  }

  /**
   * Replaces the current signed prekey (and the ML-KEM prekey, when this identity has one) with new ones.
   * The previous 3 of each stay usable so that initial messages already in flight still open; older ones
   * are wiped. Publish a new bundle afterwards.
   */
  rotate(identity: IdentityKeyPair, opts: PrekeyOptions = {}): void {
    this.#checkOwner(identity)
    this.#addSigned(identity, opts)
    if (this.#pq.length > 0) this.#addPq(identity, opts)
  }

  /** Adds `count` new one-time prekeys with the next ids. */
  addOneTimePrekeys(count: number, random: RandomSource = randomBytes): void {
    if (!Number.isInteger(count) || count < 0) throw new InvalidArgumentError('count must be a non-negative integer')
    if (this.#oneTime.size + count > MAX_LOCAL_ONE_TIME_PREKEYS) {
      throw new InvalidArgumentError(`at most ${MAX_LOCAL_ONE_TIME_PREKEYS} one-time prekeys are kept`)
    }
    for (let i = 0; i < count; i++) {
      if (this.#nextOneTimeId > MAX_U32) throw new InvalidArgumentError('one-time prekey ids exhausted')
      this.#oneTime.set(this.#nextOneTimeId++, generateX25519KeyPair(random))
    }
  }

  /** The Ed25519 signing key of the identity these prekeys belong to (a copy). */
  get owner(): Uint8Array {
    return this.#owner.slice()
  }

  /** How many one-time prekeys are left (replenish with addOneTimePrekeys when low). */
  get oneTimeCount(): number {
    return this.#oneTime.size
  }

  /** When the current signed prekey was made (ms), to decide when to rotate it. */
  get signedPrekeyCreatedAt(): number {
    return this.#signed[this.#signed.length - 1]!.createdAt
  }

  /** True when this object holds an ML-KEM prekey. */
  get hasPq(): boolean {
    return this.#pq.length > 0
  }

  /** The signed prekey pair with `id` (a copy); throws UnknownPrekeyError when it is not held (any more). */
  signedPrekey(id: number): X25519KeyPair {
    const k = this.#signed.find((s) => s.id === id)
    if (k === undefined) throw new UnknownPrekeyError(`unknown signed prekey ${id}`)
    return copyPair(k.keyPair)
  }

  /** The ML-KEM-768 decapsulation key with `id` (a copy); throws UnknownPrekeyError when not held. */
  pqSecretKey(id: number): Uint8Array {
    const k = this.#pq.find((s) => s.id === id)
    if (k === undefined) throw new UnknownPrekeyError(`unknown ML-KEM prekey ${id}`)
    return k.secretKey.slice()
  }

  /** The one-time prekey pair with `id` (a copy), without removing it; throws UnknownPrekeyError. */
  oneTimePrekey(id: number): X25519KeyPair {
    const k = this.#oneTime.get(id)
    if (k === undefined) throw new UnknownPrekeyError(`unknown or consumed one-time prekey ${id}`)
    return copyPair(k)
  }

  /**
   * Removes (and wipes) one-time prekey `id`: call it once the session that used it is stored (§3), then
   * persist this object and publish a new bundle. Throws UnknownPrekeyError when it is not held.
   */
  consume(id: number): void {
    const k = this.#oneTime.get(id)
    if (k === undefined) throw new UnknownPrekeyError(`unknown or consumed one-time prekey ${id}`)
    wipe(k.privateKey)
    this.#oneTime.delete(id)
  }

  /**
   * A signed bundle of the current prekeys and the first (lowest-id) `maxOneTime` (<= 16) one-time prekeys.
   * Its sequence is max(previous sequence + 1, now), so it replaces every earlier bundle; persist this object
   * afterwards so the sequence survives restarts.
   */
  bundle(identity: IdentityKeyPair, opts: { now?: number; maxOneTime?: number } = {}): PrekeyBundle {
    this.#checkOwner(identity)
    const now = opts.now ?? Date.now()
    const maxOneTime = opts.maxOneTime ?? MAX_BUNDLE_ONE_TIME_PREKEYS
    if (!Number.isInteger(maxOneTime) || maxOneTime < 0 || maxOneTime > MAX_BUNDLE_ONE_TIME_PREKEYS) {
      throw new InvalidArgumentError('maxOneTime must be 0..16')
    }
    const sequence = Math.max(this.#sequence + 1, now)
    const spk = this.#signed[this.#signed.length - 1]!
    const pq = this.#pq[this.#pq.length - 1]
    const ids = [...this.#oneTime.keys()].sort((x, y) => x - y).slice(0, maxOneTime)
    const bundle = PrekeyBundle.create(identity, {
      sequence,
      createdAt: now,
      signedPrekey: { id: spk.id, createdAt: spk.createdAt, publicKey: spk.keyPair.publicKey, signature: spk.signature },
      ...(pq === undefined
        ? {}
        : { pqPrekey: { id: pq.id, createdAt: pq.createdAt, publicKey: pq.publicKey, signature: pq.signature } }),
      oneTimePrekeys: ids.map((id) => ({ id, publicKey: this.#oneTime.get(id)!.publicKey }))
    })
    this.#sequence = sequence
    return bundle
  }

  /**
   * The private encoding (secret; store it encrypted): `u8(1) || owner[32] || u64be(sequence) ||
   * u32be(nextSignedId) || u32be(nextPqId) || u32be(nextOneTimeId) || u8(nSigned) || nSigned × (u32be(id) ||
   * u64be(createdAt) || private[32] || signature[64]) || u8(nPq) || nPq × (u32be(id) || u64be(createdAt) ||
   * seed[64] || signature[64]) || u32be(nOneTime) || nOneTime × (u32be(id) || private[32])`.
   */
  serialize(): Uint8Array {
    const parts: Uint8Array[] = [
      Uint8Array.of(LOCAL_PREKEYS_VERSION),
      this.#owner,
      u64be(this.#sequence),
      u32be(this.#nextSignedId),
      u32be(this.#nextPqId),
      u32be(this.#nextOneTimeId),
      Uint8Array.of(this.#signed.length)
    ]
    for (const s of this.#signed) parts.push(u32be(s.id), u64be(s.createdAt), s.keyPair.privateKey, s.signature)
    parts.push(Uint8Array.of(this.#pq.length))
    for (const p of this.#pq) parts.push(u32be(p.id), u64be(p.createdAt), p.seed, p.signature)
    parts.push(u32be(this.#oneTime.size))
    for (const [id, kp] of this.#oneTime) parts.push(u32be(id), kp.privateKey)
    return concatBytes(...parts)
  }

  /** Decodes `serialize()`'s output; throws UnsupportedVersionError or MalformedError. */
  static deserialize(bytes: Uint8Array): LocalPrekeys {
    const r = new ByteReader(bytes, 'local prekeys')
    const version = r.u8()
    if (version !== LOCAL_PREKEYS_VERSION) throw new UnsupportedVersionError(`local prekeys version ${version}`)
    const local = new LocalPrekeys(r.take(ED25519_PUBLIC_BYTES))
    local.#sequence = r.u64()
    local.#nextSignedId = r.u32()
    local.#nextPqId = r.u32()
    local.#nextOneTimeId = r.u32()
    const nSigned = r.u8()
    if (nSigned < 1 || nSigned > MAX_PREVIOUS_SIGNED_PREKEYS + 1) throw new MalformedError('local prekeys: bad signed count')
    for (let i = 0; i < nSigned; i++) {
      const id = r.u32()
      const createdAt = r.u64()
      const privateKey = r.take(X25519_BYTES)
      local.#signed.push({ id, createdAt, keyPair: { privateKey, publicKey: x25519Public(privateKey) }, signature: r.take(SIGNATURE_BYTES) })
    }
    const nPq = r.u8()
    if (nPq > MAX_PREVIOUS_SIGNED_PREKEYS + 1) throw new MalformedError('local prekeys: bad ML-KEM count')
    for (let i = 0; i < nPq; i++) {
      const id = r.u32()
      const createdAt = r.u64()
      const seed = r.take(MLKEM768_SEED_BYTES)
      const kp = mlkem768FromSeed(seed)
      local.#pq.push({ id, createdAt, seed, publicKey: kp.publicKey, secretKey: kp.secretKey, signature: r.take(SIGNATURE_BYTES) })
    }
    const nOneTime = r.u32()
    if (nOneTime > MAX_LOCAL_ONE_TIME_PREKEYS) throw new MalformedError('local prekeys: too many one-time prekeys')
    for (let i = 0; i < nOneTime; i++) {
      const id = r.u32()
      const privateKey = r.take(X25519_BYTES)
      if (local.#oneTime.has(id)) throw new MalformedError('local prekeys: duplicate one-time prekey id')
      local.#oneTime.set(id, { privateKey, publicKey: x25519Public(privateKey) })
    }
    r.end()
    return local
  }

  /** Zeroes every private key held. */
  wipe(): void {
    for (const s of this.#signed) wipe(s.keyPair.privateKey)
    for (const p of this.#pq) {
      wipe(p.seed)
      wipe(p.secretKey)
    }
    for (const k of this.#oneTime.values()) wipe(k.privateKey)
    this.#oneTime.clear()
  }

  /** Never shows secrets. */
  toString(): string {
    return `LocalPrekeys(${this.#signed.length} signed, ${this.#pq.length} ML-KEM, ${this.#oneTime.size} one-time)`
  }

  /** Never shows secrets. */
  toJSON(): { type: 'LocalPrekeys'; oneTime: number } {
    return { type: 'LocalPrekeys', oneTime: this.#oneTime.size }
  }

  [INSPECT](): string {
    return this.toString()
  }
}
