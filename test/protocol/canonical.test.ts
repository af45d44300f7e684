// The canonical fast paths of decodeEnvelope and decodeContent (decodeCanonicalEnvelope,
// decodeCanonicalContent) against the decoders they sit in front of: decodeEnvelopeFully / decodeContentFully,
// the decoders from before the fast paths, unchanged (scan, generated codec, field checks, re-encode and
// compare). On many structured and mutated inputs: (1) the fast path never accepts what the reference
// rejects, and returns exactly what the reference returns (same values, same classes, same sharing of the
// input's memory); (2) decodeEnvelope / decodeContent give the reference's verdict: the same value, or an
// error of the same class; (3) the fast path does accept every canonical text, receipt and envelope.
import { describe, expect, it } from 'vitest'
import {
  type Content,
  decodeCanonicalContent,
  decodeContent,
  decodeContentFully,
  encodeContent,
  MAX_RECEIPT_IDS,
  MAX_TEXT_BYTES,
  MESSAGE_ID_BYTES
} from '../../src/protocol/content.js'
import {
  decodeCanonicalEnvelope,
  decodeEnvelope,
  decodeEnvelopeFully,
  ENVELOPE_BUCKETS,
  type Envelope,
  encodeEnvelope,
  MAX_PREKEY_HEADER_BYTES,
  MIN_COMMUNITY_SEALED_BYTES,
  paddingForGap,
  RATCHET_HEADER_BYTES
} from '../../src/protocol/envelope.js'
import { MalformedError, ProtocolError } from '../../src/protocol/errors.js'
import { cat, varint } from './helpers.js'

// --- Reference: the full decoders the fast paths sit in front of (decodeEnvelopeFully, decodeContentFully: the
// decoders from before the fast paths, unchanged, which still decide everything the fast paths leave to them) ---

const referenceDecodeEnvelope = (bytes: Uint8Array): Envelope => decodeEnvelopeFully(bytes)
const referenceDecodeContent = (bytes: Uint8Array): Content => decodeContentFully(bytes)

// --- Comparison ---------------------------------------------------------------------------------------------

type Verdict = { value: unknown } | { error: string }

function verdict(fn: () => unknown): Verdict {
  try {
    return { value: fn() }
  } catch (err) {
    if (err instanceof ProtocolError) return { error: err.constructor.name }
    throw err
  }
}

/**
 * A decoded value as a string: its keys in order, and each byte array as its class, whether it shares the
 * input's memory, and its bytes.
 */
function normal(value: unknown, input: Uint8Array): string {
  const walk = (v: unknown): unknown => {
    if (v instanceof Uint8Array) return `${v.constructor.name}:${v.buffer === input.buffer}:${Buffer.from(v.buffer, v.byteOffset, v.length).toString('hex')}`
    if (Array.isArray(v)) return v.map(walk)
    if (typeof v === 'object' && v !== null) return Object.entries(v).map(([k, x]) => [k, walk(x)])
    return v
  }
  return JSON.stringify(walk(value))
}

function expectSameVerdict(input: Uint8Array, actual: Verdict, expected: Verdict): void {
  const where = (): string => `input ${Buffer.from(input).toString('hex').slice(0, 160)}`
  if ('error' in expected || 'error' in actual) {
    if (JSON.stringify(actual) !== JSON.stringify(expected)) expect.fail(`${where()}: ${JSON.stringify(actual)} != ${JSON.stringify(expected)}`)
    return
  }
  if (normal(actual.value, input) !== normal(expected.value, input)) {
    expect.fail(`${where()}: ${normal(actual.value, input).slice(0, 300)} != ${normal(expected.value, input).slice(0, 300)}`)
  }
}

/** The tally of one comparison run: how many inputs the fast path took, and the verdicts seen. */
class Tally {
  fast = 0
  readonly verdicts = new Map<string, number>()
  add(fast: boolean, v: Verdict): void {
    if (fast) this.fast++
    const key = 'error' in v ? v.error : 'accepted'
    this.verdicts.set(key, (this.verdicts.get(key) ?? 0) + 1)
  }
}

function compare(
  input: Uint8Array,
  fast: (b: Uint8Array) => unknown,
  decode: (b: Uint8Array) => unknown,
  reference: (b: Uint8Array) => unknown,
  tally: Tally
): void {
  // The same bytes as a plain array, a Buffer, a view at an offset into a larger buffer, and an array on
  // a SharedArrayBuffer (which protons copies first).
  const framed = new Uint8Array(input.length + 7)
  framed.set(input, 3)
  const shared = new Uint8Array(new SharedArrayBuffer(input.length))
  shared.set(input)
  for (const form of [input, Buffer.from(input), framed.subarray(3, 3 + input.length), shared]) {
    const expected = verdict(() => reference(form))
    const quick = fast(form)
    if (quick !== undefined) expectSameVerdict(form, { value: quick }, expected)
    expectSameVerdict(form, verdict(() => decode(form)), expected)
    if (form === input) tally.add(quick !== undefined, expected)
  }
}

// --- Generators (deterministic) ----------------------------------------------------------------------------

/** mulberry32: a small seeded PRNG, so a failure reproduces. */
function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

class Gen {
  readonly random: () => number
  /** Scales the chance of every encoding perturbation (0: clean encodings, for long runs of fields). */
  noise = 1
  constructor(seed: number) {
    this.random = prng(seed)
  }
  int(n: number): number {
    return Math.floor(this.random() * n)
  }
  chance(p: number): boolean {
    return this.random() < p
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n)
    for (let i = 0; i < n; i++) out[i] = this.int(256)
    return out
  }
  /** A varint, now and then with redundant continuation bytes (non-minimal). */
  varint(n: number | bigint): Uint8Array {
    const v = varint(n)
    if (!this.chance(0.04 * this.noise)) return v
    const extra = 1 + this.int(2)
    const out = new Uint8Array(v.length + extra)
    out.set(v)
    out[v.length - 1]! |= 0x80
    for (let i = 0; i < extra - 1; i++) out[v.length + i] = 0x80
    return out
  }
  /** A field: tag (now and then with another wire type), then a varint value or a length-prefixed payload. */
  field(field: number, value: number | bigint | Uint8Array): Uint8Array {
    const wire = value instanceof Uint8Array ? 2 : 0
    const tag = this.varint((field << 3) | (this.chance(0.01 * this.noise) ? this.pick([0, 1, 2, 3, 5]) : wire))
    if (value instanceof Uint8Array) return cat(tag, this.varint(value.length + (this.chance(0.02 * this.noise) ? this.pick([-1, 1]) : 0)), value)
    return cat(tag, this.varint(value))
  }
  /** A few byte-level mutations (flip, set, insert, delete, truncate), or none. */
  mutate(input: Uint8Array): Uint8Array {
    if (!this.chance(0.3)) return input
    const b = Array.from(input)
    for (let m = 1 + this.int(3); m > 0; m--) {
      const i = b.length === 0 ? 0 : this.int(b.length)
      const op = this.int(5)
      if (op === 0 && b.length > 0) b[i] = b[i]! ^ (1 << this.int(8))
      else if (op === 1 && b.length > 0) b[i] = this.pick([0, 1, 0x7f, 0x80, 0xff, this.int(256)])
      else if (op === 2) b.splice(i, 0, this.int(256))
      else if (op === 3) b.splice(i, 1)
      else if (op === 4 && this.chance(0.3)) b.length = i
    }
    return Uint8Array.from(b)
  }
}

/** Shuffles a few neighbours, drops or doubles a field now and then. */
function jumble(g: Gen, fields: Uint8Array[]): Uint8Array[] {
  const out = [...fields]
  if (out.length > 1 && g.chance(0.04)) {
    const i = g.int(out.length - 1)
    ;[out[i], out[i + 1]] = [out[i + 1]!, out[i]!]
  }
  if (out.length > 0 && g.chance(0.04)) out.splice(g.int(out.length), 1)
  if (out.length > 0 && g.chance(0.03)) {
    const i = g.int(out.length)
    out.splice(i, 0, out[i]!)
  }
  return out
}

const T = 1_700_000_000_000
const MAX_SAFE = Number.MAX_SAFE_INTEGER

function envelopeInput(g: Gen): Uint8Array {
  const kind = g.chance(0.93) ? 1 + g.int(3) : g.pick([0, 4, 127, 128, 2 ** 31])
  const version = g.chance(0.95) ? 1 : g.pick([0, 2, 129, 2 ** 32, 2n ** 63n])
  const timestamp: number | bigint = g.chance(0.9)
    ? T + 1000 * g.int(1000)
    : g.pick<number | bigint>([0, 999, T + 1, 9007199254740000, 9007199254741000, 2 ** 53, 2n ** 64n - 1n, 1000])
  // Field sizes: mostly valid, sometimes one off a limit; the ciphertext sized so that the unpadded length
  // lands anywhere near a bucket edge, including the gaps that padding cannot fill (1, 2, 130, 16387).
  const prekeyLen = g.chance(0.9) ? 1 + g.int(MAX_PREKEY_HEADER_BYTES) : g.pick([0, MAX_PREKEY_HEADER_BYTES, MAX_PREKEY_HEADER_BYTES + 1])
  const ratchetLen = g.chance(0.93) ? RATCHET_HEADER_BYTES : g.pick([0, 80, 82, 127, 128])
  const hasPrekey = kind === 1 ? g.chance(0.97) : g.chance(0.03)
  const hasRatchet = kind === 1 || kind === 2 ? g.chance(0.97) : g.chance(0.03)
  const head = 2 + 2 + 7 + (hasPrekey ? prekeyLen + 3 : 0) + (hasRatchet ? ratchetLen + 2 : 0) + 4
  const target =
    g.chance(0.03) ? g.pick([49149, 49150, 49148, 65535, 65534, 65536, 65537]) : g.pick([512, 512, 1024, 1024, 2048, 4096]) - g.int(140)
  let ctLen = Math.max(0, target - head + g.int(9) - 4)
  if (kind === 3 && g.chance(0.2)) ctLen = g.pick([0, MIN_COMMUNITY_SEALED_BYTES - 1, MIN_COMMUNITY_SEALED_BYTES, MIN_COMMUNITY_SEALED_BYTES + 1])
  const fields = [
    g.field(1, version),
    g.field(2, kind),
    g.field(3, timestamp),
    ...(hasPrekey ? [g.field(4, g.bytes(prekeyLen))] : []),
    ...(hasRatchet ? [g.field(5, g.bytes(ratchetLen))] : []),
    ...(g.chance(0.97) ? [g.field(6, g.bytes(ctLen))] : []),
    ...(g.chance(0.01) ? [g.field(g.pick([7, 14, 16]), g.bytes(3))] : [])
  ]
  const body = cat(...jumble(g, fields))
  // Padding: mostly the canonical amount, else another bucket's, one off, non-zero, empty, doubled, absent.
  let k = -1
  for (const bucket of ENVELOPE_BUCKETS) {
    if (bucket < body.length) continue
    const p = paddingForGap(bucket - body.length)
    if (p === undefined) continue
    k = g.chance(0.05) ? (paddingForGap(ENVELOPE_BUCKETS[Math.min(ENVELOPE_BUCKETS.indexOf(bucket) + 1, 7)]! - body.length) ?? p) : p
    break
  }
  if (k < 0) k = g.int(200)
  const mode = g.int(100)
  if (mode < 80) k += 0
  else if (mode < 86) k += g.pick([-2, -1, 1, 2])
  const padding = new Uint8Array(Math.max(0, k))
  if (mode >= 86 && mode < 90 && padding.length > 0) padding[g.int(padding.length)] = 1 + g.int(255)
  let out: Uint8Array
  if (mode >= 90 && mode < 93) out = body
  else if (mode >= 93 && mode < 95) out = cat(body, g.field(15, new Uint8Array(0)), padding.length > 0 ? g.field(15, padding) : new Uint8Array(0))
  else if (mode >= 95 && mode < 97) out = cat(body, g.field(15, padding.subarray(0, Math.max(0, padding.length - 4))), g.field(15, new Uint8Array(1)))
  else out = padding.length === 0 ? body : cat(body, g.field(15, padding))
  return g.mutate(out)
}

/** UTF-8 text pieces, valid and not: ASCII, 2/3/4-byte characters, BOM, noncharacters, overlong forms,
 * CESU-8 surrogates, code points past U+10FFFF, truncated sequences, stray continuation bytes. */
const UTF8_PIECES: Uint8Array[] = [
  Buffer.from('hello '),
  Buffer.from('é'),
  Buffer.from('€'),
  Buffer.from('😀'),
  Buffer.from('\uFEFF'),
  Buffer.from('\uFFFE\uFFFF'),
  Buffer.from('\u0000\u001b[2J'),
  Uint8Array.of(0xc0, 0x80),
  Uint8Array.of(0xe0, 0x80, 0xaf),
  Uint8Array.of(0xed, 0xa0, 0x80),
  Uint8Array.of(0xed, 0xb0, 0x80),
  Uint8Array.of(0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80),
  Uint8Array.of(0xf4, 0x90, 0x80, 0x80),
  Uint8Array.of(0xf8, 0x88, 0x80, 0x80, 0x80),
  Uint8Array.of(0xe2, 0x82),
  Uint8Array.of(0x80),
  Uint8Array.of(0xff)
]

function textBody(g: Gen): Uint8Array {
  if (g.chance(0.02)) return new Uint8Array(0)
  if (g.chance(0.05)) return new Uint8Array(g.pick([MAX_TEXT_BYTES, MAX_TEXT_BYTES + 1, MAX_TEXT_BYTES - 1])).fill(0x61)
  const parts: Uint8Array[] = []
  for (let n = 1 + g.int(8); n > 0; n--) {
    parts.push(g.chance(0.85) ? UTF8_PIECES[g.int(7)]! : g.pick(UTF8_PIECES))
  }
  if (g.chance(0.2)) parts.push(Buffer.from('x'.repeat(g.int(300))))
  return cat(...parts)
}

function contentInput(g: Gen): Uint8Array {
  const version = g.chance(0.95) ? 1 : g.pick([0, 2, 129, 2 ** 32])
  const type = g.chance(0.85) ? g.pick([2, 2, 3]) : g.pick([4, 5, 6, 7])
  const idLen = (): number => (g.chance(0.95) ? MESSAGE_ID_BYTES : g.pick([0, 15, 17]))
  let body: Uint8Array
  if (type === 2) {
    const sentAt: number | bigint = g.chance(0.9) ? T + g.int(1e6) : g.pick<number | bigint>([0, 1, MAX_SAFE, MAX_SAFE + 1, 2n ** 64n - 1n, 127, 128])
    const fields = [g.field(1, textBody(g)), g.field(2, sentAt), g.field(3, g.bytes(idLen()))]
    if (g.chance(0.01)) fields.push(g.field(4, 1))
    body = cat(...jumble(g, fields))
  } else if (type === 3) {
    const kind = g.chance(0.9) ? 1 + g.int(2) : g.pick([0, 3, 128])
    const count = g.chance(0.9) ? 1 + g.int(4) : g.pick([0, MAX_RECEIPT_IDS - 1, MAX_RECEIPT_IDS, MAX_RECEIPT_IDS + 1])
    const badAt = g.chance(0.1) ? g.int(count) : -1 // at most one id of another length
    if (count > 10) g.noise = 0
    const ids = Array.from({ length: count }, (_, i) => g.field(2, g.bytes(i === badAt ? idLen() : MESSAGE_ID_BYTES)))
    g.noise = 1
    body = cat(...jumble(g, [g.field(1, kind), ...ids]))
  } else if (type === 6) {
    body = cat(g.field(1, Buffer.from(g.pick(['Ada', '', 'a\u0007', 'é'.repeat(40)]))), g.field(2, g.bytes(1 + g.int(9))))
  } else {
    body = g.bytes(g.int(40))
  }
  const fields = [g.field(1, version), g.field(type, body)]
  if (g.chance(0.03)) fields.push(g.field(g.pick([2, 3, 4]), g.bytes(16)))
  return g.mutate(cat(...jumble(g, fields)))
}

// --- Tests --------------------------------------------------------------------------------------------------

const RUNS = Number(process.env.FUZZ_RUNS ?? 3000)

describe('canonical envelope fast path', () => {
  it('agrees with the reference decoder on structured and mutated envelopes', () => {
    const g = new Gen(0x5eed01)
    const tally = new Tally()
    for (let i = 0; i < RUNS; i++) compare(envelopeInput(g), decodeCanonicalEnvelope, decodeEnvelope, referenceDecodeEnvelope, tally)
    // The generator reaches both sides: many accepted via the fast path, and every rejection class.
    if (process.env.SHOW_TALLY) console.log(tally)
    expect(tally.fast).toBeGreaterThan(RUNS / 8)
    expect(tally.verdicts.get('accepted')).toBe(tally.fast)
    for (const cls of ['MalformedError', 'OversizedError', 'UnsupportedVersionError']) expect(tally.verdicts.get(cls)).toBeGreaterThan(0)
  })

  it('takes every canonical envelope (each kind, sizes across the buckets)', () => {
    const g = new Gen(0x5eed02)
    for (let i = 0; i < 300; i++) {
      const timestamp = 1000 * (1 + g.int(2 ** 40))
      const ct = g.bytes(1 + g.int(g.chance(0.1) ? 60000 : 3000))
      const env: Envelope = g.pick([
        { kind: 'direct', timestamp, ratchetHeader: g.bytes(81), ciphertext: ct },
        { kind: 'direct-prekey', timestamp, prekeyHeader: g.bytes(1 + g.int(MAX_PREKEY_HEADER_BYTES)), ratchetHeader: g.bytes(81), ciphertext: ct },
        { kind: 'community', timestamp, sealed: cat(g.bytes(MIN_COMMUNITY_SEALED_BYTES), ct.subarray(0, 60000)) }
      ])
      let encoded: Uint8Array
      try {
        encoded = encodeEnvelope(env)
      } catch {
        continue // no bucket for it
      }
      expect(normal(decodeCanonicalEnvelope(encoded), encoded)).toBe(normal(env, encoded))
    }
  })
})

describe('canonical content fast path', () => {
  it('agrees with the reference decoder on structured and mutated content', () => {
    const g = new Gen(0x5eed03)
    const tally = new Tally()
    for (let i = 0; i < RUNS; i++) compare(contentInput(g), decodeCanonicalContent, decodeContent, referenceDecodeContent, tally)
    if (process.env.SHOW_TALLY) console.log(tally)
    expect(tally.fast).toBeGreaterThan(RUNS / 8)
    expect(tally.verdicts.get('accepted')).toBeGreaterThan(tally.fast) // other types go the full way
    for (const cls of ['MalformedError', 'OversizedError', 'UnsupportedVersionError']) expect(tally.verdicts.get(cls)).toBeGreaterThan(0)
  })

  it('takes every canonical text and receipt', () => {
    const g = new Gen(0x5eed04)
    const chars = ['a', 'é', '€', '😀', '\uFEFF', ' ', '\n']
    for (let i = 0; i < 500; i++) {
      const content: Content = g.chance(0.7)
        ? {
            type: 'text',
            body: Array.from({ length: 1 + g.int(g.chance(0.05) ? 4000 : 50) }, () => g.pick(chars)).join(''),
            sentAt: 1 + g.int(2 ** 52),
            messageId: g.bytes(MESSAGE_ID_BYTES)
          }
        : {
            type: 'receipt',
            receipt: g.pick(['delivered', 'read'] as const),
            messageIds: Array.from({ length: 1 + g.int(g.chance(0.1) ? MAX_RECEIPT_IDS : 5) }, () => g.bytes(MESSAGE_ID_BYTES))
          }
      const encoded = encodeContent(content)
      expect(normal(decodeCanonicalContent(encoded), encoded)).toBe(normal(content, encoded))
    }
  })
})

describe('fast paths on what is not bytes', () => {
  it('return undefined (decodeEnvelope and decodeContent then throw MalformedError, as before)', () => {
    for (const v of [null, undefined, 'x', 42, [8, 1], {}]) {
      expect(decodeCanonicalEnvelope(v as never)).toBeUndefined()
      expect(decodeCanonicalContent(v as never)).toBeUndefined()
      expect(() => decodeEnvelope(v as never)).toThrow(MalformedError)
      expect(() => decodeContent(v as never)).toThrow(MalformedError)
    }
  })
})
