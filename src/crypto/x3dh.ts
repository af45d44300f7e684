/**
 * Asynchronous session set-up (docs/PROTOCOL.md §4): Signal's X3DH, and PQXDH (X3DH plus an ML-KEM-768
 * encapsulation) when the responder's bundle has an ML-KEM prekey. Produces the SessionSecrets that the
 * Double Ratchet with header encryption (§5) starts from, and the InitialHeader that travels with the
 * initiator's first message: sealed (XChaCha20-Poly1305 under a key from DH(EK_A, SPK_B), in the manner of
 * sealed sender) so that only the responder learns who the initiator is. Vectors: test/vectors/x3dh.json,
 * pqxdh.json.
 */
import { InvalidArgumentError, MalformedError, UnknownPrekeyError, UnsupportedVersionError, UntrustedIdentityError } from './errors.js'
import { IDENTITY_PUBLIC_BYTES, type IdentityKeyPair, IdentityPublicKey } from './identity.js'
import { ByteReader, generateX25519KeyPair, type LocalPrekeys, PrekeyBundle, u32be } from './prekeys.js'
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  aeadDecrypt,
  aeadEncrypt,
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
  x25519CheckPublic,
  x25519Public
} from './primitives.js'
import type { RandomSource, SessionSecrets, X25519KeyPair } from './types.js'

/** Version byte of the initial header (§4). Version 1 (initiator identity in clear) was never deployed; it is refused. */
export const INITIAL_HEADER_VERSION = 2
/** Initial-header flag (sealed part): a one-time prekey id follows. */
export const HEADER_FLAG_ONE_TIME = 0x01
/** Initial-header flag (sealed part): an ML-KEM prekey id and ciphertext follow. */
export const HEADER_FLAG_PQ = 0x02
/** HKDF info of X3DH set-up (§4). */
export const X3DH_INFO = 'sotto/v1/x3dh X25519 SHA-256'
/** HKDF info of PQXDH set-up (§4). */
export const PQXDH_INFO = 'sotto/v1/pqxdh X25519 SHA-256 ML-KEM-768'
/** HKDF info of the initial header's seal key and nonce (§4, "Initial header"). */
export const HEADER_SEAL_INFO = 'sotto/v1/x3dh initial header XChaCha20-Poly1305'
/** HKDF salt of set-up and of the header seal: 32 zero bytes (§4). */
export const SETUP_SALT = new Uint8Array(32)
/** The 32 0xFF bytes that start the KDF input, as in Signal's X3DH for X25519 (§4). */
export const SETUP_PREFIX = new Uint8Array(32).fill(0xff)
/** Clear part of the initial header: version, ephemeral key, signed prekey id (37 bytes). */
export const INITIAL_HEADER_CLEAR_BYTES = 1 + X25519_BYTES + 4
/** Smallest initial header: clear part, flags, initiator identity, AEAD tag (183 bytes). */
export const MIN_INITIAL_HEADER_BYTES = INITIAL_HEADER_CLEAR_BYTES + 1 + IDENTITY_PUBLIC_BYTES + AEAD_TAG_BYTES
/** Largest initial header: the smallest plus two ids and the KEM ciphertext (1279 bytes). */
export const MAX_INITIAL_HEADER_BYTES = MIN_INITIAL_HEADER_BYTES + 8 + MLKEM768_CIPHERTEXT_BYTES

/** The fields of an initial header (everything but its encoding). */
interface HeaderFields {
  initiator: IdentityPublicKey
  ephemeralKey: Uint8Array
  signedPrekeyId: number
  oneTimePrekeyId: number | undefined
  pqPrekeyId: number | undefined
  kemCiphertext: Uint8Array | undefined
}

/**
 * The header seal (§4): `HKDF(ikm = DH(ek_a, SPK_B) || EK_A || SPK_B, salt = 0*32, HEADER_SEAL_INFO, 56)`,
 * split into the XChaCha20-Poly1305 key (32) and nonce (24). The key is used once: EK_A is fresh per set-up.
 */
export function deriveHeaderSealKey(
  dh: Uint8Array,
  ephemeralKey: Uint8Array,
  signedPrekey: Uint8Array
): { key: Uint8Array; nonce: Uint8Array } {
  checkBytes('DH output', dh, X25519_BYTES)
  checkBytes('ephemeralKey', ephemeralKey, X25519_BYTES)
  checkBytes('signedPrekey', signedPrekey, X25519_BYTES)
  const ikm = concatBytes(dh, ephemeralKey, signedPrekey)
  const okm = hkdf(ikm, SETUP_SALT, utf8(HEADER_SEAL_INFO), KEY_BYTES + AEAD_NONCE_BYTES)
  wipe(ikm)
  const out = { key: okm.slice(0, KEY_BYTES), nonce: okm.slice(KEY_BYTES) }
  wipe(okm)
  return out
}

/** What InitialHeader.create takes. */
interface SealFields {
  initiator: IdentityPublicKey
  ephemeralPrivateKey: Uint8Array
  signedPrekey: { id: number; publicKey: Uint8Array }
  oneTimePrekeyId?: number
  pqPrekeyId?: number
  kemCiphertext?: Uint8Array
}

/** Module-internal: InitialHeader.create with EK_A and DH3 already computed (set by the class). */
let sealWithDh3: (f: SealFields, ephemeralKey: Uint8Array, dh3: Uint8Array) => InitialHeader
/** Module-internal: InitialHeader.open that also returns DH3 (set by the class; the caller wipes DH3). */
let openWithDh3: (
  ourIdentity: IdentityKeyPair,
  localPrekeys: LocalPrekeys,
  bytes: Uint8Array
) => { header: InitialHeader; dh3: Uint8Array }

/**
 * The set-up part of the initiator's first message (§4): who the initiator is, its ephemeral key, and which
 * of the responder's prekeys it used. Only the version, EK_A and the signed prekey id travel in clear; the
 * rest (initiator identity, one-time and ML-KEM prekey ids, KEM ciphertext) is sealed under a key that only
 * the initiator and the holder of SPK_B can derive, so an observer of the inbox topic does not learn who
 * writes. Instances are always checked: made by `create` (initiator) or `open` (responder).
 */
export class InitialHeader {
  /** Encoding version (2). */
  readonly version: number
  /** The initiator's identity (sealed on the wire). */
  readonly initiator: IdentityPublicKey
  /** The initiator's ephemeral X25519 public key EK_A (32 bytes, in clear). */
  readonly ephemeralKey: Uint8Array
  /** Id of the responder's signed prekey used (in clear). */
  readonly signedPrekeyId: number
  /** Id of the responder's one-time prekey used, if any (sealed). */
  readonly oneTimePrekeyId: number | undefined
  /** Id of the responder's ML-KEM prekey used (PQXDH only, sealed). */
  readonly pqPrekeyId: number | undefined
  /** ML-KEM-768 ciphertext (1088 bytes, PQXDH only, sealed). */
  readonly kemCiphertext: Uint8Array | undefined
  readonly #encoded: Uint8Array

  private constructor(f: HeaderFields, encoded: Uint8Array) {
    this.version = INITIAL_HEADER_VERSION
    this.initiator = f.initiator
    this.ephemeralKey = f.ephemeralKey
    this.signedPrekeyId = f.signedPrekeyId
    this.oneTimePrekeyId = f.oneTimePrekeyId
    this.pqPrekeyId = f.pqPrekeyId
    this.kemCiphertext = f.kemCiphertext
    this.#encoded = encoded
  }

  /**
   * The wire bytes (§4): `clear || AEAD-Enc(sealKey, sealNonce, inner, ad = clear)`, where
   * `clear = u8(2) || EK_A[32] || u32be(signedPrekeyId)` and
   * `inner = u8(flags) || initiator[129] [|| u32be(oneTimePrekeyId)] [|| u32be(pqPrekeyId) || kemCiphertext[1088]]`.
   * Fixed when the header was sealed, or the bytes it was opened from.
   */
  encode(): Uint8Array {
    return this.#encoded.slice()
  }

  /**
   * Builds and seals a header (the initiator's side). `ephemeralPrivateKey` is ek_a; `signedPrekey` is the
   * responder's SPK_B (id and public key, as in its bundle). Throws InvalidArgumentError (lengths, ids,
   * pqPrekeyId without kemCiphertext) and InvalidKeyError (SPK_B of low order).
   */
  static create(f: {
    initiator: IdentityPublicKey
    ephemeralPrivateKey: Uint8Array
    signedPrekey: { id: number; publicKey: Uint8Array }
    oneTimePrekeyId?: number
    pqPrekeyId?: number
    kemCiphertext?: Uint8Array
  }): InitialHeader {
    checkBytes('ephemeralPrivateKey', f.ephemeralPrivateKey, X25519_BYTES)
    return InitialHeader.#seal(f, x25519Public(f.ephemeralPrivateKey), undefined)
  }

  /**
   * create's work. initiateSession passes EK_A and DH3 = DH(ek_a, SPK_B), which it has computed already for
   * the set-up KDF, so that neither is computed twice; it keeps and wipes its DH3. Without `dh3Given` it is
   * computed (and wiped) here.
   */
  static #seal(f: SealFields, ephemeralKey: Uint8Array, dh3Given: Uint8Array | undefined): InitialHeader {
    if (!(f.initiator instanceof IdentityPublicKey)) throw new InvalidArgumentError('initiator must be an IdentityPublicKey')
    if ((f.pqPrekeyId === undefined) !== (f.kemCiphertext === undefined)) {
      throw new InvalidArgumentError('pqPrekeyId and kemCiphertext go together')
    }
    if (f.kemCiphertext !== undefined) checkBytes('kemCiphertext', f.kemCiphertext, MLKEM768_CIPHERTEXT_BYTES)
    checkBytes('ephemeralPrivateKey', f.ephemeralPrivateKey, X25519_BYTES)
    const spk = f.signedPrekey.publicKey
    x25519CheckPublic(spk, 'signed prekey')
    let flags = 0
    const tail: Uint8Array[] = []
    if (f.oneTimePrekeyId !== undefined) {
      flags |= HEADER_FLAG_ONE_TIME
      tail.push(u32be(f.oneTimePrekeyId))
    }
    if (f.pqPrekeyId !== undefined && f.kemCiphertext !== undefined) {
      flags |= HEADER_FLAG_PQ
      tail.push(u32be(f.pqPrekeyId), f.kemCiphertext)
    }
    const clear = concatBytes(Uint8Array.of(INITIAL_HEADER_VERSION), ephemeralKey, u32be(f.signedPrekey.id))
    const inner = concatBytes(Uint8Array.of(flags), f.initiator.serialize(), ...tail)
    const dh3 = dh3Given ?? x25519(f.ephemeralPrivateKey, spk)
    const { key, nonce } = deriveHeaderSealKey(dh3, ephemeralKey, spk)
    if (dh3Given === undefined) wipe(dh3)
    const sealed = aeadEncrypt(key, nonce, inner, clear)
    wipe(key)
    const fields: HeaderFields = {
      initiator: f.initiator,
      ephemeralKey,
      signedPrekeyId: f.signedPrekey.id,
      oneTimePrekeyId: f.oneTimePrekeyId,
      pqPrekeyId: f.pqPrekeyId,
      kemCiphertext: f.kemCiphertext?.slice()
    }
    return new InitialHeader(fields, concatBytes(clear, sealed))
  }

  /**
   * Opens a header (the responder's side; also exported as `openInitialHeader`). Checks, in this order:
   * version (UnsupportedVersionError, also for the retired version 1), length 183..1279 (MalformedError),
   * EK_A not of low order (InvalidKeyError), prekeys of `ourIdentity` (InvalidArgumentError), SPK held
   * (UnknownPrekeyError), the seal (DecryptionError), then the sealed part: known flags and exact length
   * (MalformedError) and a valid initiator identity (§2's errors). The one-time and ML-KEM prekeys it names
   * are not looked up here (respondSession does), so an opened header still names a consumed one-time prekey.
   */
  static open(ourIdentity: IdentityKeyPair, localPrekeys: LocalPrekeys, bytes: Uint8Array): InitialHeader {
    const { header, dh3 } = InitialHeader.#open(ourIdentity, localPrekeys, bytes)
    wipe(dh3)
    return header
  }

  /** open's work; also returns DH3 = DH(SPK_B, EK_A), which respondSession reuses (the caller wipes it). */
  static #open(ourIdentity: IdentityKeyPair, localPrekeys: LocalPrekeys, bytes: Uint8Array): { header: InitialHeader; dh3: Uint8Array } {
    checkBytes('initial header', bytes)
    if (bytes.length === 0) throw new MalformedError('initial header is empty')
    if (bytes[0] !== INITIAL_HEADER_VERSION) throw new UnsupportedVersionError(`initial header version ${bytes[0]}`)
    if (bytes.length < MIN_INITIAL_HEADER_BYTES) throw new MalformedError('initial header too short')
    if (bytes.length > MAX_INITIAL_HEADER_BYTES) throw new MalformedError('initial header too long')
    const r = new ByteReader(bytes, 'initial header')
    const clear = r.take(INITIAL_HEADER_CLEAR_BYTES)
    const cr = new ByteReader(clear, 'initial header')
    cr.u8()
    const ephemeralKey = cr.take(X25519_BYTES)
    const signedPrekeyId = cr.u32()
    x25519CheckPublic(ephemeralKey, 'ephemeral key')
    if (!equalBytes(localPrekeys.owner, ourIdentity.publicKey.signingKey)) {
      throw new InvalidArgumentError('these prekeys belong to another identity')
    }
    const spk = localPrekeys.signedPrekey(signedPrekeyId)
    const dh3 = x25519(spk.privateKey, ephemeralKey)
    wipe(spk.privateKey)
    const { key, nonce } = deriveHeaderSealKey(dh3, ephemeralKey, spk.publicKey)
    let inner: Uint8Array
    try {
      inner = aeadDecrypt(key, nonce, r.take(bytes.length - INITIAL_HEADER_CLEAR_BYTES), clear)
    } catch (err) {
      wipe(dh3)
      throw err
    } finally {
      wipe(key)
    }
    try {
      return { header: InitialHeader.#decodeInner(inner, ephemeralKey, signedPrekeyId, bytes), dh3 }
    } catch (err) {
      wipe(dh3)
      throw err
    }
  }

  /** The sealed part of an opened header, checked, with the clear fields: the InitialHeader. */
  static #decodeInner(inner: Uint8Array, ephemeralKey: Uint8Array, signedPrekeyId: number, bytes: Uint8Array): InitialHeader {
    const ir = new ByteReader(inner, 'initial header (sealed part)')
    const flags = ir.u8()
    if ((flags & ~(HEADER_FLAG_ONE_TIME | HEADER_FLAG_PQ)) !== 0) throw new MalformedError(`initial header flags ${flags}`)
    const identityBytes = ir.take(IDENTITY_PUBLIC_BYTES)
    const oneTimePrekeyId = flags & HEADER_FLAG_ONE_TIME ? ir.u32() : undefined
    let pqPrekeyId: number | undefined
    let kemCiphertext: Uint8Array | undefined
    if (flags & HEADER_FLAG_PQ) {
      pqPrekeyId = ir.u32()
      kemCiphertext = ir.take(MLKEM768_CIPHERTEXT_BYTES)
    }
    ir.end()
    const initiator = IdentityPublicKey.deserialize(identityBytes)
    const encoded = new Uint8Array(bytes.length)
    encoded.set(bytes)
    return new InitialHeader({ initiator, ephemeralKey, signedPrekeyId, oneTimePrekeyId, pqPrekeyId, kemCiphertext }, encoded)
  }

  static {
    sealWithDh3 = (f, ephemeralKey, dh3) => InitialHeader.#seal(f, ephemeralKey, dh3)
    openWithDh3 = (ourIdentity, localPrekeys, bytes) => InitialHeader.#open(ourIdentity, localPrekeys, bytes)
  }
}

/**
 * Opens the initial header of a first message with our signed prekey (§4): returns it with the initiator's
 * identity, or throws UnsupportedVersionError, MalformedError, InvalidKeyError, InvalidArgumentError,
 * UnknownPrekeyError, DecryptionError, or the identity's decoding errors. See InitialHeader.open.
 */
export function openInitialHeader(ourIdentity: IdentityKeyPair, localPrekeys: LocalPrekeys, bytes: Uint8Array): InitialHeader {
  return InitialHeader.open(ourIdentity, localPrekeys, bytes)
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
 * Initiator (Alice) side of X3DH/PQXDH against `theirBundle` (§4). Bundle bytes are decoded and checked in
 * full; a PrekeyBundle instance was checked when it was made and is used as it is.
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
  // A PrekeyBundle instance has been checked in full when it was made (decode or LocalPrekeys.bundle: its
  // constructor is private); only bytes are decoded and checked here, so no signature is verified twice.
  const bundle = theirBundle instanceof PrekeyBundle ? theirBundle : PrekeyBundle.decode(theirBundle)
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
  wipe(kem?.sharedSecret)

  let initialHeader: InitialHeader
  try {
    // The header seal reuses EK_A and DH3 (dhs[2]) instead of computing them again.
    initialHeader = sealWithDh3(
      {
        initiator: ourIdentity.publicKey,
        ephemeralPrivateKey: ephemeral.privateKey,
        signedPrekey: { id: bundle.signedPrekey.id, publicKey: spk },
        ...(oneTime === undefined ? {} : { oneTimePrekeyId: oneTime.id }),
        ...(kem === undefined ? {} : { pqPrekeyId: bundle.pqPrekey!.id, kemCiphertext: kem.ciphertext })
      },
      ephemeral.publicKey,
      dhs[2]!
    )
  } finally {
    for (const dh of dhs) wipe(dh)
  }
  wipe(ephemeral.privateKey)
  return {
    secrets: { ...keys, associatedData: concatBytes(ourIdentity.publicKey.signingKey, them.signingKey) },
    initialHeader,
    theirRatchetKey: spk.slice()
  }
}

/**
 * Responder (Bob) side (§4): recomputes the initiator's secrets from our prekeys. `initialHeader` is the
 * wire bytes (opened here with openInitialHeader) or a header already opened. Does not change
 * `localPrekeys`: the caller consumes the one-time prekey only after the first message decrypted and was
 * stored. Throws UnknownPrekeyError for prekey ids we do not hold (e.g. an already consumed one-time prekey),
 * InvalidArgumentError (prekeys of another identity, a header from ourselves), InvalidKeyError for low-order
 * keys, and openInitialHeader's errors.
 */
export function respondSession(
  ourIdentity: IdentityKeyPair,
  localPrekeys: LocalPrekeys,
  initialHeader: InitialHeader | Uint8Array
): RespondedSession {
  if (!equalBytes(localPrekeys.owner, ourIdentity.publicKey.signingKey)) {
    throw new InvalidArgumentError('these prekeys belong to another identity')
  }
  // Opening the bytes computes DH3 = DH(SPK_B, EK_A) for the seal; it is kept for the set-up KDF below.
  const opened = initialHeader instanceof InitialHeader ? undefined : openWithDh3(ourIdentity, localPrekeys, initialHeader)
  const header = opened === undefined ? (initialHeader as InitialHeader) : opened.header
  try {
    return respondOpened(ourIdentity, localPrekeys, header, opened?.dh3)
  } finally {
    wipe(opened?.dh3)
  }
}

/** respondSession after the header is open; `dh3` is DH3 when the opening computed it (not wiped here). */
function respondOpened(
  ourIdentity: IdentityKeyPair,
  localPrekeys: LocalPrekeys,
  header: InitialHeader,
  dh3: Uint8Array | undefined
): RespondedSession {
  const them = header.initiator
  if (equalBytes(them.signingKey, ourIdentity.publicKey.signingKey)) {
    throw new InvalidArgumentError('initial header from our own identity')
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
    dh3?.slice() ?? x25519(spk.privateKey, ek) // DH3 = DH(SPK_B, EK_A)
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
