// Pins the plaintext of every record the receive path writes (PROTOCOL.md §10.4-§10.7) against a reference
// encoder written here from the text alone, independent of src/store/codec.ts: the store's faster encoding
// (values encoded once, flat records without a copy, keys built in one buffer) must write the same bytes.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { blindKey, DatabaseKey, openRecord, SEALED_RECORD_OVERHEAD, sealRecord, sealRecordInto, unwrapDatabaseKey } from '../../src/crypto/atrest.js'
import { blake2b } from '../../src/crypto/primitives.js'
import { allocBytes, encodeValue, jsonText, PlainScratch, u64 } from '../../src/store/codec.js'
import type { NewMessage, StoreValue } from '../../src/store/types.js'
import { id32, memoryHarness, PASSPHRASE } from './harness.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const text = (s: string): Uint8Array => new TextEncoder().encode(s)

function u32be(n: number): Uint8Array {
  const out = new Uint8Array(4)
  new DataView(out.buffer).setUint32(0, n)
  return out
}

function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts))
}

/** §10.4: B(p1, ..., pm) = B2b(u32be(len(p1)) || p1 || ..., 32, blindKey). */
function refBlind(blindKeyBytes: Uint8Array, ...parts: Array<string | Uint8Array>): Uint8Array {
  const encoded = parts.map((p) => (typeof p === 'string' ? text(p) : p)).flatMap((p) => [u32be(p.length), p])
  return blake2b(concat(...encoded), 32, blindKeyBytes)
}

/** §10.5: byte strings as {"$bytes": base64} anywhere, absent (undefined) members omitted. */
function refJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return { $bytes: Buffer.from(value).toString('base64') }
  if (Array.isArray(value)) return value.map(refJson)
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = refJson(v)
    return out
  }
  return value
}

function refValue(value: unknown): Uint8Array {
  if (value instanceof Uint8Array) return concat(Uint8Array.of(0), value)
  return concat(Uint8Array.of(1), text(JSON.stringify(refJson(value))))
}

const jsonValue: fc.Arbitrary<StoreValue> = fc.letrec<{ value: StoreValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.string({ unit: 'binary' }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(
      fc.string({ unit: 'binary' }).filter((k) => k !== '$bytes' && k !== '__proto__'),
      fc.option(tie('value'), { nil: undefined }) as fc.Arbitrary<StoreValue>,
      { maxKeys: 6 }
    )
  )
})).value

describe('value encoding against the reference (§10.5)', () => {
  it('encodeValue writes the reference bytes for any value (flat records, nested bytes, lone surrogates)', () => {
    fc.assert(
      fc.property(jsonValue, (v) => {
        expect(hex(encodeValue(v))).toBe(hex(refValue(v)))
      }),
      { numRuns: 1000 }
    )
  })

  it('a flat record is written exactly like its reference, and refused like before when it cannot be stored', () => {
    expect(jsonText({ a: 'x', b: 1, c: true, d: null, e: undefined, f: -0 })).toBe('{"a":"x","b":1,"c":true,"d":null,"f":0}')
    expect(() => encodeValue({ a: Number.NaN })).toThrow('value.a is not a finite number')
    expect(() => encodeValue({ a: [1, { b: Number.POSITIVE_INFINITY }] })).toThrow('value.a[1].b is not a finite number')
    expect(() => encodeValue({ $bytes: 'x' })).toThrow('value uses the reserved key $bytes')
    expect(() => encodeValue({ a: () => 1 } as unknown as StoreValue)).toThrow('value.a cannot be stored (function)')
    // An own "__proto__" member (JSON.parse makes one) is left out, as before.
    expect(jsonText(JSON.parse('{"a":1,"__proto__":{"b":2}}') as StoreValue)).toBe('{"a":1}')
    // An object with its own toJSON (a class instance, a Date) is stored by its members, as before.
    expect(jsonText(new Date(0) as unknown as StoreValue)).toBe('{}')
  })

  it('blindKey hashes the reference encoding of any parts (§10.4)', () => {
    const key = DatabaseKey.fromBytes(new Uint8Array(32).fill(9))
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.uint8Array({ maxLength: 40 })), { minLength: 1, maxLength: 4 }), (parts) => {
        expect(hex(blindKey(key, parts))).toBe(hex(refBlind(key.blindKeyBytes(), ...parts)))
      }),
      { numRuns: 300 }
    )
  })
})

describe('allocation-free helpers of a commit', () => {
  it('PlainScratch gives encodeValue bytes for any sequence of values, and wipe zeroes what was used', () => {
    const scratch = new PlainScratch()
    fc.assert(
      fc.property(fc.array(fc.oneof(jsonValue, fc.uint8Array({ maxLength: 9000 })), { minLength: 1, maxLength: 6 }), (values) => {
        for (const v of values) expect(hex(scratch.encode(v))).toBe(hex(refValue(v)))
        const last = scratch.encode(values[0] as StoreValue)
        scratch.wipe()
        expect(last.every((b) => b === 0)).toBe(true)
      }),
      { numRuns: 200 }
    )
    expect(hex(scratch.json('{"a":"\u00e9"}'))).toBe(hex(refValue({ a: '\u00e9' })))
  })

  it('allocBytes hands out zeroed arrays that never overlap, small ones from slabs', () => {
    const arrays = Array.from({ length: 3000 }, (_, i) => allocBytes((i * 37) % 300))
    arrays.push(allocBytes(5000), allocBytes(4096))
    for (const [i, a] of arrays.entries()) {
      expect(a.every((b) => b === 0)).toBe(true)
      a.fill((i % 255) + 1)
    }
    for (const [i, a] of arrays.entries()) expect(a.every((b) => b === (i % 255) + 1)).toBe(true)
    expect(allocBytes(5000).buffer.byteLength).toBe(5000)
  })

  it('sealRecordInto writes the bytes of sealRecord, and only into an array of the exact length', () => {
    const key = DatabaseKey.fromBytes(new Uint8Array(32).fill(3))
    const nonce = new Uint8Array(24).fill(4)
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 80 }), fc.uint8Array({ maxLength: 3000 }), (recordKey, value) => {
        const out = allocBytes(SEALED_RECORD_OVERHEAD + value.length)
        sealRecordInto(key, recordKey, value, nonce, out)
        expect(hex(out)).toBe(hex(sealRecord(key, recordKey, value, { nonce })))
        expect(hex(openRecord(key, recordKey, out))).toBe(hex(value))
      }),
      { numRuns: 200 }
    )
    expect(() => sealRecordInto(key, Uint8Array.of(1), Uint8Array.of(2), nonce, new Uint8Array(SEALED_RECORD_OVERHEAD))).toThrow('out must be')
  })
})

describe('records of a received community message (§10.6)', () => {
  it('a message with a nested member is encoded at commit, as before (the flat ones when putMessage is called)', async () => {
    const h = memoryHarness()
    const store = await h.open()
    const extra = { tag: 'at the call' }
    const message = { id: 'x', conversation: 'c', direction: 'in', sender: 's', text: 't', sentAt: 1, receivedAt: 2, status: 'received' } as const
    const b = store.batch().putMessage({ ...message, extra }).putMessage({ ...message, id: 'y' })
    extra.tag = 'at commit'
    await b.commit()
    expect((await store.getMessage('x'))?.extra).toEqual({ tag: 'at commit' })
    expect(await store.getMessage('y')).toEqual({ ...message, id: 'y', seq: 2 })
    await store.close()
  })

  it('writes exactly the reference keys and plaintexts, once per message', async () => {
    const h = memoryHarness()
    const store = await h.open()
    const topic = text('/sotto/community/1/abc')
    const community = 'c0ffee'
    const conversation = 'c0ffee'
    const base = { conversation, direction: 'in', sender: 'ab'.repeat(32), sentAt: 1_700_000_000_000, status: 'received' } as const
    const messages: NewMessage[] = [
      { ...base, id: 'm1', text: 'hello', receivedAt: 1_700_000_000_100 },
      // Unicode, a lone surrogate, quotes and an `extra` with nested bytes: the slow path of the encoder.
      { ...base, id: 'm2', text: 'h\u00e9\ud83d\ude00 "q" \ud800', receivedAt: 1_700_000_000_200, extra: { tag: Uint8Array.of(1, 2, 3), n: [1, 2] } },
      // An optional member left undefined is omitted.
      { ...base, id: 'm3', text: '', receivedAt: 1_700_000_000_300, extra: undefined }
    ]
    const states = [Uint8Array.of(1), Uint8Array.of(2, 2), Uint8Array.of(3, 3, 3)]
    const envelopes = messages.map((_, i) => ({ id: id32(i + 1), timestamp: 1_700_000_000_000 + i, bytes: new Uint8Array(100 + i).fill(i) }))
    for (const [i, m] of messages.entries()) {
      const env = envelopes[i] as (typeof envelopes)[number]
      const b = store.batch()
      b.putEnvelope(topic, env.id, env.timestamp, env.bytes)
      b.putMessage(m, { ifNew: true })
      b.setChainState(community, 'recv:0', states[i] as Uint8Array)
      const { messages: written, envelopesAdded } = await b.commit()
      expect(envelopesAdded).toBe(1)
      expect(written.map((r) => r.seq)).toEqual([i + 1])
    }
    // The same message again (a resend): ifNew leaves everything as it is.
    const again = await store.batch().putEnvelope(topic, id32(1), 1, Uint8Array.of(9)).putMessage(messages[0] as NewMessage, { ifNew: true }).commit()
    expect(again).toEqual({ messages: [], envelopesAdded: 0 })
    await store.close()

    const raw = await h.raw.entries()
    const wrapped = raw.find(([k]) => k[0] === 0 && Buffer.from(k.subarray(1)).toString() === 'dbkey')?.[1] as Uint8Array
    const dbKey = unwrapDatabaseKey(wrapped, PASSPHRASE)
    const bk = dbKey.blindKeyBytes()
    const B = (...parts: Array<string | Uint8Array>) => refBlind(bk, ...parts)
    const tp = B('topic', topic)
    const conv = B('conversation', conversation)
    const expected = new Map<string, unknown>()
    const put = (key: Uint8Array, value: unknown) => expected.set(hex(key), value)
    put(concat(Uint8Array.of(0x0d), tp), { topic })
    for (const env of envelopes) {
      put(concat(Uint8Array.of(0x0e), tp, u64(env.timestamp), env.id), env.bytes)
      put(concat(Uint8Array.of(0x0f), tp, env.id), { timestamp: env.timestamp })
    }
    for (const [i, m] of messages.entries()) {
      put(concat(Uint8Array.of(0x0a), conv, u64(i + 1)), { ...m, seq: i + 1 })
      put(concat(Uint8Array.of(0x0b), B('message-id', m.id)), { conversation, seq: i + 1 })
    }
    put(concat(Uint8Array.of(0x09), conv), { conversation, next: messages.length + 1 })
    put(concat(Uint8Array.of(0x08), B('community', community), Uint8Array.of(0x03), B('chain', community, 'recv:0')), {
      chainId: 'recv:0',
      state: states.at(-1)
    })

    const actual = new Map<string, string>()
    for (const [k, v] of raw) if (k[0] !== undefined && k[0] >= 0x02) actual.set(hex(k), hex(openRecord(dbKey, k, v)))
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort())
    for (const [k, v] of expected) expect(actual.get(k), `record ${k.slice(0, 2)}`).toBe(hex(refValue(v)))
    dbKey.wipe()
  })
})
