/**
 * At-rest encryption (docs/PROTOCOL.md §10): the database key wrapped under a passphrase with Argon2id and
 * XChaCha20-Poly1305, sealed records bound to their record key, and blinded (keyed-hash) record keys.
 * Vectors: test/vectors/atrest.json.
 */
import { inspect } from 'node:util'
import { InvalidArgumentError, MalformedError, UnsupportedVersionError, WrongPassphraseError } from './errors.js'
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  type Argon2idParams,
  aeadDecrypt,
  aeadEncrypt,
  argon2id,
  blake2b,
  checkBytes,
  concatBytes,
  hkdf,
  KEY_BYTES,
  randomBytes,
  utf8,
  wipe
} from './primitives.js'

export type { Argon2idParams } from './primitives.js'

/** Version byte of the wrapped-key format (§10.1). */
export const WRAPPED_KEY_VERSION = 1
/** Argon2id salt length (libsodium crypto_pwhash_SALTBYTES). */
export const ARGON2_SALT_BYTES = 16
/** Length of the wrapped-key header: version (1) || opsLimit (4) || memLimit (4) || salt (16) || nonce (24). */
export const WRAPPED_KEY_HEADER_BYTES = 1 + 4 + 4 + ARGON2_SALT_BYTES + AEAD_NONCE_BYTES
/** Total length of a wrapped key: header || AEAD ciphertext of the 32-byte key (32 + 16). */
export const WRAPPED_KEY_BYTES = WRAPPED_KEY_HEADER_BYTES + KEY_BYTES + AEAD_TAG_BYTES
/** Version byte of a sealed record (§10.2). */
export const SEALED_RECORD_VERSION = 1
/** Bytes a sealed record adds to its plaintext: version (1) || nonce (24) || tag (16). */
export const SEALED_RECORD_OVERHEAD = 1 + AEAD_NONCE_BYTES + AEAD_TAG_BYTES
/** Length of a blinded key (§10.3). */
export const BLINDED_KEY_BYTES = 32

/** HKDF info strings of the two subkeys of the database key (§10.2, §10.3). */
export const SEAL_KEY_INFO = 'sotto/at-rest/seal/v1'
export const BLIND_KEY_INFO = 'sotto/at-rest/blind/v1'
/** Label prefixed to the record key in a sealed record's associated data (§10.2). */
export const RECORD_AD_LABEL = 'sotto/at-rest/record/v1'

/**
 * Default Argon2id limits: opsLimit 3, memLimit 128 MiB, between libsodium's INTERACTIVE (2, 64 MiB) and
 * MODERATE (3, 256 MiB); about 0.8 s on one core of the project's machine with libsodium's WebAssembly build.
 */
export const DEFAULT_ARGON2: Readonly<Argon2idParams> = Object.freeze({ opsLimit: 3, memLimit: 128 * 1024 * 1024 })

/** TEST ONLY: the smallest limits Argon2id accepts (opsLimit 1, memLimit 8 KiB). Never use for real data. */
export const TEST_ARGON2: Readonly<Argon2idParams> = Object.freeze({ opsLimit: 1, memLimit: 8192 })

/** Upper bounds accepted when unwrapping, so a corrupted header cannot make us allocate without limit. */
const MAX_OPS_LIMIT = 64
const MAX_MEM_LIMIT = 0xffffffff

/**
 * Random nonces for sealed records from the platform CSPRNG (Web Crypto getRandomValues, one call per nonce).
 * libsodium's WebAssembly randombytes_buf asks the host for 4 bytes per call, which made nonces the main
 * cost of a store write; both are the same OS CSPRNG underneath.
 */
function recordNonce(): Uint8Array {
  return globalThis.crypto.getRandomValues(new Uint8Array(AEAD_NONCE_BYTES))
}

const sealInfo = utf8(SEAL_KEY_INFO)
const blindInfo = utf8(BLIND_KEY_INFO)
const recordLabel = utf8(RECORD_AD_LABEL)
const partEncoder = new TextEncoder()

/**
 * The 32-byte database key and its two subkeys (§10): an opaque holder whose bytes are never printed.
 * The seal subkey encrypts records; the blind subkey keys the BLAKE2b hashes of metadata-revealing record keys.
 */
export class DatabaseKey {
  #key: Uint8Array
  #sealKey: Uint8Array
  #blindKey: Uint8Array

  private constructor(key: Uint8Array) {
    this.#key = Uint8Array.from(key)
    this.#sealKey = hkdf(this.#key, new Uint8Array(0), sealInfo, KEY_BYTES)
    this.#blindKey = hkdf(this.#key, new Uint8Array(0), blindInfo, KEY_BYTES)
  }

  /** A fresh random database key. */
  static generate(): DatabaseKey {
    const bytes = randomBytes(KEY_BYTES)
    const key = new DatabaseKey(bytes)
    wipe(bytes)
    return key
  }

  /** A database key from its 32 bytes (copied). */
  static fromBytes(bytes: Uint8Array): DatabaseKey {
    checkBytes('dbKey', bytes, KEY_BYTES)
    return new DatabaseKey(bytes)
  }

  /** A copy of the raw key bytes; only for wrapping and test vectors. */
  exportBytes(): Uint8Array {
    return Uint8Array.from(this.#key)
  }

  /** @internal the XChaCha20-Poly1305 key for sealed records. */
  sealKeyBytes(): Uint8Array {
    return this.#sealKey
  }

  /** @internal the BLAKE2b key for blinded record keys. */
  blindKeyBytes(): Uint8Array {
    return this.#blindKey
  }

  /** Zeroes the key and its subkeys; the object is unusable afterwards. */
  wipe(): void {
    wipe(this.#key)
    wipe(this.#sealKey)
    wipe(this.#blindKey)
  }

  /** Never reveals the key. */
  toString(): string {
    return 'DatabaseKey(<redacted>)'
  }

  /** Never reveals the key. */
  toJSON(): string {
    return this.toString()
  }

  /** Never reveals the key (util.inspect / console.log). */
  [inspect.custom](): string {
    return this.toString()
  }
}

function asDatabaseKey(dbKey: DatabaseKey | Uint8Array): DatabaseKey {
  return dbKey instanceof DatabaseKey ? dbKey : DatabaseKey.fromBytes(dbKey)
}

function passphraseBytes(passphrase: string | Uint8Array): Uint8Array {
  if (typeof passphrase === 'string') return utf8(passphrase.normalize('NFC'))
  checkBytes('passphrase', passphrase)
  return passphrase
}

function checkParams(params: Argon2idParams): void {
  if (!Number.isInteger(params.opsLimit) || params.opsLimit < 1 || params.opsLimit > MAX_OPS_LIMIT) {
    throw new InvalidArgumentError(`opsLimit must be 1..${MAX_OPS_LIMIT}`)
  }
  if (!Number.isInteger(params.memLimit) || params.memLimit < 8192 || params.memLimit > MAX_MEM_LIMIT) {
    throw new InvalidArgumentError(`memLimit must be 8192..${MAX_MEM_LIMIT}`)
  }
}

/**
 * Wraps the database key under a passphrase (§10.1):
 * `u8(1) || u32be(opsLimit) || u32be(memLimit) || salt[16] || nonce[24] || AEAD-Enc(kek, nonce, dbKey, header)`
 * with `kek = Argon2id(NFC-UTF-8(passphrase), salt, opsLimit, memLimit)` and `header` the first 49 bytes.
 * `opts.salt` and `opts.nonce` exist for test vectors; by default both are random.
 */
export function wrapDatabaseKey(
  dbKey: DatabaseKey | Uint8Array,
  passphrase: string | Uint8Array,
  params: Argon2idParams,
  opts: { salt?: Uint8Array; nonce?: Uint8Array } = {}
): Uint8Array {
  const key = asDatabaseKey(dbKey)
  checkParams(params)
  const salt = opts.salt ?? randomBytes(ARGON2_SALT_BYTES)
  const nonce = opts.nonce ?? randomBytes(AEAD_NONCE_BYTES)
  checkBytes('salt', salt, ARGON2_SALT_BYTES)
  checkBytes('nonce', nonce, AEAD_NONCE_BYTES)
  const header = new Uint8Array(WRAPPED_KEY_HEADER_BYTES)
  const view = new DataView(header.buffer)
  header[0] = WRAPPED_KEY_VERSION
  view.setUint32(1, params.opsLimit)
  view.setUint32(5, params.memLimit)
  header.set(salt, 9)
  header.set(nonce, 9 + ARGON2_SALT_BYTES)
  const kek = argon2id(passphraseBytes(passphrase), salt, params)
  const raw = key.exportBytes()
  try {
    return concatBytes(header, aeadEncrypt(kek, nonce, raw, header))
  } finally {
    wipe(kek)
    wipe(raw)
  }
}

/** The Argon2id limits stored in a wrapped key's header (throws MalformedError/UnsupportedVersionError). */
export function wrappedKeyParams(wrapped: Uint8Array): Argon2idParams {
  checkBytes('wrapped', wrapped)
  if (wrapped.length < 1) throw new MalformedError('wrapped key is empty')
  if (wrapped[0] !== WRAPPED_KEY_VERSION) throw new UnsupportedVersionError(`wrapped key version ${wrapped[0]}`)
  if (wrapped.length !== WRAPPED_KEY_BYTES) {
    throw new MalformedError(`wrapped key must be ${WRAPPED_KEY_BYTES} bytes, got ${wrapped.length}`)
  }
  const view = new DataView(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength)
  const params = { opsLimit: view.getUint32(1), memLimit: view.getUint32(5) }
  try {
    checkParams(params)
  } catch (err) {
    throw new MalformedError(`wrapped key has bad Argon2id limits: ${(err as Error).message}`)
  }
  return params
}

/**
 * Unwraps a key made by wrapDatabaseKey. Throws WrongPassphraseError when the passphrase (or the
 * authenticated header) is wrong, UnsupportedVersionError for an unknown version, MalformedError otherwise.
 */
export function unwrapDatabaseKey(wrapped: Uint8Array, passphrase: string | Uint8Array): DatabaseKey {
  const params = wrappedKeyParams(wrapped)
  const header = wrapped.subarray(0, WRAPPED_KEY_HEADER_BYTES)
  const salt = wrapped.subarray(9, 9 + ARGON2_SALT_BYTES)
  const nonce = wrapped.subarray(9 + ARGON2_SALT_BYTES, WRAPPED_KEY_HEADER_BYTES)
  const kek = argon2id(passphraseBytes(passphrase), salt, params)
  let raw: Uint8Array
  try {
    raw = aeadDecrypt(kek, nonce, wrapped.subarray(WRAPPED_KEY_HEADER_BYTES), header)
  } catch {
    throw new WrongPassphraseError('the passphrase does not unlock this database key')
  } finally {
    wipe(kek)
  }
  const key = DatabaseKey.fromBytes(raw)
  wipe(raw)
  return key
}

/**
 * The associated data of a record, label || recordKey, in one reused buffer: valid until the next call, which
 * is fine for aeadEncrypt and aeadDecrypt (they copy their arguments before returning).
 */
let adBuffer = new Uint8Array(0)

function recordAd(recordKey: Uint8Array): Uint8Array {
  const length = recordLabel.length + recordKey.length
  if (adBuffer.length < length) {
    adBuffer = new Uint8Array(Math.max(length, 128))
    adBuffer.set(recordLabel)
  }
  adBuffer.set(recordKey, recordLabel.length)
  return adBuffer.subarray(0, length)
}

/**
 * Seals a record value (§10.2): `u8(1) || nonce[24] || AEAD-Enc(sealKey, nonce, value, label || recordKey)`.
 * Binding the record key as associated data makes a value moved to another key fail to open.
 * `opts.nonce` exists for test vectors; by default the nonce is random.
 */
export function sealRecord(
  dbKey: DatabaseKey | Uint8Array,
  recordKey: Uint8Array,
  value: Uint8Array,
  opts: { nonce?: Uint8Array } = {}
): Uint8Array {
  checkBytes('value', value)
  const out = new Uint8Array(SEALED_RECORD_OVERHEAD + value.length)
  sealRecordInto(dbKey, recordKey, value, opts.nonce ?? recordNonce(), out)
  return out
}

/**
 * sealRecord writing into `out`, which must be exactly `SEALED_RECORD_OVERHEAD + value.length` bytes (the
 * store seals many small records per write and places them without an allocation each). Same bytes.
 */
export function sealRecordInto(
  dbKey: DatabaseKey | Uint8Array,
  recordKey: Uint8Array,
  value: Uint8Array,
  nonce: Uint8Array,
  out: Uint8Array
): void {
  const key = asDatabaseKey(dbKey)
  checkBytes('recordKey', recordKey)
  checkBytes('value', value)
  checkBytes('nonce', nonce, AEAD_NONCE_BYTES)
  checkBytes('out', out, SEALED_RECORD_OVERHEAD + value.length)
  const ct = aeadEncrypt(key.sealKeyBytes(), nonce, value, recordAd(recordKey))
  out[0] = SEALED_RECORD_VERSION
  out.set(nonce, 1)
  out.set(ct, 1 + AEAD_NONCE_BYTES)
}

/**
 * Opens a sealed record stored under `recordKey`. Throws DecryptionError when the value was altered or
 * moved from another key, UnsupportedVersionError / MalformedError for an unknown or short format.
 */
export function openRecord(dbKey: DatabaseKey | Uint8Array, recordKey: Uint8Array, sealed: Uint8Array): Uint8Array {
  const key = asDatabaseKey(dbKey)
  checkBytes('recordKey', recordKey)
  checkBytes('sealed', sealed)
  if (sealed.length < SEALED_RECORD_OVERHEAD) throw new MalformedError('sealed record too short')
  if (sealed[0] !== SEALED_RECORD_VERSION) throw new UnsupportedVersionError(`sealed record version ${sealed[0]}`)
  return aeadDecrypt(
    key.sealKeyBytes(),
    sealed.subarray(1, 1 + AEAD_NONCE_BYTES),
    sealed.subarray(1 + AEAD_NONCE_BYTES),
    recordAd(recordKey)
  )
}

/**
 * A blinded record key (§10.3): `B2b(enc(parts), 32, blindKey)` where every part (a string as its UTF-8,
 * or bytes) is encoded as `u32be(len) || part`, so that no two lists of parts encode alike.
 */
export function blindKey(dbKey: DatabaseKey | Uint8Array, parts: ReadonlyArray<string | Uint8Array>): Uint8Array {
  const key = asDatabaseKey(dbKey)
  if (parts.length === 0) throw new InvalidArgumentError('parts must not be empty')
  // Written straight into one buffer (a store write blinds at least one fresh id; the list of parts and a
  // TextEncoder per part used to cost more than the hash).
  let length = 0
  for (const part of parts) {
    if (typeof part !== 'string') checkBytes('part', part)
    length += 4 + (typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length)
  }
  const encoded = new Uint8Array(length)
  const view = new DataView(encoded.buffer)
  let offset = 0
  for (const part of parts) {
    if (typeof part === 'string') {
      const { written } = partEncoder.encodeInto(part, encoded.subarray(offset + 4))
      view.setUint32(offset, written)
      offset += 4 + written
    } else {
      view.setUint32(offset, part.length)
      encoded.set(part, offset + 4)
      offset += 4 + part.length
    }
  }
  return blake2b(encoded, BLINDED_KEY_BYTES, key.blindKeyBytes())
}
