/**
 * DHT record formats and key derivations (docs/PROTOCOL.md §13, record half). The node registers
 * {@link validatePrekeyRecord} and {@link selectPrekeyRecord} with kad-dht under the namespace
 * {@link PREKEY_RECORD_NAMESPACE}, and announces community rendezvous under {@link rendezvousKey} (§13.11).
 */
import { rendezvousKeyOf } from '../crypto/community.js'
import { CryptoError } from '../crypto/errors.js'
import { isNewer, MAX_BUNDLE_BYTES, PrekeyBundle } from '../crypto/prekeys.js'
import { blake2b, concatBytes, equalBytes, ED25519_PUBLIC_BYTES, toHex, utf8 } from '../crypto/primitives.js'
import { InvalidArgumentError, InvalidRecordError, MalformedError, OversizedError, ProtocolError } from './errors.js'
import { PrekeyRecord as PrekeyRecordCodec } from './gen/records.js'
import { checkVersion, guard, messageRule, peekVersion, sameBytes, scanMessage, WIRE_LEN, WIRE_VARINT } from './wire.js'

/** The prekey record version this code writes. */
export const PREKEY_RECORD_VERSION = 1
/** The lowest prekey record version accepted (lower is a downgrade). */
export const MIN_PREKEY_RECORD_VERSION = 1
/** The kad-dht namespace (first key path segment) of prekey records. */
export const PREKEY_RECORD_NAMESPACE = 'sotto-prekeys'
/** Label hashed before the identity key to make the record key (§13.1). */
export const PREKEY_RECORD_KEY_LABEL = 'sotto/1/prekey-record'
/** Largest encoded prekey record: a maximal bundle (§3) plus the wrapper's tags and lengths. */
export const MAX_PREKEY_RECORD_BYTES = MAX_BUNDLE_BYTES + 8
/** Largest DHT key this module parses. */
const MAX_KEY_BYTES = 128
/** Most records a selector looks at; kad-dht passes at most a handful. */
export const MAX_SELECT_RECORDS = 64

const RECORD_RULE = messageRule('PrekeyRecord', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_LEN, maxBytes: MAX_BUNDLE_BYTES }
})

function checkSigningKey(signingKey: unknown): asserts signingKey is Uint8Array {
  if (!(signingKey instanceof Uint8Array) || signingKey.length !== ED25519_PUBLIC_BYTES) {
    throw new InvalidArgumentError(`identity signing key must be ${ED25519_PUBLIC_BYTES} bytes`)
  }
}

/**
 * The DHT key of a user's prekey record (§13.1): the UTF-8 bytes of
 * `"/sotto-prekeys/" || hex(B2b("sotto/1/prekey-record" || signingKey, 32))`.
 */
export function prekeyRecordKey(signingKey: Uint8Array): Uint8Array {
  checkSigningKey(signingKey)
  const digest = blake2b(concatBytes(utf8(PREKEY_RECORD_KEY_LABEL), signingKey), 32)
  return utf8(`/${PREKEY_RECORD_NAMESPACE}/${toHex(digest)}`)
}

/** Wraps an encoded prekey bundle (§3) into a version-1 prekey record (§13.1). */
export function encodePrekeyRecord(bundle: Uint8Array): Uint8Array {
  if (!(bundle instanceof Uint8Array) || bundle.length === 0) throw new InvalidArgumentError('bundle must be non-empty bytes')
  if (bundle.length > MAX_BUNDLE_BYTES) throw new OversizedError(`bundle over ${MAX_BUNDLE_BYTES} bytes`)
  return PrekeyRecordCodec.encode({ version: PREKEY_RECORD_VERSION, bundle: bundle as Uint8Array<ArrayBuffer> })
}

/**
 * Decodes a prekey record's wrapper only (§13.1): returns the bundle bytes, not yet checked.
 * Throws OversizedError, UnsupportedVersionError or MalformedError.
 */
export function decodePrekeyRecord(value: Uint8Array): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new MalformedError('PrekeyRecord: not bytes')
  if (value.length > MAX_PREKEY_RECORD_BYTES) throw new OversizedError(`PrekeyRecord: ${value.length} bytes, limit ${MAX_PREKEY_RECORD_BYTES}`)
  checkVersion('PrekeyRecord', peekVersion(value, 'PrekeyRecord'), MIN_PREKEY_RECORD_VERSION, PREKEY_RECORD_VERSION)
  scanMessage(value, RECORD_RULE)
  const raw = guard('PrekeyRecord', () => PrekeyRecordCodec.decode(value))
  if (raw.bundle.length === 0) throw new MalformedError('PrekeyRecord: bundle missing')
  const again = encodePrekeyRecord(raw.bundle)
  if (!sameBytes(again, value)) throw new MalformedError('PrekeyRecord: non-canonical encoding')
  return raw.bundle.slice()
}

/**
 * The kad-dht validator (§13.1): decodes the record and the bundle inside (every signature and key is
 * checked by PrekeyBundle.decode) and checks that `key` is prekeyRecordKey of the bundle's identity.
 * Returns the bundle. Throws only ProtocolError subclasses (InvalidRecordError for a bundle that the
 * crypto layer rejects or a key that does not match).
 */
export function validatePrekeyRecord(key: Uint8Array, value: Uint8Array): PrekeyBundle {
  if (!(key instanceof Uint8Array) || key.length > MAX_KEY_BYTES) throw new InvalidRecordError('prekey record key malformed')
  const bundleBytes = decodePrekeyRecord(value)
  // Cheap check first (DHT flooding): a §3 bundle starts u8(version) || u8(1) || signingKey[32] || ...
  if (bundleBytes.length < 34 || !equalBytes(prekeyRecordKey(bundleBytes.subarray(2, 34)), key)) {
    throw new InvalidRecordError('prekey record stored under another identity key')
  }
  let bundle: PrekeyBundle
  try {
    bundle = PrekeyBundle.decode(bundleBytes)
  } catch (err) {
    if (err instanceof CryptoError) throw new InvalidRecordError(`prekey bundle rejected: ${err.message}`)
    throw new InvalidRecordError('prekey bundle rejected')
  }
  if (!equalBytes(prekeyRecordKey(bundle.identity.signingKey), key)) {
    throw new InvalidRecordError('prekey record stored under another identity key')
  }
  return bundle
}

/**
 * The kad-dht selector (§13.1): the index of the best valid record in `records`: highest sequence, then
 * latest createdAt, then greatest encoding (PrekeyBundle `isNewer`). Invalid records are never chosen.
 * Throws InvalidRecordError when none is valid.
 */
export function selectPrekeyRecord(key: Uint8Array, records: readonly Uint8Array[]): number {
  let best = -1
  let bestBundle: PrekeyBundle | undefined
  const n = Math.min(records.length, MAX_SELECT_RECORDS)
  for (let i = 0; i < n; i++) {
    let bundle: PrekeyBundle
    try {
      bundle = validatePrekeyRecord(key, records[i]!)
    } catch (err) {
      if (err instanceof ProtocolError) continue
      throw err
    }
    if (bestBundle === undefined || isNewer(bundle, bestBundle)) {
      best = i
      bestBundle = bundle
    }
  }
  if (best < 0) throw new InvalidRecordError('no valid prekey record')
  return best
}

/**
 * The community rendezvous key K of a topic id (§8.2, §13.2): SHA-256("sotto/community/v1/rendezvous" || topicId).
 * The node announces and finds members under CID(K) (§13.11).
 */
export function rendezvousKey(topicId: Uint8Array): Uint8Array {
  if (!(topicId instanceof Uint8Array) || topicId.length !== 32) throw new InvalidArgumentError('topicId must be 32 bytes')
  return rendezvousKeyOf(topicId)
}
