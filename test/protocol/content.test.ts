import { describe, expect, it } from 'vitest'
import {
  type Content,
  decodeContent,
  encodeContent,
  MAX_CONTENT_BYTES,
  MAX_DISPLAY_NAME_BYTES,
  MAX_RECEIPT_IDS,
  MAX_RELAYS,
  MAX_TEXT_BYTES
} from '../../src/protocol/content.js'
import { pad, unpad } from '../../src/crypto/padding.js'
import { InvalidArgumentError, MalformedError, OversizedError, UnsupportedVersionError } from '../../src/protocol/errors.js'
import { bytes, cat, lf, protocolErrorOf, vf } from './helpers.js'

const id = (n: number) => bytes(16, n)

const samples: Content[] = [
  { type: 'text', body: 'hello, wörld 👋', sentAt: 1_700_000_000_123, messageId: id(1) },
  { type: 'receipt', receipt: 'delivered', messageIds: [id(1), id(2)] },
  { type: 'receipt', receipt: 'read', messageIds: [id(3)] },
  { type: 'epoch-key-grant', grant: bytes(200, 4) },
  { type: 'control-statement', statement: bytes(120, 5) },
  { type: 'profile', displayName: 'Ada', relays: [bytes(20, 6)] },
  { type: 'profile', displayName: '', relays: [] }
]

describe('content', () => {
  it.each(samples)('round trips $type', (c) => {
    expect(decodeContent(encodeContent(c))).toEqual(c)
  })

  it('goes through padding (§9) and back', () => {
    const c = samples[0]!
    expect(decodeContent(unpad(pad(encodeContent(c))))).toEqual(c)
  })

  it('matches a hand-built encoding of a text', () => {
    const text = cat(lf(1, new TextEncoder().encode('hi')), vf(2, 5), lf(3, id(9)))
    const expected = cat(vf(1, 1), lf(2, text))
    expect(encodeContent({ type: 'text', body: 'hi', sentAt: 5, messageId: id(9) })).toEqual(expected)
  })

  it('encoder rejects bad values', () => {
    const bad: unknown[] = [
      { type: 'text', body: '', sentAt: 1, messageId: id(1) },
      { type: 'text', body: 'x', sentAt: 0, messageId: id(1) },
      { type: 'text', body: 'x', sentAt: 1, messageId: bytes(15) },
      { type: 'receipt', receipt: 'seen', messageIds: [id(1)] },
      { type: 'receipt', receipt: 'read', messageIds: [] },
      { type: 'epoch-key-grant', grant: new Uint8Array(0) },
      { type: 'profile', displayName: 'a\u001b[2J', relays: [] },
      { type: 'profile', displayName: 'a', relays: [new Uint8Array(0)] },
      { type: 'nope' }
    ]
    for (const c of bad) expect(() => encodeContent(c as Content)).toThrow(InvalidArgumentError)
    const big: unknown[] = [
      { type: 'text', body: 'x'.repeat(MAX_TEXT_BYTES + 1), sentAt: 1, messageId: id(1) },
      { type: 'receipt', receipt: 'read', messageIds: Array.from({ length: MAX_RECEIPT_IDS + 1 }, () => id(1)) },
      { type: 'profile', displayName: 'é'.repeat(MAX_DISPLAY_NAME_BYTES / 2 + 1), relays: [] },
      { type: 'profile', displayName: 'a', relays: Array.from({ length: MAX_RELAYS + 1 }, () => bytes(4)) }
    ]
    for (const c of big) expect(() => encodeContent(c as Content)).toThrow(OversizedError)
  })

  it('decoder rejects: versions, two bodies, no body, bad fields, non-canonical, oversized', () => {
    const text = lf(2, cat(lf(1, bytes(1, 0x41)), vf(2, 5), lf(3, id(9))))
    expect(protocolErrorOf(() => decodeContent(text))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodeContent(cat(vf(1, 2), text)))).toBeInstanceOf(UnsupportedVersionError)
    expect(protocolErrorOf(() => decodeContent(cat(vf(1, 1), text, lf(4, bytes(3)))))).toBeInstanceOf(MalformedError)
    expect(protocolErrorOf(() => decodeContent(vf(1, 1)))).toBeInstanceOf(MalformedError)
    const badUtf8 = cat(vf(1, 1), lf(2, cat(lf(1, Uint8Array.of(0xc3, 0x28)), vf(2, 5), lf(3, id(9)))))
    expect(protocolErrorOf(() => decodeContent(badUtf8))).toBeInstanceOf(MalformedError)
    const shortId = cat(vf(1, 1), lf(2, cat(lf(1, bytes(1, 0x41)), vf(2, 5), lf(3, bytes(15)))))
    expect(protocolErrorOf(() => decodeContent(shortId))).toBeInstanceOf(MalformedError)
    const badReceipt = cat(vf(1, 1), lf(3, cat(vf(1, 3), lf(2, id(1)))))
    expect(protocolErrorOf(() => decodeContent(badReceipt))).toBeInstanceOf(MalformedError)
    const unknownNested = cat(vf(1, 1), lf(2, cat(lf(1, bytes(1, 0x41)), vf(2, 5), lf(3, id(9)), vf(4, 1))))
    expect(protocolErrorOf(() => decodeContent(unknownNested))).toBeInstanceOf(MalformedError)
    const tooManyIds = cat(vf(1, 1), lf(3, cat(vf(1, 1), ...Array.from({ length: MAX_RECEIPT_IDS + 1 }, () => lf(2, id(1))))))
    expect(protocolErrorOf(() => decodeContent(tooManyIds))).toBeInstanceOf(OversizedError)
    expect(protocolErrorOf(() => decodeContent(new Uint8Array(MAX_CONTENT_BYTES + 1)))).toBeInstanceOf(OversizedError)
    const nestedGroups = cat(vf(1, 1), lf(2, new Uint8Array(30_000).fill(0x0b)))
    expect(protocolErrorOf(() => decodeContent(nestedGroups))).toBeInstanceOf(MalformedError)
  })
})

describe('content strings (§11.1 rule 5)', () => {
  it('lone surrogates cannot be encoded, and their CESU-8 bytes are not decoded', () => {
    expect(() => encodeContent({ type: 'text', body: 'a\ud800b', sentAt: 1, messageId: id(1) })).toThrow(InvalidArgumentError)
    expect(() => encodeContent({ type: 'profile', displayName: '\udc00', relays: [] })).toThrow(InvalidArgumentError)
    const cesu = cat(vf(1, 1), lf(2, cat(lf(1, Uint8Array.of(0x61, 0xed, 0xa0, 0x80, 0x62)), vf(2, 5), lf(3, id(9)))))
    expect(protocolErrorOf(() => decodeContent(cesu))).toBeInstanceOf(MalformedError)
    const overlong = cat(vf(1, 1), lf(2, cat(lf(1, Uint8Array.of(0xc0, 0x80)), vf(2, 5), lf(3, id(9)))))
    expect(protocolErrorOf(() => decodeContent(overlong))).toBeInstanceOf(MalformedError)
  })

  it('a leading U+FEFF and combining characters survive unchanged', () => {
    for (const body of ['\ufeffhi', 'e\u0301', '\u0000x', '𝄞']) {
      const c: Content = { type: 'text', body, sentAt: 1, messageId: id(1) }
      expect(decodeContent(encodeContent(c))).toEqual(c)
    }
  })
})
