/**
 * The envelope: what travels on gossipsub topics and through sync (docs/PROTOCOL.md §11).
 *
 * Every envelope is encoded canonically (§11.1) and padded so that its encoded length is exactly one of
 * ENVELOPE_BUCKETS (§11.3). decodeEnvelope accepts only what encodeEnvelope would produce for the same
 * fields: anything else (unknown fields or kinds, a lowered or unknown version, a size that is not a
 * bucket, non-zero or non-minimal padding, non-minimal varints, fields out of order) is rejected with a
 * ProtocolError subclass, so one envelope has exactly one encoding and therefore one id.
 */
import { MAX_SEALED_BYTES, MIN_SEALED_BYTES } from '../crypto/community.js'
import { blake2b } from '../crypto/primitives.js'
import { ENCRYPTED_HEADER_BYTES } from '../crypto/ratchet-kdf.js'
import { MAX_INITIAL_HEADER_BYTES } from '../crypto/x3dh.js'
import { InvalidArgumentError, MalformedError, OversizedError } from './errors.js'
import { Envelope as EnvelopeCodec, EnvelopeKind as KindCodec } from './gen/envelope.js'
import {
  CanonicalReader,
  checkVersion,
  guard,
  messageRule,
  peekVersion,
  protonsView,
  sameBytes,
  scanMessage,
  WIRE_LEN,
  WIRE_VARINT
} from './wire.js'

/** The envelope version this code writes (§11.2). */
export const ENVELOPE_VERSION = 1
/** The lowest envelope version this code accepts; anything lower is a downgrade and rejected. */
export const MIN_ENVELOPE_VERSION = 1

/** Encoded envelope sizes, ascending (§11.3). Every encoded envelope is exactly one of these long. */
export const ENVELOPE_BUCKETS: readonly number[] = Object.freeze([
  512, 1024, 2048, 4096, 8192, 16384, 32768, 65536
])
/**
 * The largest encoded envelope: the largest bucket, equal to the node's gossipsub maxMessageSize (§14.12).
 * Decoders reject longer input before parsing.
 */
export const MAX_ENVELOPE_BYTES = 65536
/** Largest X3DH/PQXDH initial header carried by a DIRECT_PREKEY envelope (§4: 1279 bytes). */
export const MAX_PREKEY_HEADER_BYTES = MAX_INITIAL_HEADER_BYTES
/** Length of an encrypted ratchet header (§5.5: 81 bytes); the envelope accepts no other length. */
export const RATCHET_HEADER_BYTES = ENCRYPTED_HEADER_BYTES
/** Smallest and largest sealed community message (§8.5: 441 and 65721 bytes). */
export const MIN_COMMUNITY_SEALED_BYTES = MIN_SEALED_BYTES
export const MAX_COMMUNITY_SEALED_BYTES = MAX_SEALED_BYTES
/** Envelope timestamps are Unix milliseconds rounded down to a whole second (§11.2). */
export const TIMESTAMP_GRANULARITY_MS = 1000
/** Length of an envelope id, BLAKE2b-256 of the encoded envelope (§11.5). */
export const ENVELOPE_ID_BYTES = 32

/** The three kinds of envelope (§11.2). */
export type EnvelopeKind = 'direct-prekey' | 'direct' | 'community'

/** The first 1:1 message of a session: the initial header of §4, then a ratchet message of §5. */
export interface DirectPrekeyEnvelope {
  kind: 'direct-prekey'
  /** Unix ms, a multiple of TIMESTAMP_GRANULARITY_MS, > 0. */
  timestamp: number
  prekeyHeader: Uint8Array
  ratchetHeader: Uint8Array
  ciphertext: Uint8Array
}

/** A later 1:1 message: a ratchet message of §5 (encrypted header and ciphertext). */
export interface DirectEnvelope {
  kind: 'direct'
  timestamp: number
  ratchetHeader: Uint8Array
  ciphertext: Uint8Array
}

/** A community message: the sealed, topic-signed bytes of §8. */
export interface CommunityEnvelope {
  kind: 'community'
  timestamp: number
  sealed: Uint8Array
}

/** Any envelope, as given to encodeEnvelope and returned by decodeEnvelope. */
export type Envelope = DirectPrekeyEnvelope | DirectEnvelope | CommunityEnvelope

const KIND_TO_WIRE: Record<EnvelopeKind, KindCodec> = {
  'direct-prekey': KindCodec.DIRECT_PREKEY,
  direct: KindCodec.DIRECT,
  community: KindCodec.COMMUNITY
}

const ENVELOPE_RULE = messageRule('Envelope', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_VARINT },
  3: { wire: WIRE_VARINT },
  4: { wire: WIRE_LEN, maxBytes: MAX_PREKEY_HEADER_BYTES },
  5: { wire: WIRE_LEN, maxBytes: RATCHET_HEADER_BYTES },
  6: { wire: WIRE_LEN, maxBytes: MAX_ENVELOPE_BYTES },
  15: { wire: WIRE_LEN, maxBytes: MAX_ENVELOPE_BYTES }
})

function varintLength(n: number): number {
  let len = 1
  while (n >= 0x80) {
    n = Math.floor(n / 128)
    len++
  }
  return len
}

/**
 * The number of padding bytes k such that a padding field (tag 0x7a, varint k, k zero bytes) adds exactly
 * `gap` bytes; 0 when gap is 0; undefined when no k >= 1 does (gaps 1, 2, 130, 16387, ...).
 */
export function paddingForGap(gap: number): number | undefined {
  if (gap === 0) return 0
  for (let lenBytes = 1; lenBytes <= 3; lenBytes++) {
    const k = gap - 1 - lenBytes
    if (k >= 1 && varintLength(k) === lenBytes) return k
  }
  return undefined
}

function checkTimestamp(timestamp: unknown): asserts timestamp is number {
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp) || timestamp <= 0) {
    throw new InvalidArgumentError('timestamp must be a positive safe integer (Unix ms)')
  }
  if (timestamp % TIMESTAMP_GRANULARITY_MS !== 0) {
    throw new InvalidArgumentError(`timestamp must be a multiple of ${TIMESTAMP_GRANULARITY_MS} ms (use coarseTimestamp)`)
  }
}

function checkField(name: string, value: unknown, max: number, min = 1): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`${name} must be a Uint8Array`)
  if (value.length > max) throw new OversizedError(`${name} is ${value.length} bytes, limit ${max}`)
  if (value.length < min) throw new InvalidArgumentError(`${name} is ${value.length} bytes, expected at least ${min}`)
}

/** Rounds Unix milliseconds down to the envelope timestamp granularity (§11.2). */
export function coarseTimestamp(ms: number = Date.now()): number {
  if (!Number.isFinite(ms) || ms < TIMESTAMP_GRANULARITY_MS) {
    throw new InvalidArgumentError('ms must be a Unix time in milliseconds')
  }
  return Math.floor(ms / TIMESTAMP_GRANULARITY_MS) * TIMESTAMP_GRANULARITY_MS
}

/**
 * Encodes an envelope canonically and pads it to the smallest reachable bucket (§11.3).
 * Throws InvalidArgumentError on a bad field and OversizedError when no bucket is large enough.
 */
export function encodeEnvelope(envelope: Envelope): Uint8Array {
  if (typeof envelope !== 'object' || envelope === null) throw new InvalidArgumentError('envelope must be an object')
  checkTimestamp(envelope.timestamp)
  const fields = {
    version: ENVELOPE_VERSION,
    kind: KIND_TO_WIRE[envelope.kind],
    timestamp: BigInt(envelope.timestamp),
    prekeyHeader: new Uint8Array(0),
    ratchetHeader: new Uint8Array(0),
    ciphertext: new Uint8Array(0),
    padding: new Uint8Array(0)
  }
  switch (envelope.kind) {
    case 'direct-prekey':
      checkField('prekeyHeader', envelope.prekeyHeader, MAX_PREKEY_HEADER_BYTES)
      checkField('ratchetHeader', envelope.ratchetHeader, RATCHET_HEADER_BYTES, RATCHET_HEADER_BYTES)
      checkField('ciphertext', envelope.ciphertext, MAX_ENVELOPE_BYTES)
      fields.prekeyHeader = envelope.prekeyHeader as Uint8Array<ArrayBuffer>
      fields.ratchetHeader = envelope.ratchetHeader as Uint8Array<ArrayBuffer>
      fields.ciphertext = envelope.ciphertext as Uint8Array<ArrayBuffer>
      break
    case 'direct':
      checkField('ratchetHeader', envelope.ratchetHeader, RATCHET_HEADER_BYTES, RATCHET_HEADER_BYTES)
      checkField('ciphertext', envelope.ciphertext, MAX_ENVELOPE_BYTES)
      fields.ratchetHeader = envelope.ratchetHeader as Uint8Array<ArrayBuffer>
      fields.ciphertext = envelope.ciphertext as Uint8Array<ArrayBuffer>
      break
    case 'community':
      checkField('sealed', envelope.sealed, MAX_COMMUNITY_SEALED_BYTES, MIN_COMMUNITY_SEALED_BYTES)
      fields.ciphertext = envelope.sealed as Uint8Array<ArrayBuffer>
      break
    default:
      throw new InvalidArgumentError('unknown envelope kind')
  }
  const unpadded = EnvelopeCodec.encode(fields)
  for (const bucket of ENVELOPE_BUCKETS) {
    if (bucket < unpadded.length) continue
    const k = paddingForGap(bucket - unpadded.length)
    if (k === undefined) continue
    if (k === 0) return unpadded
    const out = EnvelopeCodec.encode({ ...fields, padding: new Uint8Array(k) })
    if (out.length !== bucket) throw new Error('envelope padding arithmetic failed') // unreachable
    return out
  }
  throw new OversizedError(`envelope of ${unpadded.length} bytes exceeds the largest bucket ${MAX_ENVELOPE_BYTES}`)
}

function nonEmpty(name: string, value: Uint8Array, min = 1, max = MAX_ENVELOPE_BYTES): Uint8Array {
  if (value.length === 0) throw new MalformedError(`Envelope: ${name} missing`)
  if (value.length < min || value.length > max) throw new MalformedError(`Envelope: ${name} has a bad length`)
  return value
}

function absent(name: string, value: Uint8Array): void {
  if (value.length !== 0) throw new MalformedError(`Envelope: ${name} not allowed for this kind`)
}

/**
 * Decodes and validates an encoded envelope (§11). Bounded: rejects input longer than MAX_ENVELOPE_BYTES
 * before parsing. Throws only ProtocolError subclasses: OversizedError, UnsupportedVersionError,
 * MalformedError.
 */
export function decodeEnvelope(bytes: Uint8Array): Envelope {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('Envelope: not bytes')
  return decodeCanonicalEnvelope(bytes) ?? decodeEnvelopeFully(bytes)
}

/**
 * The fast path of decodeEnvelope, for the only bytes it accepts: the canonical encoding of an envelope,
 * exactly as encodeEnvelope writes it (tags 0x08 0x10 0x18 [0x22] [0x2a] 0x32 [0x7a] in that order, each
 * one byte, minimal varints, version ENVELOPE_VERSION, exactly the fields of the kind, all-zero padding of
 * the length that puts the envelope in its smallest reachable bucket). For them it returns what the full
 * decoder returns, without the generated codec and the re-encoding. Anything else gives undefined (it
 * never throws), and decodeEnvelope decodes it in full, to accept it or to find the exact error.
 */
export function decodeCanonicalEnvelope(bytes: Uint8Array): Envelope | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined
  const n = bytes.length
  if (!ENVELOPE_BUCKETS.includes(n)) return undefined
  const view = protonsView(bytes)
  const r = new CanonicalReader(view, 0, n)
  if (!r.byte(0x08) || r.varint(5) !== ENVELOPE_VERSION || !r.byte(0x10)) return undefined
  const kind = r.varint(1)
  if (kind !== 1 && kind !== 2 && kind !== 3) return undefined
  if (!r.byte(0x18)) return undefined
  const timestamp = r.varint(8)
  if (timestamp <= 0 || timestamp > Number.MAX_SAFE_INTEGER || timestamp % TIMESTAMP_GRANULARITY_MS !== 0) return undefined
  let prekeyStart = -1
  let prekeyEnd = -1
  if (kind === 1) {
    if (!r.byte(0x22) || (prekeyStart = r.payload(1, MAX_PREKEY_HEADER_BYTES)) < 0) return undefined
    prekeyEnd = r.pos
  }
  let ratchetStart = -1
  if (kind !== 3) {
    if (!r.byte(0x2a) || (ratchetStart = r.payload(RATCHET_HEADER_BYTES, RATCHET_HEADER_BYTES)) < 0) return undefined
  }
  if (!r.byte(0x32)) return undefined
  const ciphertextStart =
    kind === 3 ? r.payload(MIN_COMMUNITY_SEALED_BYTES, Math.min(MAX_COMMUNITY_SEALED_BYTES, MAX_ENVELOPE_BYTES)) : r.payload(1, MAX_ENVELOPE_BYTES)
  if (ciphertextStart < 0) return undefined
  // The padding encodeEnvelope adds to these fields: the first bucket reachable from the unpadded length.
  const unpadded = r.pos
  let k: number | undefined
  for (const bucket of ENVELOPE_BUCKETS) {
    if (bucket < unpadded) continue
    k = paddingForGap(bucket - unpadded)
    if (k === undefined) continue
    if (bucket !== n) return undefined
    break
  }
  if (k === undefined) return undefined
  if (k > 0) {
    if (!r.byte(0x7a) || r.varint(3) !== k || n - r.pos !== k) return undefined
    for (let i = r.pos; i < n; i++) if (view[i] !== 0) return undefined
  } else if (r.pos !== n) {
    return undefined
  }
  // Same views, same copies as the full decoder (raw field .slice()).
  const ciphertext = view.subarray(ciphertextStart, unpadded).slice()
  if (kind === 3) return { kind: 'community', timestamp, sealed: ciphertext }
  const ratchetHeader = view.subarray(ratchetStart, ratchetStart + RATCHET_HEADER_BYTES).slice()
  if (kind === 2) return { kind: 'direct', timestamp, ratchetHeader, ciphertext }
  return { kind: 'direct-prekey', timestamp, prekeyHeader: view.subarray(prekeyStart, prekeyEnd).slice(), ratchetHeader, ciphertext }
}

/**
 * The full decoder: every check of §11 in turn; decodes whatever the fast path leaves to it.
 * Exported for the tests, which check the fast path against it (@internal).
 */
export function decodeEnvelopeFully(bytes: Uint8Array): Envelope {
  if (bytes.length > MAX_ENVELOPE_BYTES) {
    throw new OversizedError(`Envelope: ${bytes.length} bytes, limit ${MAX_ENVELOPE_BYTES}`)
  }
  checkVersion('Envelope', peekVersion(bytes, 'Envelope'), MIN_ENVELOPE_VERSION, ENVELOPE_VERSION)
  if (!ENVELOPE_BUCKETS.includes(bytes.length)) throw new MalformedError(`Envelope: size ${bytes.length} is not a bucket`)
  scanMessage(bytes, ENVELOPE_RULE)
  const raw = guard('Envelope', () => EnvelopeCodec.decode(bytes))
  if (raw.timestamp > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError('Envelope: timestamp out of range')
  const timestamp = Number(raw.timestamp)
  if (timestamp === 0 || timestamp % TIMESTAMP_GRANULARITY_MS !== 0) throw new MalformedError('Envelope: bad timestamp')
  let envelope: Envelope
  switch (raw.kind) {
    case KindCodec.DIRECT_PREKEY:
      envelope = {
        kind: 'direct-prekey',
        timestamp,
        prekeyHeader: nonEmpty('prekeyHeader', raw.prekeyHeader).slice(),
        ratchetHeader: nonEmpty('ratchetHeader', raw.ratchetHeader, RATCHET_HEADER_BYTES).slice(),
        ciphertext: nonEmpty('ciphertext', raw.ciphertext).slice()
      }
      break
    case KindCodec.DIRECT:
      absent('prekeyHeader', raw.prekeyHeader)
      envelope = {
        kind: 'direct',
        timestamp,
        ratchetHeader: nonEmpty('ratchetHeader', raw.ratchetHeader, RATCHET_HEADER_BYTES).slice(),
        ciphertext: nonEmpty('ciphertext', raw.ciphertext).slice()
      }
      break
    case KindCodec.COMMUNITY:
      absent('prekeyHeader', raw.prekeyHeader)
      absent('ratchetHeader', raw.ratchetHeader)
      envelope = { kind: 'community', timestamp, sealed: nonEmpty('sealed', raw.ciphertext, MIN_COMMUNITY_SEALED_BYTES, MAX_COMMUNITY_SEALED_BYTES).slice() }
      break
    default:
      throw new MalformedError('Envelope: unknown kind')
  }
  // Canonical check: the only accepted encoding is the one encodeEnvelope produces (incl. the padding).
  const again = guard('Envelope', () => encodeEnvelope(envelope))
  if (!sameBytes(again, bytes)) throw new MalformedError('Envelope: non-canonical encoding')
  return envelope
}

/** The envelope id (§11.5): BLAKE2b-256 of the encoded envelope; the gossipsub message id and sync id. */
export function envelopeId(encoded: Uint8Array): Uint8Array {
  if (!(encoded instanceof Uint8Array)) throw new InvalidArgumentError('encoded must be a Uint8Array')
  return blake2b(encoded, ENVELOPE_ID_BYTES)
}
