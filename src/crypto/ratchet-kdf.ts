/**
 * The KDF chains, header layout and header encryption of sotto's Double Ratchet (docs/PROTOCOL.md §5).
 * Follows the Signal Double Ratchet specification (revision 1, 2016-11-20), §4 "Double Ratchet with header
 * encryption", with the choices of §5 of PROTOCOL.md: HKDF-SHA-256 for KDF_RK_HE, HMAC-SHA-256 for KDF_CK,
 * XChaCha20-Poly1305 for ENCRYPT and HENCRYPT.
 */
import { DecryptionError, UnsupportedVersionError } from './errors.js'
import {
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  aeadDecrypt,
  aeadDecryptOrNull,
  aeadEncrypt,
  concatBytes,
  hkdf,
  hmacSha256Each,
  KEY_BYTES,
  utf8,
  X25519_BYTES
} from './primitives.js'

/** Version of the ratchet: the first byte of every header plaintext (§5.4). */
export const RATCHET_VERSION = 1
/** HKDF info of KDF_RK_HE (§5.2). */
export const ROOT_KDF_INFO = utf8('sotto/ratchet/v1/root')
/** HKDF info of the message-key expansion (§5.3). */
export const MESSAGE_KDF_INFO = utf8('sotto/ratchet/v1/message')
/** Label that starts the associated data of every header encryption (§5.5). */
export const HEADER_AD_LABEL = utf8('sotto/ratchet/v1/header')
/** KDF_CK input byte of the message key (§5.3). */
const MESSAGE_KEY_CONSTANT = Uint8Array.of(0x01)
/** KDF_CK input byte of the next chain key (§5.3). */
const CHAIN_KEY_CONSTANT = Uint8Array.of(0x02)

/** Header plaintext: u8 version || DH ratchet public key [32] || u32be PN || u32be N. */
export const HEADER_PLAINTEXT_BYTES = 1 + X25519_BYTES + 4 + 4
/** Encrypted header: nonce [24] || AEAD ciphertext of the header plaintext [41] || tag [16]. */
export const ENCRYPTED_HEADER_BYTES = AEAD_NONCE_BYTES + HEADER_PLAINTEXT_BYTES + AEAD_TAG_BYTES
/** Most message keys one message may make the receiver skip in one chain (the specification's MAX_SKIP). */
export const MAX_SKIP = 1000
/** Most skipped message keys held over all chains; beyond it the oldest are evicted (§5.7). */
export const MAX_SKIPPED_TOTAL = 2000
/** Most closed receiving chains remembered (for skipped keys and duplicate detection); the oldest is dropped. */
export const MAX_PREVIOUS_CHAINS = 32
/** Largest message number or chain length (u32). */
export const MAX_COUNTER = 0xffffffff

/** The three outputs of KDF_RK_HE. */
export interface RootKdfOutput {
  rootKey: Uint8Array
  chainKey: Uint8Array
  nextHeaderKey: Uint8Array
}

/** KDF_RK_HE(rk, dh_out): HKDF(ikm = dh_out, salt = rk, info = "sotto/ratchet/v1/root", 96) split 32/32/32. */
export function kdfRoot(rootKey: Uint8Array, dhOutput: Uint8Array): RootKdfOutput {
  const out = hkdf(dhOutput, rootKey, ROOT_KDF_INFO, 3 * KEY_BYTES)
  const result = {
    rootKey: out.slice(0, KEY_BYTES),
    chainKey: out.slice(KEY_BYTES, 2 * KEY_BYTES),
    nextHeaderKey: out.slice(2 * KEY_BYTES, 3 * KEY_BYTES)
  }
  out.fill(0)
  return result
}

/** KDF_CK(ck): message key = HMAC(ck, 0x01), next chain key = HMAC(ck, 0x02). */
export function kdfChain(chainKey: Uint8Array): { chainKey: Uint8Array; messageKey: Uint8Array } {
  const [messageKey, nextChainKey] = hmacSha256Each(chainKey, KDF_CK_INPUTS) as [Uint8Array, Uint8Array]
  return { messageKey, chainKey: nextChainKey }
}

/** KDF_CK's two inputs, in the order of its outputs (message key, next chain key). */
const KDF_CK_INPUTS = [MESSAGE_KEY_CONSTANT, CHAIN_KEY_CONSTANT] as const

/** HKDF's empty salt (RFC 5869: 32 zero bytes); never written to. */
const EMPTY_SALT = new Uint8Array(0)

/** Message key expansion: HKDF(ikm = mk, salt = "", info = "sotto/ratchet/v1/message", 56) = key [32] || nonce [24]. */
export function expandMessageKey(messageKey: Uint8Array): { key: Uint8Array; nonce: Uint8Array; material: Uint8Array } {
  const material = hkdf(messageKey, EMPTY_SALT, MESSAGE_KDF_INFO, KEY_BYTES + AEAD_NONCE_BYTES)
  return { key: material.subarray(0, KEY_BYTES), nonce: material.subarray(KEY_BYTES), material }
}

/** ENCRYPT(mk, plaintext, ad): XChaCha20-Poly1305 under the expanded message key. */
export function encryptBody(messageKey: Uint8Array, plaintext: Uint8Array, ad: Uint8Array): Uint8Array {
  const { key, nonce, material } = expandMessageKey(messageKey)
  try {
    return aeadEncrypt(key, nonce, plaintext, ad)
  } finally {
    material.fill(0)
  }
}

/** DECRYPT(mk, ciphertext, ad); throws DecryptionError when authentication fails. */
export function decryptBody(messageKey: Uint8Array, ciphertext: Uint8Array, ad: Uint8Array): Uint8Array {
  const { key, nonce, material } = expandMessageKey(messageKey)
  try {
    return aeadDecrypt(key, nonce, ciphertext, ad)
  } finally {
    material.fill(0)
  }
}

/** A decoded header plaintext. */
export interface HeaderFields {
  /** The sender's current DH ratchet public key. */
  dh: Uint8Array
  /** PN: the number of messages in the sender's previous sending chain. */
  pn: number
  /** N: this message's number in the current sending chain. */
  n: number
}

/** HEADER(dh, pn, n) = u8(1) || dh || u32be(pn) || u32be(n). */
export function encodeHeader(dh: Uint8Array, pn: number, n: number): Uint8Array {
  const out = new Uint8Array(HEADER_PLAINTEXT_BYTES)
  out[0] = RATCHET_VERSION
  out.set(dh, 1)
  writeU32be(out, 1 + X25519_BYTES, pn)
  writeU32be(out, 1 + X25519_BYTES + 4, n)
  return out
}

/** Parses a header plaintext (already authenticated); throws UnsupportedVersionError for another version. */
export function decodeHeader(bytes: Uint8Array): HeaderFields {
  if (bytes.length !== HEADER_PLAINTEXT_BYTES) throw new DecryptionError('header plaintext has the wrong length')
  if (bytes[0] !== RATCHET_VERSION) throw new UnsupportedVersionError(`ratchet header version ${bytes[0]}`)
  return {
    dh: bytes.slice(1, 1 + X25519_BYTES),
    pn: readU32be(bytes, 1 + X25519_BYTES),
    n: readU32be(bytes, 1 + X25519_BYTES + 4)
  }
}

function writeU32be(out: Uint8Array, at: number, value: number): void {
  out[at] = value >>> 24
  out[at + 1] = (value >>> 16) & 0xff
  out[at + 2] = (value >>> 8) & 0xff
  out[at + 3] = value & 0xff
}

function readU32be(bytes: Uint8Array, at: number): number {
  return ((bytes[at]! << 24) | (bytes[at + 1]! << 16) | (bytes[at + 2]! << 8) | bytes[at + 3]!) >>> 0
}

/** Associated data of every header encryption of a session: "sotto/ratchet/v1/header" || AD. */
export function headerAssociatedData(associatedData: Uint8Array): Uint8Array {
  return concatBytes(HEADER_AD_LABEL, associatedData)
}

/** HENCRYPT(hk, header) = nonce || AEAD-Enc(hk, nonce, header, headerAd), with a fresh 24-byte nonce. */
export function sealHeader(headerKey: Uint8Array, nonce: Uint8Array, header: Uint8Array, headerAd: Uint8Array): Uint8Array {
  const out = new Uint8Array(ENCRYPTED_HEADER_BYTES)
  out.set(nonce, 0)
  out.set(aeadEncrypt(headerKey, nonce, header, headerAd), AEAD_NONCE_BYTES)
  return out
}

/** HDECRYPT(hk, encHeader): the header plaintext, or null when it does not authenticate under `headerKey`. */
export function openHeader(headerKey: Uint8Array, encryptedHeader: Uint8Array, headerAd: Uint8Array): Uint8Array | null {
  return aeadDecryptOrNull(headerKey, encryptedHeader.subarray(0, AEAD_NONCE_BYTES), encryptedHeader.subarray(AEAD_NONCE_BYTES), headerAd)
}
