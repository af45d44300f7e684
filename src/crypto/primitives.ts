/**
 * Thin, checked wrappers over the libsodium primitives sotto uses (docs/PROTOCOL.md §2 "Primitives").
 * Every length is checked here so that a wrong-sized input fails with an error naming the argument.
 */
import { DecryptionError, InvalidArgumentError, InvalidKeyError, SignatureError } from './errors.js'
import { curve, sodium } from './sodium.js'

export const KEY_BYTES = 32
export const AEAD_NONCE_BYTES = 24
export const AEAD_TAG_BYTES = 16
export const ED25519_PUBLIC_BYTES = 32
export const ED25519_SECRET_BYTES = 64
export const ED25519_SEED_BYTES = 32
export const SIGNATURE_BYTES = 64
export const X25519_BYTES = 32
export const HMAC_SHA256_BYTES = 32
export const MLKEM768_PUBLIC_BYTES = 1184
export const MLKEM768_SECRET_BYTES = 2400
export const MLKEM768_CIPHERTEXT_BYTES = 1088
export const MLKEM768_SEED_BYTES = 64
export const MLKEM768_SHARED_BYTES = 32

/** Throws InvalidArgumentError unless `value` is a Uint8Array of exactly `length` bytes. */
export function checkBytes(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new InvalidArgumentError(`${name} must be ${length} bytes, got ${value.length}`)
  }
}

/** WebCrypto's getRandomValues fills at most this many bytes per call. */
const MAX_RANDOM_CHUNK = 65536

/**
 * Cryptographically secure random bytes from the platform CSPRNG (WebCrypto `getRandomValues`, which
 * is also where libsodium.js draws its randomness in Node). Called directly because the WebAssembly
 * round trip of `randombytes_buf` costs ~200 µs per call here, against ~6 µs.
 */
export function randomBytes(length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0) throw new InvalidArgumentError('length must be a non-negative integer')
  const out = new Uint8Array(length)
  for (let offset = 0; offset < length; offset += MAX_RANDOM_CHUNK) {
    globalThis.crypto.getRandomValues(out.subarray(offset, Math.min(length, offset + MAX_RANDOM_CHUNK)))
  }
  return out
}

/** Concatenates byte arrays. */
export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let total = 0
  for (const p of parts) total += p.length
  const out = new Uint8Array(total)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** UTF-8 encoding of a string (used for info strings and labels). */
export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text)
}

/** Constant-time equality of two byte arrays (false when the lengths differ). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  if (a.length === 0) return true
  return sodium.memcmp(a, b)
}

/** True when every byte is zero, in constant time. */
export function isZero(bytes: Uint8Array): boolean {
  return sodium.is_zero(bytes)
}

/** Overwrites secret bytes with zeros. */
export function wipe(bytes: Uint8Array | undefined): void {
  if (bytes !== undefined && bytes.length > 0) sodium.memzero(bytes)
}

/**
 * Lowercase hex of public bytes (keys, signatures, ids), through Node's native encoder: several times faster than
 * {@link toHex}, but with table lookups indexed by the bytes, so never for secrets.
 */
export function publicHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** Lowercase hex of bytes. */
export function toHex(bytes: Uint8Array): string {
  return sodium.to_hex(bytes)
}

/** Bytes of a lowercase or uppercase hex string; throws InvalidArgumentError on bad hex. */
export function fromHex(hex: string): Uint8Array {
  if (!/^(?:[0-9a-fA-F]{2})*$/.test(hex)) throw new InvalidArgumentError('not a hex string')
  return sodium.from_hex(hex)
}

// --- Hashes and MACs -----------------------------------------------------------------------------

/** SHA-256. */
export function sha256(data: Uint8Array): Uint8Array {
  return sodium.crypto_hash_sha256(data)
}

/** SHA-512. */
export function sha512(data: Uint8Array): Uint8Array {
  return sodium.crypto_hash_sha512(data)
}

/** BLAKE2b with an output of 16..64 bytes, keyed when `key` (16..64 bytes) is given. */
export function blake2b(data: Uint8Array, outLength = 32, key?: Uint8Array): Uint8Array {
  if (!Number.isInteger(outLength) || outLength < 16 || outLength > 64) {
    throw new InvalidArgumentError('outLength must be 16..64')
  }
  if (key !== undefined && (key.length < 16 || key.length > 64)) throw new InvalidArgumentError('key must be 16..64 bytes')
  return sodium.crypto_generichash(outLength, data, key ?? null)
}

/**
 * Direct calls into libsodium's WebAssembly exports for the per-message HMAC-SHA-256 work (the same libsodium
 * functions the wrappers call: crypto_auth_hmacsha256, _init, _update, _final). The wrappers allocate, copy
 * and free every argument on each call; here the arguments go into one scratch region allocated once, which
 * is zeroed after every use. Going through the exports also lets one keyed HMAC state (the key's inner and
 * outer pad blocks, 2 of the 4 SHA-256 compressions of a short HMAC) be computed once and copied for each
 * message under the same key: KDF_CK's two HMACs under one chain key, the HKDF-Expand blocks under one PRK,
 * and HKDF-Extract under the all-zero salt. The outputs are those of RFC 2104 / RFC 5869 byte for byte.
 */
interface RawSodium {
  HEAPU8: Uint8Array
  _malloc(size: number): number
  _crypto_auth_hmacsha256(out: number, input: number, inLengthLow: number, inLengthHigh: number, key: number): number
  _crypto_auth_hmacsha256_statebytes(): number
  _crypto_auth_hmacsha256_init(state: number, key: number, keyLength: number): number
  _crypto_auth_hmacsha256_update(state: number, input: number, inLengthLow: number, inLengthHigh: number): number
  _crypto_auth_hmacsha256_final(state: number, out: number): number
  _crypto_aead_xchacha20poly1305_ietf_encrypt(
    c: number, cLength: number, m: number, mLengthLow: number, mLengthHigh: number,
    ad: number, adLengthLow: number, adLengthHigh: number, nsec: number, nonce: number, key: number
  ): number
  _crypto_aead_xchacha20poly1305_ietf_decrypt(
    m: number, mLength: number, nsec: number, c: number, cLengthLow: number, cLengthHigh: number,
    ad: number, adLengthLow: number, adLengthHigh: number, nonce: number, key: number
  ): number
}
const raw = (sodium as unknown as { libsodium: RawSodium }).libsodium
const HMAC_STATE_BYTES = raw._crypto_auth_hmacsha256_statebytes()
/** Largest key + data (bytes) that goes through the scratch region; longer inputs use the wrappers. */
const SCRATCH_DATA_BYTES = 8192
/** Scratch layout: zero-salt state | base state | work state | output block | counter byte | key + data. */
const ZERO_STATE = raw._malloc(3 * HMAC_STATE_BYTES + HMAC_SHA256_BYTES + 1 + SCRATCH_DATA_BYTES)
const BASE_STATE = ZERO_STATE + HMAC_STATE_BYTES
const WORK_STATE = BASE_STATE + HMAC_STATE_BYTES
const OUT = WORK_STATE + HMAC_STATE_BYTES
const COUNTER = OUT + HMAC_SHA256_BYTES
const DATA = COUNTER + 1
const SCRATCH_END = DATA + SCRATCH_DATA_BYTES
// The keyed state of the all-zero 32-byte key (HKDF's default salt); not secret, kept for every extract.
raw.HEAPU8.fill(0, ZERO_STATE, SCRATCH_END)
raw._crypto_auth_hmacsha256_init(ZERO_STATE, DATA, HMAC_SHA256_BYTES)

/** Zeroes the secret part of the scratch region (everything but the zero-salt state). */
function wipeScratch(heap: Uint8Array, dataEnd: number): void {
  heap.fill(0, BASE_STATE, dataEnd)
}

/** HMAC-SHA-256 (RFC 2104). Any key length is allowed, as in RFC 2104. */
export function hmacSha256(key: Uint8Array, data: Uint8Array): Uint8Array {
  checkBytes('key', key)
  checkBytes('data', data)
  if (key.length + data.length <= SCRATCH_DATA_BYTES) {
    const heap = raw.HEAPU8
    heap.set(key, DATA)
    heap.set(data, DATA + key.length)
    if (key.length === HMAC_SHA256_BYTES) {
      raw._crypto_auth_hmacsha256(OUT, DATA + key.length, data.length, 0, DATA)
    } else {
      raw._crypto_auth_hmacsha256_init(WORK_STATE, DATA, key.length)
      raw._crypto_auth_hmacsha256_update(WORK_STATE, DATA + key.length, data.length, 0)
      raw._crypto_auth_hmacsha256_final(WORK_STATE, OUT)
    }
    const out = heap.slice(OUT, OUT + HMAC_SHA256_BYTES)
    wipeScratch(heap, DATA + key.length + data.length)
    return out
  }
  // libsodium's one-shot crypto_auth_hmacsha256 requires a 32-byte key; the init/update/final API takes any length.
  if (key.length === HMAC_SHA256_BYTES) return sodium.crypto_auth_hmacsha256(data, key)
  const state = sodium.crypto_auth_hmacsha256_init(key)
  sodium.crypto_auth_hmacsha256_update(state, data)
  return sodium.crypto_auth_hmacsha256_final(state)
}

/**
 * HMAC-SHA-256 of several messages under one key: element i equals `hmacSha256(key, messages[i])`. The keyed
 * state is computed once (KDF_CK's two HMACs under one chain key cost 6 SHA-256 compressions instead of 8).
 */
export function hmacSha256Each(key: Uint8Array, messages: readonly Uint8Array[]): Uint8Array[] {
  checkBytes('key', key)
  let longest = 0
  for (const m of messages) {
    checkBytes('message', m)
    if (m.length > longest) longest = m.length
  }
  if (key.length + longest > SCRATCH_DATA_BYTES) return messages.map((m) => hmacSha256(key, m))
  const heap = raw.HEAPU8
  heap.set(key, DATA)
  raw._crypto_auth_hmacsha256_init(BASE_STATE, DATA, key.length)
  const out: Uint8Array[] = []
  for (const m of messages) {
    heap.copyWithin(WORK_STATE, BASE_STATE, BASE_STATE + HMAC_STATE_BYTES)
    heap.set(m, DATA)
    raw._crypto_auth_hmacsha256_update(WORK_STATE, DATA, m.length, 0)
    raw._crypto_auth_hmacsha256_final(WORK_STATE, OUT)
    out.push(heap.slice(OUT, OUT + HMAC_SHA256_BYTES))
  }
  wipeScratch(heap, DATA + Math.max(key.length, longest))
  return out
}

/** Maximum HKDF-SHA-256 output: 255 blocks of 32 bytes (RFC 5869 §2.3). */
export const HKDF_MAX_BYTES = 255 * HMAC_SHA256_BYTES

/** HKDF-Extract (RFC 5869 §2.2). An empty salt means 32 zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Uint8Array {
  const s = salt.length === 0 ? new Uint8Array(HMAC_SHA256_BYTES) : salt
  return hmacSha256(s, ikm)
}

/** HKDF-Expand (RFC 5869 §2.3). */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX_BYTES) {
    throw new InvalidArgumentError(`length must be 0..${HKDF_MAX_BYTES}`)
  }
  checkBytes('prk', prk)
  checkBytes('info', info)
  if (prk.length + info.length > SCRATCH_DATA_BYTES) return hkdfExpandWrapped(prk, info, length)
  const heap = raw.HEAPU8
  heap.set(prk, DATA)
  raw._crypto_auth_hmacsha256_init(BASE_STATE, DATA, prk.length)
  const out = expandFromBaseState(heap, info, length)
  wipeScratch(heap, DATA + Math.max(prk.length, info.length))
  return out
}

/** The HKDF-Expand blocks from the PRK's keyed state at BASE_STATE (info is written over the key at DATA). */
function expandFromBaseState(heap: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  heap.set(info, DATA)
  let offset = 0
  for (let counter = 1; offset < length; counter++) {
    heap.copyWithin(WORK_STATE, BASE_STATE, BASE_STATE + HMAC_STATE_BYTES)
    // T(i) = HMAC(PRK, T(i-1) || info || i); T(i-1) is still in OUT from the previous round.
    if (counter > 1) raw._crypto_auth_hmacsha256_update(WORK_STATE, OUT, HMAC_SHA256_BYTES, 0)
    raw._crypto_auth_hmacsha256_update(WORK_STATE, DATA, info.length, 0)
    heap[COUNTER] = counter
    raw._crypto_auth_hmacsha256_update(WORK_STATE, COUNTER, 1, 0)
    raw._crypto_auth_hmacsha256_final(WORK_STATE, OUT)
    const take = Math.min(HMAC_SHA256_BYTES, length - offset)
    out.set(heap.subarray(OUT, OUT + take), offset)
    offset += take
  }
  return out
}

/** HKDF-Expand through the wrappers, for inputs longer than the scratch region. */
function hkdfExpandWrapped(prk: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(length)
  let previous = new Uint8Array(0)
  let offset = 0
  for (let counter = 1; offset < length; counter++) {
    previous = hmacSha256(prk, concatBytes(previous, info, Uint8Array.of(counter))) as Uint8Array<ArrayBuffer>
    const take = Math.min(previous.length, length - offset)
    out.set(previous.subarray(0, take), offset)
    offset += take
  }
  return out
}

/** HKDF-SHA-256 (RFC 5869): extract then expand. */
export function hkdf(ikm: Uint8Array, salt: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  checkBytes('ikm', ikm)
  checkBytes('salt', salt)
  checkBytes('info', info)
  if (!Number.isInteger(length) || length < 0 || length > HKDF_MAX_BYTES) {
    throw new InvalidArgumentError(`length must be 0..${HKDF_MAX_BYTES}`)
  }
  if (salt.length + ikm.length > SCRATCH_DATA_BYTES || info.length > SCRATCH_DATA_BYTES) {
    return hkdfExpand(hkdfExtract(salt, ikm), info, length)
  }
  const heap = raw.HEAPU8
  // Extract: PRK = HMAC(salt, ikm) into OUT, from the cached zero-salt state when the salt is empty.
  if (salt.length === 0) {
    heap.copyWithin(WORK_STATE, ZERO_STATE, ZERO_STATE + HMAC_STATE_BYTES)
  } else {
    heap.set(salt, DATA)
    raw._crypto_auth_hmacsha256_init(WORK_STATE, DATA, salt.length)
  }
  heap.set(ikm, DATA)
  raw._crypto_auth_hmacsha256_update(WORK_STATE, DATA, ikm.length, 0)
  raw._crypto_auth_hmacsha256_final(WORK_STATE, OUT)
  // Expand under PRK.
  raw._crypto_auth_hmacsha256_init(BASE_STATE, OUT, HMAC_SHA256_BYTES)
  const out = expandFromBaseState(heap, info, length)
  wipeScratch(heap, DATA + Math.max(salt.length, ikm.length, info.length))
  return out
}

// --- AEAD ----------------------------------------------------------------------------------------

/** Scratch bytes an AEAD call needs: key, nonce, associated data, input and output (input + tag). */
function aeadScratchBytes(inputLength: number, adLength: number): number {
  return KEY_BYTES + AEAD_NONCE_BYTES + adLength + 2 * inputLength + AEAD_TAG_BYTES
}

/**
 * Copies an AEAD call's key, nonce, associated data and input into the scratch region, in that order from
 * DATA; returns the offsets of the nonce, the associated data, the input and the output (right after it).
 */
function placeAeadArguments(heap: Uint8Array, key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, input: Uint8Array) {
  const n = DATA + KEY_BYTES
  const a = n + AEAD_NONCE_BYTES
  const i = a + ad.length
  heap.set(key, DATA)
  heap.set(nonce, n)
  heap.set(ad, a)
  heap.set(input, i)
  return { n, a, i, o: i + input.length }
}

/** XChaCha20-Poly1305 (IETF) encryption; returns ciphertext || 16-byte tag. */
export function aeadEncrypt(key: Uint8Array, nonce: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  checkBytes('key', key, KEY_BYTES)
  checkBytes('nonce', nonce, AEAD_NONCE_BYTES)
  checkBytes('plaintext', plaintext)
  checkBytes('ad', ad)
  const used = aeadScratchBytes(plaintext.length, ad.length)
  if (used > SCRATCH_DATA_BYTES) return sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(plaintext, ad, null, nonce, key)
  // Same libsodium function as the wrapper, with its arguments in the scratch region (see RawSodium).
  const heap = raw.HEAPU8
  const { n, a, i: m, o: c } = placeAeadArguments(heap, key, nonce, ad, plaintext)
  raw._crypto_aead_xchacha20poly1305_ietf_encrypt(c, 0, m, plaintext.length, 0, a, ad.length, 0, 0, n, DATA)
  const out = heap.slice(c, c + plaintext.length + AEAD_TAG_BYTES)
  wipeScratch(heap, DATA + used)
  return out
}

/** XChaCha20-Poly1305 (IETF) decryption; throws DecryptionError when authentication fails. */
export function aeadDecrypt(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  const out = aeadDecryptOrNull(key, nonce, ciphertext, ad)
  if (out === null) throw new DecryptionError(ciphertext.length < AEAD_TAG_BYTES ? 'ciphertext shorter than the tag' : 'authentication failed')
  return out
}

/**
 * Like {@link aeadDecrypt}, but returns null when authentication fails (or the ciphertext is shorter than the
 * tag), for trial decryption where failing is expected (the ratchet's header keys): no exception is built.
 */
export function aeadDecryptOrNull(key: Uint8Array, nonce: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array | null {
  checkBytes('key', key, KEY_BYTES)
  checkBytes('nonce', nonce, AEAD_NONCE_BYTES)
  checkBytes('ciphertext', ciphertext)
  checkBytes('ad', ad)
  if (ciphertext.length < AEAD_TAG_BYTES) return null
  const used = aeadScratchBytes(ciphertext.length, ad.length)
  if (used > SCRATCH_DATA_BYTES) {
    try {
      return sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(null, ciphertext, ad, nonce, key)
    } catch {
      return null
    }
  }
  const heap = raw.HEAPU8
  const { n, a, i: c, o: m } = placeAeadArguments(heap, key, nonce, ad, ciphertext)
  const rc = raw._crypto_aead_xchacha20poly1305_ietf_decrypt(m, 0, 0, c, ciphertext.length, 0, a, ad.length, 0, n, DATA)
  const out = rc === 0 ? heap.slice(m, m + ciphertext.length - AEAD_TAG_BYTES) : null
  wipeScratch(heap, DATA + used)
  return out
}

// --- X25519 --------------------------------------------------------------------------------------

/** X25519 public key of a 32-byte private scalar. */
export function x25519Public(privateKey: Uint8Array): Uint8Array {
  checkBytes('privateKey', privateKey, X25519_BYTES)
  return curve.scalarmultBase(privateKey)
}

/**
 * X25519 shared secret. Throws InvalidKeyError for low-order public keys, which give an all-zero
 * output (libsodium refuses those; the check is repeated here so the rule does not depend on it).
 */
export function x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array {
  checkBytes('privateKey', privateKey, X25519_BYTES)
  checkBytes('publicKey', publicKey, X25519_BYTES)
  let shared: Uint8Array
  try {
    shared = curve.scalarmult(privateKey, publicKey)
  } catch {
    throw new InvalidKeyError('X25519 public key of low order (all-zero shared secret)')
  }
  if (isZero(shared)) throw new InvalidKeyError('X25519 public key of low order (all-zero shared secret)')
  return shared
}

// --- Ed25519 -------------------------------------------------------------------------------------

/** Ed25519 key pair from a 32-byte seed: { publicKey (32), secretKey (64 = seed || public) }. */
export function ed25519FromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  checkBytes('seed', seed, ED25519_SEED_BYTES)
  return curve.signSeedKeypair(seed)
}

/** Ed25519 detached signature (RFC 8032, deterministic). */
export function ed25519Sign(secretKey: Uint8Array, message: Uint8Array): Uint8Array {
  checkBytes('secretKey', secretKey, ED25519_SECRET_BYTES)
  checkBytes('message', message)
  return curve.signDetached(message, secretKey)
}

/**
 * Ed25519 verification with libsodium's strict rules (canonical S, canonical and non-small-order
 * R and A). Returns false instead of throwing for any bad signature or key.
 */
export function ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== ED25519_PUBLIC_BYTES) return false
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false
  checkBytes('message', message)
  try {
    return curve.verifyDetached(signature, message, publicKey)
  } catch {
    return false
  }
}

/** Like ed25519Verify but throws SignatureError naming `what` when the signature is bad. */
export function ed25519VerifyOrThrow(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, what: string): void {
  if (!ed25519Verify(publicKey, message, signature)) throw new SignatureError(`bad signature on ${what}`)
}

// --- ML-KEM-768 (FIPS 203) -----------------------------------------------------------------------

/** ML-KEM-768 key pair from a 64-byte seed (d || z). */
export function mlkem768FromSeed(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array } {
  checkBytes('seed', seed, MLKEM768_SEED_BYTES)
  const kp = sodium.crypto_kem_mlkem768_seed_keypair(seed)
  return { publicKey: kp.publicKey, secretKey: kp.privateKey }
}

/** ML-KEM-768 encapsulation; with `randomness` (32 bytes) it is deterministic (for test vectors). */
export function mlkem768Encapsulate(
  publicKey: Uint8Array,
  randomness?: Uint8Array
): { ciphertext: Uint8Array; sharedSecret: Uint8Array } {
  checkBytes('publicKey', publicKey, MLKEM768_PUBLIC_BYTES)
  try {
    const r =
      randomness === undefined
        ? sodium.crypto_kem_mlkem768_enc(publicKey)
        : sodium.crypto_kem_mlkem768_enc_deterministic(publicKey, randomness)
    return { ciphertext: r.ciphertext, sharedSecret: r.sharedSecret }
  } catch {
    throw new InvalidKeyError('ML-KEM-768 public key rejected')
  }
}

/** ML-KEM-768 decapsulation (implicit rejection: a bad ciphertext yields a pseudo-random secret). */
export function mlkem768Decapsulate(secretKey: Uint8Array, ciphertext: Uint8Array): Uint8Array {
  checkBytes('secretKey', secretKey, MLKEM768_SECRET_BYTES)
  checkBytes('ciphertext', ciphertext, MLKEM768_CIPHERTEXT_BYTES)
  try {
    return sodium.crypto_kem_mlkem768_dec(ciphertext, secretKey)
  } catch {
    throw new InvalidKeyError('ML-KEM-768 decapsulation failed')
  }
}

// --- Argon2id ------------------------------------------------------------------------------------

/** Argon2id parameters as stored beside a wrapped key. */
export interface Argon2idParams {
  /** Operations limit (passes), >= 1. */
  opsLimit: number
  /** Memory limit in bytes, >= 8192. */
  memLimit: number
}

/** Argon2id v1.3 (libsodium crypto_pwhash, 1 lane) of a passphrase and 16-byte salt. */
export function argon2id(passphrase: Uint8Array, salt: Uint8Array, params: Argon2idParams, outLength = 32): Uint8Array {
  checkBytes('passphrase', passphrase)
  checkBytes('salt', salt, sodium.crypto_pwhash_SALTBYTES)
  if (!Number.isInteger(params.opsLimit) || params.opsLimit < 1) throw new InvalidArgumentError('opsLimit must be >= 1')
  if (!Number.isInteger(params.memLimit) || params.memLimit < 8192) throw new InvalidArgumentError('memLimit must be >= 8192')
  return sodium.crypto_pwhash(
    outLength,
    passphrase,
    salt,
    params.opsLimit,
    params.memLimit,
    sodium.crypto_pwhash_ALG_ARGON2ID13
  )
}

/**
 * Throws InvalidKeyError when `publicKey` is an X25519 public key of low order (or any encoding libsodium
 * refuses), i.e. one that would give an all-zero shared secret with every private key: the points of order
 * 1, 2, 4 and 8 on the curve and its twist. Among canonical encodings these are exactly the five
 * u-coordinates in LOW_ORDER_X25519 (libsodium's has_small_order list without its non-canonical entries
 * p and p + 1), so the key is compared with them instead of being multiplied by a probe scalar, which cost
 * a full scalar multiplication per key (17 per prekey bundle decoded).
 *
 * Also refuses non-canonical encodings (bit 255 set, or a value >= p = 2^255 - 19): X25519 ignores bit 255
 * and reduces mod p, so such a key is a second encoding of another key, and a flipped top bit of a key in
 * a signed-free place (the initial header's ephemeral key) would give a different message with the same
 * session (SECURITY.md, attacks 3 and 7). Keys made by x25519Public are always canonical.
 */
export function x25519CheckPublic(publicKey: Uint8Array, what = 'X25519 public key'): void {
  checkBytes(what, publicKey, X25519_BYTES)
  if (!isCanonicalX25519(publicKey)) throw new InvalidKeyError(`${what} is not canonically encoded`)
  let lowOrder = 0
  for (const point of LOW_ORDER_X25519) {
    let diff = 0
    for (let i = 0; i < X25519_BYTES; i++) diff |= point[i]! ^ publicKey[i]!
    lowOrder |= (diff - 1) >>> 31 // 1 when diff is 0, without a branch on the key
  }
  if (lowOrder !== 0) throw new InvalidKeyError(`${what} is of low order`)
}

/**
 * The canonical X25519 u-coordinates of low order (little-endian): 0, 1, p - 1 and the two points of order 8
 * (325606250916557431795983626356110631294008115727848805560023387167927233504 and
 * 39382357235489614581723060781553021112529911719440698176882885853963445705823).
 */
const LOW_ORDER_X25519: readonly Uint8Array[] = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157'
].map(fromHex)

/** True when the little-endian 255-bit value is below p = 2^255 - 19 and bit 255 is clear. */
function isCanonicalX25519(u: Uint8Array): boolean {
  if (u[31]! > 0x7f) return false
  if (u[31]! < 0x7f) return true
  for (let i = 30; i >= 1; i--) if (u[i] !== 0xff) return true
  return u[0]! < 0xed
}

/** ML-KEM-768's modulus q (FIPS 203). */
const MLKEM_Q = 3329

/**
 * Throws InvalidKeyError unless `publicKey` passes FIPS 203 §7.2's encapsulation-key check: the right length,
 * and each 12-bit coefficient of its first 1152 bytes (three polynomials, 2 coefficients per 3 bytes) below q.
 */
export function mlkem768CheckPublic(publicKey: Uint8Array, what = 'ML-KEM-768 public key'): void {
  checkBytes(what, publicKey, MLKEM768_PUBLIC_BYTES)
  for (let i = 0; i < 1152; i += 3) {
    const b0 = publicKey[i]!
    const b1 = publicKey[i + 1]!
    const b2 = publicKey[i + 2]!
    if ((b0 | ((b1 & 0x0f) << 8)) >= MLKEM_Q || ((b1 >> 4) | (b2 << 4)) >= MLKEM_Q) {
      throw new InvalidKeyError(`${what} is not reduced modulo q`)
    }
  }
}
