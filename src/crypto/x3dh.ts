/**
 * Asynchronous session set-up (docs/PROTOCOL.md §4): Signal's X3DH, and PQXDH (X3DH plus an ML-KEM-768
 * encapsulation) when the responder's bundle has an ML-KEM prekey. Produces the SessionSecrets that the
 * Double Ratchet with header encryption (§5) starts from, and the InitialHeader that travels with the
 * initiator's first message.
 */
import { InvalidArgumentError, MalformedError, UnknownPrekeyError, UnsupportedVersionError, UntrustedIdentityError } from './errors.js'
import { IDENTITY_PUBLIC_BYTES, type IdentityKeyPair, IdentityPublicKey } from './identity.js'
import { ByteReader, generateX25519KeyPair, type LocalPrekeys, PrekeyBundle, u32be } from './prekeys.js'
import {
  checkBytes,
  concatBytes,
  equalBytes,
  hkdf,
  KEY_BYTES,
  MLKEM768_CIPHERTEXT_BYTES,
  mlkem768Decapsulate,
  mlkem768Encapsulate,
  randomBytes,
  utf8,
  wipe,
  X25519_BYTES,
  x25519,
  x25519CheckPublic
} from './primitives.js'
import type { RandomSource, SessionSecrets, X25519KeyPair } from './types.js'

/** Version byte of the initial header (§4). */
export const INITIAL_HEADER_VERSION = 1
/** Initial-header flag: a one-time prekey id follows. */
export const HEADER_FLAG_ONE_TIME = 0x01
/** Initial-header flag: an ML-KEM prekey id and ciphertext follow. */
export const HEADER_FLAG_PQ = 0x02
/** HKDF info of X3DH set-up (§4). */
export const X3DH_INFO = 'sotto/v1/x3dh X25519 SHA-256'
/** HKDF info of PQXDH set-up (§4). */
export const PQXDH_INFO = 'sotto/v1/pqxdh X25519 SHA-256 ML-KEM-768'
/** HKDF salt of set-up: 32 zero bytes (§4). */
export const SETUP_SALT = new Uint8Array(32)
/** The 32 0xFF bytes that start the KDF input, as in Signal's X3DH for X25519 (§4). */
export const SETUP_PREFIX = new Uint8Array(32).fill(0xff)
/** Largest initial header: version, flags, identity, ephemeral key, three ids, KEM ciphertext (1263 bytes). */
export const MAX_INITIAL_HEADER_BYTES = 2 + IDENTITY_PUBLIC_BYTES + X25519_BYTES + 12 + MLKEM768_CIPHERTEXT_BYTES

/**
 * The set-up part of the initiator's first message (§4): who the initiator is, its ephemeral key, and which
 * of the responder's prekeys it used. Instances are checked (identity signature, no low-order key).
 */
export class InitialHeader {
  /** Encoding version (1). */
  readonly version: number
  /** The initiator's identity. */
  readonly initiator: IdentityPublicKey
  /** The initiator's ephemeral X25519 public key EK_A (32 bytes). */
  readonly ephemeralKey: Uint8Array
  /** Id of the responder's signed prekey used. */
  readonly signedPrekeyId: number
  /** Id of the responder's one-time prekey used, if any. */
  readonly oneTimePrekeyId: number | undefined
  /** Id of the responder's ML-KEM prekey used (PQXDH only). */
  readonly pqPrekeyId: number | undefined
  /** ML-KEM-768 ciphertext (1088 bytes, PQXDH only). */
  readonly kemCiphertext: Uint8Array | undefined

  private constructor(f: {
    initiator: IdentityPublicKey
    ephemeralKey: Uint8Array
    signedPrekeyId: number
    oneTimePrekeyId: number | undefined
    pqPrekeyId: number | undefined
    kemCiphertext: Uint8Array | undefined
  }) {
    this.version = INITIAL_HEADER_VERSION
    this.initiator = f.initiator
    this.ephemeralKey = f.ephemeralKey
    this.signedPrekeyId = f.signedPrekeyId
    this.oneTimePrekeyId = f.oneTimePrekeyId
    this.pqPrekeyId = f.pqPrekeyId
    this.kemCiphertext = f.kemCiphertext
  }

  /**
   * `u8(1) || u8(flags) || initiator identity[129] || ephemeralKey[32] || u32be(signedPrekeyId)
   * [|| u32be(oneTimePrekeyId)] [|| u32be(pqPrekeyId) || kemCiphertext[1088]]`; flags bit 0 = one-time, bit 1 = PQ.
   */
  encode(): Uint8Array {
    let flags = 0
    const tail: Uint8Array[] = []
    if (this.oneTimePrekeyId !== undefined) {
      flags |= HEADER_FLAG_ONE_TIME
      tail.push(u32be(this.oneTimePrekeyId))
    }
    if (this.pqPrekeyId !== undefined && this.kemCiphertext !== undefined) {
      flags |= HEADER_FLAG_PQ
      tail.push(u32be(this.pqPrekeyId), this.kemCiphertext)
    }
    return concatBytes(
      Uint8Array.of(INITIAL_HEADER_VERSION, flags),
      this.initiator.serialize(),
      this.ephemeralKey,
      u32be(this.signedPrekeyId),
      ...tail
    )
  }

  /**
   * Strict decoder: version, known flags, exact length, a valid initiator identity, an ephemeral key not of
   * low order. Throws UnsupportedVersionError, MalformedError, SignatureError or InvalidKeyError.
   */
  static decode(bytes: Uint8Array): InitialHeader {
    checkBytes('initial header', bytes)
    if (bytes.length > MAX_INITIAL_HEADER_BYTES) throw new MalformedError('initial header too long')
    const r = new ByteReader(bytes, 'initial header')
    const version = r.u8()
    if (version !== INITIAL_HEADER_VERSION) throw new UnsupportedVersionError(`initial header version ${version}`)
    const flags = r.u8()
    if ((flags & ~(HEADER_FLAG_ONE_TIME | HEADER_FLAG_PQ)) !== 0) throw new MalformedError(`initial header flags ${flags}`)
    const identityBytes = r.take(IDENTITY_PUBLIC_BYTES)
    const ephemeralKey = r.take(X25519_BYTES)
    const signedPrekeyId = r.u32()
    const oneTimePrekeyId = flags & HEADER_FLAG_ONE_TIME ? r.u32() : undefined
    let pqPrekeyId: number | undefined
    let kemCiphertext: Uint8Array | undefined
    if (flags & HEADER_FLAG_PQ) {
      pqPrekeyId = r.u32()
      kemCiphertext = r.take(MLKEM768_CIPHERTEXT_BYTES)
    }
    r.end()
    const initiator = IdentityPublicKey.deserialize(identityBytes)
    x25519CheckPublic(ephemeralKey, 'ephemeral key')
    return new InitialHeader({ initiator, ephemeralKey, signedPrekeyId, oneTimePrekeyId, pqPrekeyId, kemCiphertext })
  }

  /** Builds a header from its fields and checks it by a decode round trip. */
  static create(f: {
    initiator: IdentityPublicKey
    ephemeralKey: Uint8Array
    signedPrekeyId: number
    oneTimePrekeyId?: number
    pqPrekeyId?: number
    kemCiphertext?: Uint8Array
  }): InitialHeader {
    if ((f.pqPrekeyId === undefined) !== (f.kemCiphertext === undefined)) {
      throw new InvalidArgumentError('pqPrekeyId and kemCiphertext go together')
    }
    const h = new InitialHeader({
      initiator: f.initiator,
      ephemeralKey: f.ephemeralKey,
      signedPrekeyId: f.signedPrekeyId,
      oneTimePrekeyId: f.oneTimePrekeyId,
      pqPrekeyId: f.pqPrekeyId,
      kemCiphertext: f.kemCiphertext
    })
    return InitialHeader.decode(h.encode())
  }
}

/**
 * The set-up KDF (§4): `HKDF(ikm = 0xFF*32 || DH1 || DH2 || DH3 [|| DH4] [|| SS], salt = 0*32, info, 96)`,
 * split into rootKey || headerKeyA || nextHeaderKeyB. `info` is X3DH_INFO, or PQXDH_INFO when `kemSecret` is given.
 */
export function deriveSetupKeys(
  dhs: readonly Uint8Array[],
  kemSecret: Uint8Array | undefined
): { rootKey: Uint8Array; headerKeyA: Uint8Array; nextHeaderKeyB: Uint8Array } {
  if (dhs.length !== 3 && dhs.length !== 4) throw new InvalidArgumentError('set-up needs 3 or 4 DH outputs')
  for (const dh of dhs) checkBytes('DH output', dh, X25519_BYTES)
  if (kemSecret !== undefined) checkBytes('kemSecret', kemSecret, KEY_BYTES)
  const ikm = concatBytes(SETUP_PREFIX, ...dhs, ...(kemSecret === undefined ? [] : [kemSecret]))
  const okm = hkdf(ikm, SETUP_SALT, utf8(kemSecret === undefined ? X3DH_INFO : PQXDH_INFO), 3 * KEY_BYTES)
  wipe(ikm)
  const keys = { rootKey: okm.slice(0, 32), headerKeyA: okm.slice(32, 64), nextHeaderKeyB: okm.slice(64, 96) }
  wipe(okm)
  return keys
}

/** Options of initiateSession. */
export interface InitiateOptions {
  /** Source of the ephemeral key, the KEM randomness and the one-time prekey pick (default: CSPRNG). */
  random?: RandomSource
  /** Use this one-time prekey from the bundle (default: one picked at random, if the bundle has any). */
  oneTimePrekeyId?: number
  /** PQXDH on or off (default: on exactly when the bundle has an ML-KEM prekey). */
  usePq?: boolean
  /** The identity the caller expects to own the bundle; a different one throws UntrustedIdentityError. */
  expectedIdentity?: IdentityPublicKey
}

/** What the initiator gets from set-up. */
export interface InitiatedSession {
  /** Root key, header keys and associated data for the ratchet. */
  secrets: SessionSecrets
  /** To send (encoded) in front of the first message. */
  initialHeader: InitialHeader
  /** The responder's first ratchet public key: its signed prekey (32 bytes). */
  theirRatchetKey: Uint8Array
}

/** What the responder gets from set-up. */
export interface RespondedSession {
  /** Root key, header keys and associated data for the ratchet. */
  secrets: SessionSecrets
  /** Our first ratchet key pair: a copy of the signed prekey pair named in the header. */
  ourRatchetKeyPair: X25519KeyPair
  /** One-time prekey used: consume it from LocalPrekeys once the first message decrypted and is stored (§3). */
  consumedOneTimePrekeyId?: number
}

/**
 * Initiator (Alice) side of X3DH/PQXDH against `theirBundle` (§4). The bundle is re-checked in full.
 * Random bytes are drawn in this order: ephemeral private key (32), KEM randomness (32, PQXDH only),
 * one-time prekey pick (4, only when the bundle has some and `oneTimePrekeyId` is not given).
 * Throws UntrustedIdentityError, UnknownPrekeyError (no such one-time prekey in the bundle),
 * InvalidArgumentError (PQ asked for but not offered; own bundle), and the bundle's decoding errors.
 */
export function initiateSession(
  ourIdentity: IdentityKeyPair,
  theirBundle: PrekeyBundle | Uint8Array,
  opts: InitiateOptions = {}
): InitiatedSession {
  const bundle = PrekeyBundle.decode(theirBundle instanceof Uint8Array ? theirBundle : theirBundle.encode())
  const them = bundle.identity
  if (opts.expectedIdentity !== undefined && !opts.expectedIdentity.equals(them)) {
    throw new UntrustedIdentityError('the bundle is signed by a different identity than expected')
  }
  if (equalBytes(them.signingKey, ourIdentity.publicKey.signingKey)) {
    throw new InvalidArgumentError('cannot open a session with our own bundle')
  }
  const usePq = opts.usePq ?? bundle.pqPrekey !== undefined
  if (usePq && bundle.pqPrekey === undefined) throw new InvalidArgumentError('the bundle offers no ML-KEM prekey')
  const random = opts.random ?? randomBytes

  const ephemeral = generateX25519KeyPair(random)
  let kem: { ciphertext: Uint8Array; sharedSecret: Uint8Array } | undefined
  if (usePq) {
    const m = random(32)
    checkBytes('random output', m, 32)
    kem = mlkem768Encapsulate(bundle.pqPrekey!.publicKey, m)
    wipe(m)
  }
  let oneTime = undefined as { id: number; publicKey: Uint8Array } | undefined
  if (opts.oneTimePrekeyId !== undefined) {
    oneTime = bundle.oneTimePrekeys.find((k) => k.id === opts.oneTimePrekeyId)
    if (oneTime === undefined) throw new UnknownPrekeyError(`the bundle has no one-time prekey ${opts.oneTimePrekeyId}`)
  } else if (bundle.oneTimePrekeys.length > 0) {
    const pick = random(4)
    checkBytes('random output', pick, 4)
    const n = new DataView(pick.buffer, pick.byteOffset, 4).getUint32(0)
    oneTime = bundle.oneTimePrekeys[n % bundle.oneTimePrekeys.length]
  }

  const spk = bundle.signedPrekey.publicKey
  const dhs = [
    ourIdentity.agree(spk), // DH1 = DH(IK_A, SPK_B)
    x25519(ephemeral.privateKey, them.dhKey), // DH2 = DH(EK_A, IK_B)
    x25519(ephemeral.privateKey, spk) // DH3 = DH(EK_A, SPK_B)
  ]
  if (oneTime !== undefined) dhs.push(x25519(ephemeral.privateKey, oneTime.publicKey)) // DH4 = DH(EK_A, OPK_B)
  const keys = deriveSetupKeys(dhs, kem?.sharedSecret)
  for (const dh of dhs) wipe(dh)
  wipe(kem?.sharedSecret)
  wipe(ephemeral.privateKey)

  const initialHeader = InitialHeader.create({
    initiator: ourIdentity.publicKey,
    ephemeralKey: ephemeral.publicKey,
    signedPrekeyId: bundle.signedPrekey.id,
    ...(oneTime === undefined ? {} : { oneTimePrekeyId: oneTime.id }),
    ...(kem === undefined ? {} : { pqPrekeyId: bundle.pqPrekey!.id, kemCiphertext: kem.ciphertext })
  })
  return {
    secrets: { ...keys, associatedData: concatBytes(ourIdentity.publicKey.signingKey, them.signingKey) },
    initialHeader,
    theirRatchetKey: spk.slice()
  }
}

/**
 * Responder (Bob) side (§4): recomputes the initiator's secrets from our prekeys. Does not change
 * `localPrekeys`: the caller consumes the one-time prekey only after the first message decrypted and was
 * stored. Throws UnknownPrekeyError for prekey ids we do not hold (e.g. an already consumed one-time prekey),
 * InvalidKeyError for low-order keys, and the header's decoding errors.
 */
export function respondSession(
  ourIdentity: IdentityKeyPair,
  localPrekeys: LocalPrekeys,
  initialHeader: InitialHeader | Uint8Array
): RespondedSession {
  const header = InitialHeader.decode(initialHeader instanceof Uint8Array ? initialHeader : initialHeader.encode())
  const them = header.initiator
  if (equalBytes(them.signingKey, ourIdentity.publicKey.signingKey)) {
    throw new InvalidArgumentError('initial header from our own identity')
  }
  if (!equalBytes(localPrekeys.owner, ourIdentity.publicKey.signingKey)) {
    throw new InvalidArgumentError('these prekeys belong to another identity')
  }
  const spk = localPrekeys.signedPrekey(header.signedPrekeyId)
  const oneTime = header.oneTimePrekeyId === undefined ? undefined : localPrekeys.oneTimePrekey(header.oneTimePrekeyId)
  let kemSecret: Uint8Array | undefined
  if (header.pqPrekeyId !== undefined) {
    const dk = localPrekeys.pqSecretKey(header.pqPrekeyId)
    kemSecret = mlkem768Decapsulate(dk, header.kemCiphertext!)
    wipe(dk)
  }
  const ek = header.ephemeralKey
  const dhs = [
    x25519(spk.privateKey, them.dhKey), // DH1 = DH(SPK_B, IK_A)
    ourIdentity.agree(ek), // DH2 = DH(IK_B, EK_A)
    x25519(spk.privateKey, ek) // DH3 = DH(SPK_B, EK_A)
  ]
  if (oneTime !== undefined) dhs.push(x25519(oneTime.privateKey, ek)) // DH4 = DH(OPK_B, EK_A)
  const keys = deriveSetupKeys(dhs, kemSecret)
  for (const dh of dhs) wipe(dh)
  wipe(kemSecret)
  if (oneTime !== undefined) wipe(oneTime.privateKey)

  const result: RespondedSession = {
    secrets: { ...keys, associatedData: concatBytes(them.signingKey, ourIdentity.publicKey.signingKey) },
    ourRatchetKeyPair: spk
  }
  if (header.oneTimePrekeyId !== undefined) result.consumedOneTimePrekeyId = header.oneTimePrekeyId
  return result
}
