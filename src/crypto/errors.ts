/** Typed errors of the crypto layer: callers branch on the class, never on the message text. */

/** Base class of every error thrown by src/crypto. */
export class CryptoError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** An argument had the wrong type or length. The message names the argument. */
export class InvalidArgumentError extends CryptoError {}

/** A key was malformed, of low order, or produced an all-zero shared secret. */
export class InvalidKeyError extends CryptoError {}

/** A signature did not verify (or was not canonical). */
export class SignatureError extends CryptoError {}

/** Authenticated decryption failed: wrong key, tampered ciphertext, header or associated data. */
export class DecryptionError extends CryptoError {}

/** A message was already decrypted once (a replay or a duplicate). */
export class DuplicateMessageError extends CryptoError {}

/** A message would require skipping more message keys than the bounds allow. */
export class TooManySkippedError extends CryptoError {}

/** A serialised object or message carries a version this code does not support. */
export class UnsupportedVersionError extends CryptoError {}

/** Serialised state or a wire object is malformed. */
export class MalformedError extends CryptoError {}

/** The passphrase did not unlock the wrapped key. */
export class WrongPassphraseError extends CryptoError {}

/** A padded plaintext is malformed: its length is not a bucket, or it does not end in 0x80 then zeros (§9). */
export class PaddingError extends MalformedError {}

/** A community message or statement belongs to another community or epoch than the one given (§8). */
export class EpochMismatchError extends DecryptionError {}

/** A community control statement was issued by a key that is not an admin of the community (§8). */
export class UnauthorizedIssuerError extends CryptoError {}

/** An initial header named a prekey (signed, one-time or ML-KEM) that the responder does not hold. */
export class UnknownPrekeyError extends CryptoError {}

/** An identity key was not the one expected (e.g. a prekey bundle signed by someone other than the contact). */
export class UntrustedIdentityError extends CryptoError {}

/** The operation is not possible in the object's current state (e.g. a ratchet responder sending first, a wiped state). */
export class InvalidStateError extends CryptoError {}
