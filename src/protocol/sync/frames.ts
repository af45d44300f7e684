/**
 * Frames of the `/sotto/sync/1.0.0` stream (docs/PROTOCOL.md §15.7-15.8). Each frame travels as one
 * length-prefixed message (unsigned LEB128 length, then the frame); a frame is a type byte and a body.
 * Integers in bodies are big-endian and fixed-width. Decoding is strict: exact lengths, bounded counts.
 */
import { MalformedSyncMessageError, SyncLimitError } from './errors.js'
import { ID_BYTES } from './items.js'
import { DEFAULT_FRAME_SIZE_LIMIT } from './message.js'

/** The libp2p protocol id of sync, version 1. */
export const SYNC_PROTOCOL = '/sotto/sync/1.0.0'

/** Frame type bytes. */
export const FrameType = {
  Open: 0x01,
  Reconcile: 0x02,
  Want: 0x03,
  Sizes: 0x04,
  Fetch: 0x05,
  Envelopes: 0x06,
  Ack: 0x07,
  Done: 0x08,
  Reject: 0x09
} as const

/** Reason codes of a REJECT frame. */
export const RejectReason = {
  /** The responder does not serve the topic. */
  TopicNotServed: 1,
  /** The responder runs too many sessions with this peer. */
  Busy: 2,
  /** The initiator broke the protocol. */
  ProtocolError: 3
} as const

/** Largest topic id, in bytes of UTF-8. */
export const MAX_TOPIC_BYTES = 255

/** An envelope as carried by ENVELOPES frames. */
export interface EnvelopeRecord {
  readonly id: Uint8Array
  readonly bytes: Uint8Array
}

/** A decoded frame. */
export type SyncFrame =
  | { readonly type: typeof FrameType.Open; readonly topic: string; readonly message: Uint8Array }
  | { readonly type: typeof FrameType.Reconcile; readonly message: Uint8Array }
  | { readonly type: typeof FrameType.Want; readonly ids: readonly Uint8Array[] }
  | { readonly type: typeof FrameType.Sizes; readonly sizes: readonly number[] }
  | { readonly type: typeof FrameType.Fetch; readonly ids: readonly Uint8Array[] }
  | { readonly type: typeof FrameType.Envelopes; readonly envelopes: readonly EnvelopeRecord[] }
  | { readonly type: typeof FrameType.Ack; readonly stored: number }
  | { readonly type: typeof FrameType.Done }
  | { readonly type: typeof FrameType.Reject; readonly reason: number }

/** Bounds on frames (§15.8). Both sides must agree; the defaults are normative. */
export interface FrameLimits {
  /** Largest frame (type byte included), in bytes. */
  readonly maxFrameBytes: number
  /** Largest reconciliation message inside OPEN / RECONCILE. */
  readonly maxMessageBytes: number
  /** Most ids in a WANT frame (and sizes in SIZES). */
  readonly maxWantIds: number
  /** Most ids in a FETCH frame (and envelopes in an ENVELOPES frame). */
  readonly maxFetchIds: number
  /** Largest envelope. */
  readonly maxEnvelopeBytes: number
}

/** The limits of §15.8. */
export const DEFAULT_FRAME_LIMITS: FrameLimits = Object.freeze({
  maxFrameBytes: 1_048_576,
  maxMessageBytes: DEFAULT_FRAME_SIZE_LIMIT,
  maxWantIds: 1_024,
  maxFetchIds: 256,
  maxEnvelopeBytes: 262_144
})

/** Bytes an envelope takes in an ENVELOPES frame besides its own: id and u32 length. */
export const ENVELOPE_RECORD_OVERHEAD = ID_BYTES + 4

/** Bytes of an ENVELOPES frame besides its records: type byte and u16 count. */
export const ENVELOPES_FRAME_OVERHEAD = 3

const utf8Decoder = new TextDecoder('utf-8', { fatal: true })
const utf8Encoder = new TextEncoder()

/** Encodes a frame. Throws `RangeError` when a field is out of its bounds. */
export function encodeFrame(frame: SyncFrame): Uint8Array {
  switch (frame.type) {
    case FrameType.Open: {
      const topic = utf8Encoder.encode(frame.topic)
      if (topic.length < 1 || topic.length > MAX_TOPIC_BYTES) throw new RangeError('topic must be 1..255 bytes')
      return join([Uint8Array.of(frame.type, topic.length), topic, frame.message])
    }
    case FrameType.Reconcile:
      return join([Uint8Array.of(frame.type), frame.message])
    case FrameType.Want:
    case FrameType.Fetch:
      return join([Uint8Array.of(frame.type), u16(frame.ids.length), ...frame.ids.map(checkId)])
    case FrameType.Sizes:
      return join([Uint8Array.of(frame.type), u16(frame.sizes.length), ...frame.sizes.map(u32)])
    case FrameType.Envelopes: {
      const parts: Uint8Array[] = [Uint8Array.of(frame.type), u16(frame.envelopes.length)]
      for (const e of frame.envelopes) parts.push(checkId(e.id), u32(e.bytes.length), e.bytes)
      return join(parts)
    }
    case FrameType.Ack:
      return join([Uint8Array.of(frame.type), u16(frame.stored)])
    case FrameType.Done:
      return Uint8Array.of(frame.type)
    case FrameType.Reject:
      return Uint8Array.of(frame.type, frame.reason)
  }
}

/** Decodes and validates a frame. Throws a `SyncProtocolError` subclass on any defect. */
export function decodeFrame(bytes: Uint8Array, limits: FrameLimits = DEFAULT_FRAME_LIMITS): SyncFrame {
  if (bytes.length > limits.maxFrameBytes) throw new SyncLimitError(`frame of ${bytes.length} bytes exceeds ${limits.maxFrameBytes}`)
  if (bytes.length < 1) throw new MalformedSyncMessageError('empty frame')
  const type = bytes[0]!
  const body = bytes.subarray(1)
  const view = new DataView(body.buffer, body.byteOffset, body.length)
  switch (type) {
    case FrameType.Open: {
      if (body.length < 1) throw new MalformedSyncMessageError('OPEN: missing topic length')
      const len = body[0]!
      if (len < 1 || body.length < 1 + len) throw new MalformedSyncMessageError('OPEN: bad topic length')
      let topic: string
      try {
        topic = utf8Decoder.decode(body.subarray(1, 1 + len))
      } catch {
        throw new MalformedSyncMessageError('OPEN: topic is not UTF-8')
      }
      const message = body.slice(1 + len)
      if (message.length > limits.maxMessageBytes) throw new SyncLimitError('OPEN: message too large')
      return { type, topic, message }
    }
    case FrameType.Reconcile: {
      if (body.length > limits.maxMessageBytes) throw new SyncLimitError('RECONCILE: message too large')
      return { type, message: body.slice() }
    }
    case FrameType.Want:
    case FrameType.Fetch: {
      const max = type === FrameType.Want ? limits.maxWantIds : limits.maxFetchIds
      const n = count(view, max, type === FrameType.Want ? 'WANT' : 'FETCH')
      if (body.length !== 2 + n * ID_BYTES) throw new MalformedSyncMessageError('WANT/FETCH: length does not match count')
      const ids: Uint8Array[] = []
      for (let i = 0; i < n; i++) ids.push(body.slice(2 + i * ID_BYTES, 2 + (i + 1) * ID_BYTES))
      return { type, ids }
    }
    case FrameType.Sizes: {
      const n = count(view, limits.maxWantIds, 'SIZES')
      if (body.length !== 2 + 4 * n) throw new MalformedSyncMessageError('SIZES: length does not match count')
      const sizes: number[] = []
      for (let i = 0; i < n; i++) {
        const size = view.getUint32(2 + 4 * i)
        if (size > limits.maxEnvelopeBytes) throw new SyncLimitError('SIZES: envelope too large')
        sizes.push(size)
      }
      return { type, sizes }
    }
    case FrameType.Envelopes: {
      const n = count(view, limits.maxFetchIds, 'ENVELOPES', 0)
      const envelopes: EnvelopeRecord[] = []
      let o = 2
      for (let i = 0; i < n; i++) {
        if (body.length - o < ENVELOPE_RECORD_OVERHEAD) throw new MalformedSyncMessageError('ENVELOPES: truncated record')
        const id = body.slice(o, o + ID_BYTES)
        const len = view.getUint32(o + ID_BYTES)
        o += ENVELOPE_RECORD_OVERHEAD
        if (len < 1 || len > limits.maxEnvelopeBytes) throw new SyncLimitError('ENVELOPES: bad envelope length')
        if (body.length - o < len) throw new MalformedSyncMessageError('ENVELOPES: truncated envelope')
        envelopes.push({ id, bytes: body.slice(o, o + len) })
        o += len
      }
      if (o !== body.length) throw new MalformedSyncMessageError('ENVELOPES: trailing bytes')
      return { type, envelopes }
    }
    case FrameType.Ack: {
      if (body.length !== 2) throw new MalformedSyncMessageError('ACK: bad length')
      return { type, stored: view.getUint16(0) }
    }
    case FrameType.Done:
      if (body.length !== 0) throw new MalformedSyncMessageError('DONE: bad length')
      return { type }
    case FrameType.Reject:
      if (body.length !== 1) throw new MalformedSyncMessageError('REJECT: bad length')
      return { type, reason: body[0]! }
    default:
      throw new MalformedSyncMessageError(`unknown frame type ${type}`)
  }
}

function count(view: DataView, max: number, what: string, min = 1): number {
  if (view.byteLength < 2) throw new MalformedSyncMessageError(`${what}: missing count`)
  const n = view.getUint16(0)
  if (n < min) throw new MalformedSyncMessageError(`${what}: empty`)
  if (n > max) throw new SyncLimitError(`${what}: ${n} entries exceed ${max}`)
  return n
}

function checkId(id: Uint8Array): Uint8Array {
  if (id.length !== ID_BYTES) throw new RangeError('id must be 32 bytes')
  return id
}

function u16(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new RangeError('count out of range')
  return Uint8Array.of(n >>> 8, n & 0xff)
}

function u32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError('size out of range')
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

function join(parts: Uint8Array[]): Uint8Array {
  let len = 0
  for (const p of parts) len += p.length
  const out = new Uint8Array(len)
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}
