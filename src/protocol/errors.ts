/**
 * Typed errors of the protocol layer (docs/PROTOCOL.md §11-§14). Every decoder in src/protocol throws only
 * subclasses of {@link ProtocolError} on bad input, so callers (gossipsub validators, the DHT validator,
 * sync, the app) can branch on the class and never need to catch anything else.
 */

/** Base class of every error thrown by src/protocol. */
export class ProtocolError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** Bytes that are not a valid, canonical encoding of the expected structure. */
export class MalformedError extends ProtocolError {}

/** An input (bytes, a field, a count) is larger than the limit of §11-§14. */
export class OversizedError extends ProtocolError {}

/** A version that this code does not accept: unknown (newer) or below MIN_VERSION (a downgrade). */
export class UnsupportedVersionError extends ProtocolError {}

/** A text form's checksum did not match (a typo or a truncated paste). */
export class ChecksumError extends ProtocolError {}

/** A text form did not start with the expected prefix (e.g. a community invite given as a contact invite). */
export class InvalidPrefixError extends ProtocolError {}

/** A text form contains characters outside its alphabet or has an impossible length. */
export class InvalidEncodingError extends ProtocolError {}

/** A DHT record decoded but failed validation: wrong key, bad signature, or an inner object rejected. */
export class InvalidRecordError extends ProtocolError {}

/** An encoder or key derivation was given an argument of the wrong type, length or range. */
export class InvalidArgumentError extends ProtocolError {}

/** An envelope of a kind that does not belong on the topic it arrived on (§14.2). */
export class WrongTopicError extends ProtocolError {}

/** An envelope's timestamp is further in the future than the allowed clock skew (§14.2). */
export class TimestampError extends ProtocolError {}

/** A community envelope that fails the router check under the topic's id: sender certificate or signature (§8.5, §14.2). */
export class TopicSignatureError extends ProtocolError {}
