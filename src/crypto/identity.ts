/**
 * Identity keys (docs/PROTOCOL.md §2): an Ed25519 signing key that names the user, and an X25519
 * key-agreement key whose public half is signed by it. Both are derived from one 32-byte seed with
 * HKDF-SHA-256 (RFC 5869), so the seed is the only secret that is stored.
 */
import { InvalidArgumentError, InvalidKeyError, MalformedError, SignatureError, UnsupportedVersionError } from './errors.js'
import {
  checkBytes,
  concatBytes,
  ED25519_PUBLIC_BYTES,
  ed25519FromSeed,
  ed25519Sign,
  ed25519Verify,
  equalBytes,
  hkdf,
  randomBytes,
  SIGNATURE_BYTES,
  sha256,
  toHex,
  utf8,
  wipe,
  X25519_BYTES,
  x25519,
  x25519CheckPublic,
  x25519Public
} from './primitives.js'
import type { RandomSource } from './types.js'

/** Length of an identity seed. */
export const IDENTITY_SEED_BYTES = 32
/** Version byte of both identity encodings (§2). */
export const IDENTITY_VERSION = 1
/** Length of `IdentityPublicKey.serialize()`: version, signing key, DH key, signature. */
export const IDENTITY_PUBLIC_BYTES = 1 + ED25519_PUBLIC_BYTES + X25519_BYTES + SIGNATURE_BYTES
/** Length of `IdentityKeyPair.serialize()`: version, seed. */
export const IDENTITY_SECRET_BYTES = 1 + IDENTITY_SEED_BYTES

/** HKDF info for the Ed25519 seed (§2). */
export const IDENTITY_ED25519_INFO = 'sotto/v1/identity/ed25519'
/** HKDF info for the X25519 private key (§2). */
export const IDENTITY_X25519_INFO = 'sotto/v1/identity/x25519'
/** Prefix of the message signed to bind the X25519 key to the Ed25519 key (§2). */
export const IDENTITY_DH_KEY_LABEL = 'sotto/v1/identity/dh-key'

const INSPECT = Symbol.for('nodejs.util.inspect.custom')

/** The message the Ed25519 key signs to certify the X25519 key: label || dhKey. */
function dhKeyMessage(dhKey: Uint8Array): Uint8Array {
  return concatBytes(utf8(IDENTITY_DH_KEY_LABEL), dhKey)
}

/**
 * Identity encodings whose DH-key signature has verified, so that decoding the same identity again (every
 * bundle and initial header of a contact, every decode of a stored contact) costs no second Ed25519
 * verification. Public data only; an entry is the exact 128 bytes signingKey || dhKey || signature (as a
 * string), and verification is a deterministic function of them, so a hit gives the answer a verification
 * would. Bounded: the oldest entry goes first.
 */
const VERIFIED_IDENTITIES = new Set<string>()
/** Most identities remembered as verified. */
const VERIFIED_IDENTITIES_MAX = 4096

function verifiedCacheKey(signingKey: Uint8Array, dhKey: Uint8Array, signature: Uint8Array): string {
  return (
    String.fromCharCode.apply(null, signingKey as unknown as number[]) +
    String.fromCharCode.apply(null, dhKey as unknown as number[]) +
    String.fromCharCode.apply(null, signature as unknown as number[])
  )
}

function rememberVerified(key: string): void {
  if (VERIFIED_IDENTITIES.size >= VERIFIED_IDENTITIES_MAX) {
    const oldest = VERIFIED_IDENTITIES.values().next().value
    if (oldest !== undefined) VERIFIED_IDENTITIES.delete(oldest)
  }
  VERIFIED_IDENTITIES.add(key)
}

/**
 * The public half of an identity: Ed25519 signing key, X25519 key-agreement key and the signature that
 * binds them. Every instance has been checked (signature valid, DH key not of low order).
 */
export class IdentityPublicKey {
  /** Ed25519 public key (32 bytes): the user's name in sotto; contacts are keyed by it. */
  readonly signingKey: Uint8Array
  /** X25519 public key (32 bytes) used in session set-up. */
  readonly dhKey: Uint8Array
  /** Ed25519 signature (64 bytes) by `signingKey` over `"sotto/v1/identity/dh-key" || dhKey`. */
  readonly dhKeySignature: Uint8Array

  private constructor(signingKey: Uint8Array, dhKey: Uint8Array, dhKeySignature: Uint8Array) {
    this.signingKey = signingKey
    this.dhKey = dhKey
    this.dhKeySignature = dhKeySignature
  }

  /**
   * Builds a public key from its three parts after checking them: throws SignatureError when the signature
   * does not verify, InvalidKeyError when the DH key is of low order, InvalidArgumentError on wrong lengths.
   */
  static fromParts(signingKey: Uint8Array, dhKey: Uint8Array, dhKeySignature: Uint8Array): IdentityPublicKey {
    checkBytes('signingKey', signingKey, ED25519_PUBLIC_BYTES)
    checkBytes('dhKey', dhKey, X25519_BYTES)
    checkBytes('dhKeySignature', dhKeySignature, SIGNATURE_BYTES)
    x25519CheckPublic(dhKey, 'identity DH key')
    const cacheKey = verifiedCacheKey(signingKey, dhKey, dhKeySignature)
    if (!VERIFIED_IDENTITIES.has(cacheKey)) {
      if (!ed25519Verify(signingKey, dhKeyMessage(dhKey), dhKeySignature)) {
        throw new SignatureError('bad signature on the identity DH key')
      }
      rememberVerified(cacheKey)
    }
    return new IdentityPublicKey(signingKey.slice(), dhKey.slice(), dhKeySignature.slice())
  }

  /** Decodes `u8(1) || signingKey[32] || dhKey[32] || dhKeySignature[64]` and checks it as `fromParts` does. */
  static deserialize(bytes: Uint8Array): IdentityPublicKey {
    checkBytes('bytes', bytes)
    if (bytes.length < 1) throw new MalformedError('identity public key is empty')
    if (bytes[0] !== IDENTITY_VERSION) throw new UnsupportedVersionError(`identity public key version ${bytes[0]}`)
    if (bytes.length !== IDENTITY_PUBLIC_BYTES) {
      throw new MalformedError(`identity public key must be ${IDENTITY_PUBLIC_BYTES} bytes, got ${bytes.length}`)
    }
    return IdentityPublicKey.fromParts(bytes.subarray(1, 33), bytes.subarray(33, 65), bytes.subarray(65, 129))
  }

  /** The fixed 129-byte encoding (§2). */
  serialize(): Uint8Array {
    return concatBytes(Uint8Array.of(IDENTITY_VERSION), this.signingKey, this.dhKey, this.dhKeySignature)
  }

  /** Lowercase hex of the Ed25519 signing key (64 characters): the key under which contacts are stored. */
  get id(): string {
    return toHex(this.signingKey)
  }

  /** Verifies an Ed25519 signature by this identity over `message`. */
  verify(message: Uint8Array, signature: Uint8Array): boolean {
    return ed25519Verify(this.signingKey, message, signature)
  }

  /**
   * A short fingerprint for display and logs: the first 8 bytes of SHA-256(signingKey) as 16 lowercase hex
   * characters. Not a security check (use the safety number, §7).
   */
  fingerprint(): string {
    return toHex(sha256(this.signingKey).subarray(0, 8))
  }

  /** True when both are the same identity (same signing key, DH key and signature). */
  equals(other: IdentityPublicKey): boolean {
    return (
      equalBytes(this.signingKey, other.signingKey) &&
      equalBytes(this.dhKey, other.dhKey) &&
      equalBytes(this.dhKeySignature, other.dhKeySignature)
    )
  }

  /** Short human form. */
  toString(): string {
    return `IdentityPublicKey(${this.fingerprint()})`
  }
}

/**
 * A user's identity key pair. Secrets live in private fields and are never printed; `wipe()` zeroes them.
 */
export class IdentityKeyPair {
  /** The public half, safe to publish. */
  readonly publicKey: IdentityPublicKey
  #seed: Uint8Array
  #signingSecret: Uint8Array
  #dhPrivate: Uint8Array
  #wiped = false

  private constructor(seed: Uint8Array) {
    this.#seed = seed.slice()
    const edSeed = hkdf(seed, new Uint8Array(0), utf8(IDENTITY_ED25519_INFO), 32)
    const ed = ed25519FromSeed(edSeed)
    wipe(edSeed)
    this.#signingSecret = ed.secretKey
    this.#dhPrivate = hkdf(seed, new Uint8Array(0), utf8(IDENTITY_X25519_INFO), 32)
    const dhKey = x25519Public(this.#dhPrivate)
    const signature = ed25519Sign(this.#signingSecret, dhKeyMessage(dhKey))
    this.publicKey = IdentityPublicKey.fromParts(ed.publicKey, dhKey, signature)
  }

  /** A new identity from a random 32-byte seed (`random` is injectable for tests). */
  static generate(random: RandomSource = randomBytes): IdentityKeyPair {
    const seed = random(IDENTITY_SEED_BYTES)
    checkBytes('random output', seed, IDENTITY_SEED_BYTES)
    const pair = new IdentityKeyPair(seed)
    wipe(seed)
    return pair
  }

  /** The identity derived from a 32-byte seed (§2); the same seed always gives the same keys. */
  static fromSeed(seed: Uint8Array): IdentityKeyPair {
    checkBytes('seed', seed, IDENTITY_SEED_BYTES)
    return new IdentityKeyPair(seed)
  }

  /** Decodes `u8(1) || seed[32]` (the store's form); throws UnsupportedVersionError or MalformedError. */
  static deserialize(bytes: Uint8Array): IdentityKeyPair {
    checkBytes('bytes', bytes)
    if (bytes.length < 1) throw new MalformedError('identity key pair is empty')
    if (bytes[0] !== IDENTITY_VERSION) throw new UnsupportedVersionError(`identity key pair version ${bytes[0]}`)
    if (bytes.length !== IDENTITY_SECRET_BYTES) {
      throw new MalformedError(`identity key pair must be ${IDENTITY_SECRET_BYTES} bytes, got ${bytes.length}`)
    }
    return new IdentityKeyPair(bytes.subarray(1))
  }

  /** `u8(1) || seed[32]`: secret; store it only encrypted. */
  serialize(): Uint8Array {
    this.#checkLive()
    return concatBytes(Uint8Array.of(IDENTITY_VERSION), this.#seed)
  }

  /** Ed25519 signature over `message` (callers prefix their own domain-separation label). */
  sign(message: Uint8Array): Uint8Array {
    this.#checkLive()
    return ed25519Sign(this.#signingSecret, message)
  }

  /**
   * X25519 of our identity DH private key with `theirPublic`; throws InvalidKeyError when the result
   * would be all-zero (low-order key).
   */
  agree(theirPublic: Uint8Array): Uint8Array {
    this.#checkLive()
    return x25519(this.#dhPrivate, theirPublic)
  }

  /** Zeroes the secret bytes; every later secret operation throws InvalidKeyError. */
  wipe(): void {
    wipe(this.#seed)
    wipe(this.#signingSecret)
    wipe(this.#dhPrivate)
    this.#wiped = true
  }

  #checkLive(): void {
    if (this.#wiped) throw new InvalidKeyError('identity key pair was wiped')
  }

  /** Never shows secrets. */
  toString(): string {
    return `IdentityKeyPair(${this.publicKey.fingerprint()})`
  }

  /** Never shows secrets: only the public id. */
  toJSON(): { type: 'IdentityKeyPair'; id: string } {
    return { type: 'IdentityKeyPair', id: this.publicKey.id }
  }

  [INSPECT](): string {
    return this.toString()
  }
}

/** Throws InvalidArgumentError unless `value` is an IdentityPublicKey (guards API boundaries). */
export function checkIdentityPublicKey(name: string, value: unknown): asserts value is IdentityPublicKey {
  if (!(value instanceof IdentityPublicKey)) throw new InvalidArgumentError(`${name} must be an IdentityPublicKey`)
}
