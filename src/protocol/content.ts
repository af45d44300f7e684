/**
 * Content: the plaintext inside the encryption (docs/PROTOCOL.md §11.4). It is encoded here, then padded
 * (src/crypto/padding.ts, §9), then encrypted by the ratchet (§5) or sealed for a community (§8). After
 * decryption and unpadding, decodeContent validates every field; like every decoder in src/protocol it
 * accepts only the canonical encoding and throws only ProtocolError subclasses.
 */
import { InvalidArgumentError, MalformedError, OversizedError, type ProtocolError } from './errors.js'
import { Content as ContentCodec, ReceiptKind as ReceiptCodec } from './gen/content.js'
import {
  CanonicalReader,
  checkVersion,
  guard,
  isWellFormed,
  messageRule,
  peekVersion,
  protonsView,
  sameBytes,
  scanMessage,
  utf8Length,
  WIRE_LEN,
  WIRE_VARINT
} from './wire.js'

/** The content version this code writes. */
export const CONTENT_VERSION = 1
/** The lowest content version accepted (lower is a downgrade). */
export const MIN_CONTENT_VERSION = 1
/**
 * The largest encoded content (§11.4). With it, a padded plaintext (§9) is at most 32768 bytes, also
 * inside a community message with its 181-byte inner header (§8.4), so every envelope fits in 65536 bytes.
 */
export const MAX_CONTENT_BYTES = 32000
/** A message id: 16 random bytes chosen by the sender. */
export const MESSAGE_ID_BYTES = 16
/** Largest text body, in UTF-8 bytes. */
export const MAX_TEXT_BYTES = 16384
/** Most message ids in one receipt. */
export const MAX_RECEIPT_IDS = 256
/** Largest display name, in UTF-8 bytes (also used by contact invites, §12). */
export const MAX_DISPLAY_NAME_BYTES = 64
/** Most relay addresses in a profile (also used by contact invites, §12). */
export const MAX_RELAYS = 8
/** Largest binary multiaddr accepted anywhere in src/protocol. */
export const MAX_ADDRESS_BYTES = 128
/** Largest epoch key grant (§8 bytes, opaque here). */
export const MAX_GRANT_BYTES = 16384
/** Largest community control statement (§8 bytes, opaque here). */
export const MAX_CONTROL_BYTES = 16384

/** A text message. */
export interface TextContent {
  type: 'text'
  body: string
  /** The sender's clock, Unix ms (inside the encryption, so not coarsened). */
  sentAt: number
  messageId: Uint8Array
}

/** A delivery or read receipt for one or more messages. */
export interface ReceiptContent {
  type: 'receipt'
  receipt: 'delivered' | 'read'
  messageIds: Uint8Array[]
}

/** A community epoch key grant (§8), sent to a remaining member over the 1:1 session. */
export interface EpochKeyGrantContent {
  type: 'epoch-key-grant'
  grant: Uint8Array
}

/** A community control statement (§8): admin changes, removals, rotations. */
export interface ControlStatementContent {
  type: 'control-statement'
  statement: Uint8Array
}

/** A contact request or profile update: the sender's display name and relays. */
export interface ProfileContent {
  type: 'profile'
  displayName: string
  /** Binary multiaddrs of the relays the sender uses. */
  relays: Uint8Array[]
}

/** Any content. */
export type Content = TextContent | ReceiptContent | EpochKeyGrantContent | ControlStatementContent | ProfileContent

/** The class of error to throw: InvalidArgumentError for the caller's input, MalformedError for the wire's. */
export type ErrorClass = new (message: string) => ProtocolError

const TEXT_RULE = messageRule('Text', {
  1: { wire: WIRE_LEN, maxBytes: MAX_TEXT_BYTES },
  2: { wire: WIRE_VARINT },
  3: { wire: WIRE_LEN, maxBytes: MESSAGE_ID_BYTES }
})
const RECEIPT_RULE = messageRule('Receipt', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_LEN, maxBytes: MESSAGE_ID_BYTES, maxCount: MAX_RECEIPT_IDS }
})
const PROFILE_RULE = messageRule('Profile', {
  1: { wire: WIRE_LEN, maxBytes: MAX_DISPLAY_NAME_BYTES },
  2: { wire: WIRE_LEN, maxBytes: MAX_ADDRESS_BYTES, maxCount: MAX_RELAYS }
})
const CONTENT_RULE = messageRule('Content', {
  1: { wire: WIRE_VARINT },
  2: { wire: WIRE_LEN, maxBytes: MAX_CONTENT_BYTES, message: TEXT_RULE },
  3: { wire: WIRE_LEN, maxBytes: MAX_CONTENT_BYTES, message: RECEIPT_RULE },
  4: { wire: WIRE_LEN, maxBytes: MAX_GRANT_BYTES },
  5: { wire: WIRE_LEN, maxBytes: MAX_CONTROL_BYTES },
  6: { wire: WIRE_LEN, maxBytes: MAX_CONTENT_BYTES, message: PROFILE_RULE }
})

// C0 controls and DEL: a name must not be able to rewrite a terminal line.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL_CHARS = /[\u0000-\u001f\u007f]/

/** Throws unless `name` is a display name (§11.4): UTF-8 <= MAX_DISPLAY_NAME_BYTES, no C0/DEL controls. */
export function checkDisplayName(name: unknown, Err: ErrorClass = InvalidArgumentError): asserts name is string {
  if (typeof name !== 'string' || !isWellFormed(name)) throw new Err('display name must be a well-formed string')
  if (utf8Length(name) > MAX_DISPLAY_NAME_BYTES) throw new OversizedError(`display name over ${MAX_DISPLAY_NAME_BYTES} bytes`)
  if (CONTROL_CHARS.test(name)) throw new Err('display name contains control characters')
}

/** Throws unless `list` holds at most `maxCount` byte strings of 1..MAX_ADDRESS_BYTES bytes each. */
export function checkAddresses(
  what: string,
  list: unknown,
  maxCount: number,
  Err: ErrorClass = InvalidArgumentError
): asserts list is Uint8Array[] {
  if (!Array.isArray(list)) throw new Err(`${what} must be an array`)
  if (list.length > maxCount) throw new OversizedError(`${what}: more than ${maxCount}`)
  for (const a of list) {
    if (!(a instanceof Uint8Array) || a.length === 0) throw new Err(`${what}: each must be non-empty bytes`)
    if (a.length > MAX_ADDRESS_BYTES) throw new OversizedError(`${what}: an address over ${MAX_ADDRESS_BYTES} bytes`)
  }
}

function checkBytesField(
  name: string,
  value: unknown,
  min: number,
  max: number,
  Err: ErrorClass
): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new Err(`${name} must be bytes`)
  if (value.length > max) throw new OversizedError(`${name} is ${value.length} bytes, limit ${max}`)
  if (value.length < min) throw new Err(`${name} is ${value.length} bytes, expected at least ${min}`)
}

/** Validates a Content value; `Err` is the class for non-size problems (caller's or the wire's fault). */
function validateContent(c: Content, Err: ErrorClass): void {
  switch (c.type) {
    case 'text':
      if (typeof c.body !== 'string' || c.body.length === 0 || !isWellFormed(c.body)) {
        throw new Err('text body must be a non-empty, well-formed string')
      }
      if (utf8Length(c.body) > MAX_TEXT_BYTES) throw new OversizedError(`text body over ${MAX_TEXT_BYTES} bytes`)
      if (typeof c.sentAt !== 'number' || !Number.isSafeInteger(c.sentAt) || c.sentAt <= 0) {
        throw new Err('sentAt must be a positive safe integer')
      }
      checkBytesField('messageId', c.messageId, MESSAGE_ID_BYTES, MESSAGE_ID_BYTES, Err)
      return
    case 'receipt':
      if (c.receipt !== 'delivered' && c.receipt !== 'read') throw new Err('receipt must be delivered or read')
      if (!Array.isArray(c.messageIds) || c.messageIds.length === 0) throw new Err('receipt needs message ids')
      if (c.messageIds.length > MAX_RECEIPT_IDS) throw new OversizedError(`receipt over ${MAX_RECEIPT_IDS} ids`)
      for (const id of c.messageIds) checkBytesField('messageId', id, MESSAGE_ID_BYTES, MESSAGE_ID_BYTES, Err)
      return
    case 'epoch-key-grant':
      checkBytesField('grant', c.grant, 1, MAX_GRANT_BYTES, Err)
      return
    case 'control-statement':
      checkBytesField('statement', c.statement, 1, MAX_CONTROL_BYTES, Err)
      return
    case 'profile':
      checkDisplayName(c.displayName, Err)
      checkAddresses('relays', c.relays, MAX_RELAYS, Err)
      return
    default:
      throw new Err('unknown content type')
  }
}

/** Encodes content canonically (§11.4). Throws InvalidArgumentError or OversizedError on bad input. */
export function encodeContent(content: Content): Uint8Array {
  if (typeof content !== 'object' || content === null) throw new InvalidArgumentError('content must be an object')
  validateContent(content, InvalidArgumentError)
  const base = { version: CONTENT_VERSION }
  let out: Uint8Array
  switch (content.type) {
    case 'text':
      out = ContentCodec.encode({
        ...base,
        text: { body: content.body, sentAt: BigInt(content.sentAt), messageId: content.messageId as Uint8Array<ArrayBuffer> }
      })
      break
    case 'receipt':
      out = ContentCodec.encode({
        ...base,
        receipt: {
          kind: content.receipt === 'delivered' ? ReceiptCodec.DELIVERED : ReceiptCodec.READ,
          messageIds: content.messageIds as Array<Uint8Array<ArrayBuffer>>
        }
      })
      break
    case 'epoch-key-grant':
      out = ContentCodec.encode({ ...base, epochKeyGrant: content.grant as Uint8Array<ArrayBuffer> })
      break
    case 'control-statement':
      out = ContentCodec.encode({ ...base, controlStatement: content.statement as Uint8Array<ArrayBuffer> })
      break
    case 'profile':
      out = ContentCodec.encode({
        ...base,
        profile: { displayName: content.displayName, relays: content.relays as Array<Uint8Array<ArrayBuffer>> }
      })
      break
  }
  if (out.length > MAX_CONTENT_BYTES) throw new OversizedError(`content is ${out.length} bytes, limit ${MAX_CONTENT_BYTES}`)
  return out
}

/** Decodes and validates content (§11.4): bounded, canonical only, throws only ProtocolError subclasses. */
export function decodeContent(bytes: Uint8Array): Content {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('Content: not bytes')
  return decodeCanonicalContent(bytes) ?? decodeContentFully(bytes)
}

// Well-formed UTF-8 only (fatal), and a leading U+FEFF is kept as a character, as protons reads it.
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function strictUtf8(bytes: Uint8Array): string | undefined {
  try {
    return STRICT_UTF8.decode(bytes)
  } catch {
    return undefined
  }
}

/**
 * The fast path of decodeContent for its two common types, text and receipt, in the only encoding it
 * accepts: the canonical one, exactly as encodeContent writes it (version CONTENT_VERSION, one-byte tags in
 * field order, minimal varints, well-formed UTF-8, every field present and in range). For those bytes it
 * returns what the full decoder returns, without the generated codec and the re-encoding. Anything else
 * gives undefined (it never throws), and decodeContent decodes it in full, to accept it or find the error.
 */
export function decodeCanonicalContent(bytes: Uint8Array): Content | undefined {
  if (!(bytes instanceof Uint8Array)) return undefined
  const n = bytes.length
  if (n > MAX_CONTENT_BYTES) return undefined
  const view = protonsView(bytes)
  const r = new CanonicalReader(view, 0, n)
  if (!r.byte(0x08) || r.varint(5) !== CONTENT_VERSION) return undefined
  if (r.byte(0x12)) {
    // Text { body = 1, sent_at = 2, message_id = 3 }: the last field, so it runs to the end.
    if (r.varint(3) !== n - r.pos || !r.byte(0x0a)) return undefined
    const bodyStart = r.payload(1, MAX_TEXT_BYTES)
    if (bodyStart < 0) return undefined
    const bodyEnd = r.pos
    if (!r.byte(0x10)) return undefined
    const sentAt = r.varint(8)
    if (sentAt <= 0 || sentAt > Number.MAX_SAFE_INTEGER || !r.byte(0x1a)) return undefined
    const idStart = r.payload(MESSAGE_ID_BYTES, MESSAGE_ID_BYTES)
    if (idStart < 0 || r.pos !== n) return undefined
    const body = strictUtf8(view.subarray(bodyStart, bodyEnd))
    if (body === undefined) return undefined
    return { type: 'text', body, sentAt, messageId: view.subarray(idStart, n).slice() }
  }
  if (r.byte(0x1a)) {
    // Receipt { kind = 1 (DELIVERED 1, READ 2), message_ids = 2 (1..MAX_RECEIPT_IDS) }, also the last field.
    if (r.varint(3) !== n - r.pos || !r.byte(0x08)) return undefined
    const kind = r.varint(1)
    if (kind !== 1 && kind !== 2) return undefined
    const messageIds: Uint8Array[] = []
    while (r.pos < n) {
      if (messageIds.length === MAX_RECEIPT_IDS || !r.byte(0x12)) return undefined
      const idStart = r.payload(MESSAGE_ID_BYTES, MESSAGE_ID_BYTES)
      if (idStart < 0) return undefined
      messageIds.push(view.subarray(idStart, r.pos).slice())
    }
    if (messageIds.length === 0) return undefined
    return { type: 'receipt', receipt: kind === 1 ? 'delivered' : 'read', messageIds }
  }
  return undefined
}

/**
 * The full decoder: scan, generated codec, field checks, re-encoding; decodes what the fast path leaves.
 * Exported for the tests, which check the fast path against it (@internal).
 */
export function decodeContentFully(bytes: Uint8Array): Content {
  if (bytes.length > MAX_CONTENT_BYTES) throw new OversizedError(`Content: ${bytes.length} bytes, limit ${MAX_CONTENT_BYTES}`)
  checkVersion('Content', peekVersion(bytes, 'Content'), MIN_CONTENT_VERSION, CONTENT_VERSION)
  const fields = scanMessage(bytes, CONTENT_RULE)
  if (fields.filter((f) => f.field >= 2).length !== 1) throw new MalformedError('Content: exactly one body expected')
  const raw = guard('Content', () => ContentCodec.decode(bytes))
  let content: Content
  if (raw.text !== undefined) {
    if (raw.text.sentAt > BigInt(Number.MAX_SAFE_INTEGER)) throw new MalformedError('Content: sentAt out of range')
    content = { type: 'text', body: raw.text.body, sentAt: Number(raw.text.sentAt), messageId: raw.text.messageId.slice() }
  } else if (raw.receipt !== undefined) {
    const kind = raw.receipt.kind
    if (kind !== ReceiptCodec.DELIVERED && kind !== ReceiptCodec.READ) throw new MalformedError('Content: bad receipt kind')
    content = {
      type: 'receipt',
      receipt: kind === ReceiptCodec.DELIVERED ? 'delivered' : 'read',
      messageIds: raw.receipt.messageIds.map((id) => id.slice())
    }
  } else if (raw.epochKeyGrant !== undefined) {
    content = { type: 'epoch-key-grant', grant: raw.epochKeyGrant.slice() }
  } else if (raw.controlStatement !== undefined) {
    content = { type: 'control-statement', statement: raw.controlStatement.slice() }
  } else if (raw.profile !== undefined) {
    content = { type: 'profile', displayName: raw.profile.displayName, relays: raw.profile.relays.map((r) => r.slice()) }
  } else {
    throw new MalformedError('Content: no body')
  }
  validateContent(content, MalformedError)
  const again = guard('Content', () => encodeContent(content))
  if (!sameBytes(again, bytes)) throw new MalformedError('Content: non-canonical encoding')
  return content
}
