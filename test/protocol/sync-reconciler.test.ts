import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_FRAME_SIZE_LIMIT,
  DEFAULT_MAX_RANGES,
  decodeMessage,
  encodeMessage,
  encodeVarint,
  fingerprintOf,
  INFINITY,
  MAX_BOUND,
  MalformedSyncMessageError,
  MemorySyncItemSource,
  Mode,
  minimalBound,
  Reconciler,
  type SyncItem,
  type SyncItemSource,
  PackedSyncItemSource,
  snapshotSource,
  SyncLimitError,
  SyncUsageError,
  UnsupportedSyncVersionError
} from '../../src/protocol/sync/index.js'
import { Reader } from '../../src/protocol/sync/varint.js'
import { hex, makeItem, makeItems, runSession } from './sync-helpers.js'

describe('varint', () => {
  it('encodes most significant digit first, minimally', () => {
    expect(hex(encodeVarint(0))).toBe('00')
    expect(hex(encodeVarint(127))).toBe('7f')
    expect(hex(encodeVarint(128))).toBe('8100')
    expect(hex(encodeVarint(300))).toBe('822c')
    expect(hex(encodeVarint(Number.MAX_SAFE_INTEGER))).toBe('8fffffffffffff7f')
  })

  it('round-trips any safe integer', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(new Reader(encodeVarint(n)).varint('n')).toBe(n)
      })
    )
  })

  it('rejects non-minimal, overlong, oversized and truncated varints', () => {
    expect(() => new Reader(Uint8Array.of(0x80, 0x01)).varint('n')).toThrow(MalformedSyncMessageError)
    expect(() => new Reader(new Uint8Array(9).fill(0x81)).varint('n')).toThrow(MalformedSyncMessageError)
    expect(() => new Reader(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)).varint('n')).toThrow(MalformedSyncMessageError)
    expect(() => new Reader(Uint8Array.of(0x81)).varint('n')).toThrow(MalformedSyncMessageError)
  })
})

describe('fingerprint', () => {
  it('is SHA-256(sum of little-endian ids mod 2^256 || varint(count)) truncated to 16 bytes', () => {
    const ids = makeItems(50).map((i) => i.id)
    let sum = 0n
    for (const id of ids) sum += BigInt(`0x${Buffer.from(id).reverse().toString('hex')}`)
    sum %= 1n << 256n
    const le = Buffer.from(sum.toString(16).padStart(64, '0'), 'hex').reverse()
    const expected = createHash('sha256').update(Buffer.concat([le, Buffer.from(encodeVarint(50))])).digest().subarray(0, 16)
    expect(hex(fingerprintOf(ids))).toBe(expected.toString('hex'))
  })

  it('does not depend on order and wraps modulo 2^256', () => {
    const ff = new Uint8Array(32).fill(0xff)
    const one = new Uint8Array(32)
    one[0] = 1
    // (2^256 - 1) + 1 = 0 mod 2^256: the same sum as two zero ids
    expect(hex(fingerprintOf([ff, one]))).toBe(hex(fingerprintOf([new Uint8Array(32), new Uint8Array(32)])))
    const ids = makeItems(10).map((i) => i.id)
    expect(hex(fingerprintOf(ids))).toBe(hex(fingerprintOf([...ids].reverse())))
  })
})

describe('messages', () => {
  const a = makeItem(1, 1000)
  const b = makeItem(2, 1000)

  it('round-trip', () => {
    const bound = minimalBound(a.id[0]! < b.id[0]! ? a : b, a.id[0]! < b.id[0]! ? b : a)
    const ranges = [
      { upper: { timestamp: 5, id: new Uint8Array(0) }, mode: Mode.Skip },
      { upper: bound, mode: Mode.Fingerprint, fingerprint: new Uint8Array(16).fill(7) },
      { upper: MAX_BOUND, mode: Mode.IdList, ids: [a.id, b.id] }
    ] as const
    const bytes = encodeMessage(ranges)
    const back = decodeMessage(bytes)
    expect(back).toHaveLength(3)
    expect(back[0]!.upper.timestamp).toBe(5)
    expect(back[1]!.upper.timestamp).toBe(1000)
    expect(hex(back[1]!.upper.id)).toBe(hex(bound.id))
    expect(back[2]!.upper.timestamp).toBe(INFINITY)
    expect(hex(encodeMessage(back))).toBe(hex(bytes))
  })

  it('rejects malformed or out-of-bounds messages with typed errors', () => {
    const ok = (hexStr: string) => decodeMessage(Buffer.from(hexStr, 'hex'))
    expect(ok('61')).toEqual([])
    expect(() => ok('')).toThrow(MalformedSyncMessageError)
    expect(() => ok('62')).toThrow(UnsupportedSyncVersionError)
    expect(() => ok('610000')).toThrow(MalformedSyncMessageError) // no mode
    expect(() => ok('61000003')).toThrow(MalformedSyncMessageError) // unknown mode
    expect(() => ok('6100000000')).toThrow(MalformedSyncMessageError) // bytes after infinity
    expect(() => ok('61020000' + '010000')).toThrow(MalformedSyncMessageError) // bound not increasing (ts 1, then 1)
    expect(() => ok('610100' + '00')).toThrow(MalformedSyncMessageError) // upper == lower (0, empty)
    expect(() => ok('610221' + '00'.repeat(33) + '00')).toThrow(MalformedSyncMessageError) // prefix of 33 bytes
    expect(() => ok('6100000205' + '00'.repeat(64))).toThrow(MalformedSyncMessageError) // 5 ids, 2 present
    expect(() => ok('6100000202' + '11'.repeat(64))).toThrow(MalformedSyncMessageError) // duplicate ids
    expect(() => ok('61000001' + '00'.repeat(15))).toThrow(MalformedSyncMessageError) // short fingerprint
    expect(() => decodeMessage(new Uint8Array(DEFAULT_FRAME_SIZE_LIMIT + 1).fill(0x61))).toThrow(SyncLimitError)
    // DEFAULT_MAX_RANGES + 1 skip ranges with increasing timestamps
    const many = Buffer.concat([Buffer.of(0x61), Buffer.from('020000'.repeat(DEFAULT_MAX_RANGES + 1), 'hex')])
    expect(() => decodeMessage(many)).toThrow(SyncLimitError)
  })

  it('never throws anything but a typed protocol error on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const bytes = Uint8Array.from([0x61, ...tail])
        try {
          decodeMessage(bytes)
        } catch (e) {
          expect(e).toBeInstanceOf(MalformedSyncMessageError)
        }
      }),
      { numRuns: 2000 }
    )
  })
})

describe('Reconciler', () => {
  it('identical sets finish in one round trip with a small exchange', async () => {
    const items = makeItems(10_000)
    const s = await runSession(new MemorySyncItemSource(items), new MemorySyncItemSource(items))
    expect(s.have).toEqual([])
    expect(s.need).toEqual([])
    expect(s.rounds).toBe(1)
    expect(s.bytesUp + s.bytesDown).toBeLessThan(1000)
  })

  it('finds 10 differences among 10,000 items (5 each way) with a small fraction of sending all ids', async () => {
    const all = makeItems(10_010)
    const missingOnA = new Set([3, 999, 2000, 4001, 5005].map((i) => i))
    const missingOnB = new Set([17, 3333, 7777, 9000, 10_005])
    const a = all.filter((_, i) => !missingOnA.has(i))
    const b = all.filter((_, i) => !missingOnB.has(i))
    const s = await runSession(new MemorySyncItemSource(a), new MemorySyncItemSource(b))
    expect(new Set(s.need)).toEqual(new Set([...missingOnA].map((i) => hex(all[i]!.id))))
    expect(new Set(s.have)).toEqual(new Set([...missingOnB].map((i) => hex(all[i]!.id))))
    const naive = 10_000 * 32
    expect(s.bytesUp + s.bytesDown).toBeLessThan(naive * 0.05)
  })

  it('keeps every message within the frame size and range limits (10,000 disjoint items)', async () => {
    const a = new MemorySyncItemSource(makeItems(10_000))
    const b = new MemorySyncItemSource(makeItems(10_000, 1000, 20_000))
    const s = await runSession(a, b, { frameSizeLimit: 8192, maxRanges: 128 })
    expect(s.need).toHaveLength(10_000)
    expect(s.have).toHaveLength(10_000)
    expect(s.maxMessage).toBeLessThanOrEqual(8192)
    for (const m of s.transcript) expect(decodeMessage(m, { frameSizeLimit: 8192, maxRanges: 128 }).length).toBeLessThanOrEqual(128)
  })

  it('empty initiator against a full responder, and the reverse', async () => {
    const items = makeItems(3000)
    const s1 = await runSession(new MemorySyncItemSource(), new MemorySyncItemSource(items))
    expect(s1.need).toHaveLength(3000)
    expect(s1.have).toHaveLength(0)
    const s2 = await runSession(new MemorySyncItemSource(items), new MemorySyncItemSource())
    expect(s2.have).toHaveLength(3000)
    expect(s2.need).toHaveLength(0)
  })

  it('separates items that share a timestamp by id prefixes', async () => {
    const same = Array.from({ length: 500 }, (_, n) => makeItem(n, 42))
    const a = same.filter((_, i) => i % 7 !== 0)
    const b = same.filter((_, i) => i % 11 !== 0)
    const s = await runSession(new MemorySyncItemSource(a), new MemorySyncItemSource(b))
    const A = new Set(a.map((i) => hex(i.id)))
    const B = new Set(b.map((i) => hex(i.id)))
    expect(new Set(s.need)).toEqual(new Set([...B].filter((x) => !A.has(x))))
    expect(new Set(s.have)).toEqual(new Set([...A].filter((x) => !B.has(x))))
  })

  it('an asynchronous source gives the same transcript as the in-memory one', async () => {
    const mem = (items: SyncItem[]) => new MemorySyncItemSource(items)
    const asyncOf = (m: MemorySyncItemSource): SyncItemSource => ({
      count: async (l, u) => m.count(l, u),
      iterate: (l, u) =>
        (async function* () {
          for (const item of m.iterate(l, u)) yield item
        })()
    })
    const all = makeItems(3000, 1000).map((it, i) => ({ ...it, timestamp: 1_700_000_000_000 + Math.floor(i / 5) * 1000 }))
    const a = all.filter((_, i) => i % 101 !== 0)
    const b = all.filter((_, i) => i % 97 !== 0)
    const run = async (x: SyncItemSource, y: SyncItemSource) => {
      const ini = new Reconciler(x)
      const res = new Reconciler(y)
      const out: string[] = []
      let msg: Uint8Array | undefined = await ini.initiate()
      while (msg !== undefined) {
        out.push(hex(msg))
        const reply: Uint8Array = (await res.reconcile(msg)).reply!
        out.push(hex(reply))
        msg = (await ini.reconcile(reply)).reply
      }
      return out
    }
    expect(await run(asyncOf(mem(a)), asyncOf(mem(b)))).toEqual(await run(mem(a), mem(b)))
  })

  it('a packed snapshot answers like the source it was read from, and falls back when too large', async () => {
    const items = makeItems(2000).map((it, i) => ({ ...it, timestamp: Math.floor(i / 7) }))
    const mem = new MemorySyncItemSource(items)
    const snap = await snapshotSource(mem, 5000)
    expect(snap).toBeInstanceOf(PackedSyncItemSource)
    const other = new MemorySyncItemSource(items.filter((_, i) => i % 9 !== 0))
    const viaSnap = await runSession(other, snap)
    const viaMem = await runSession(other, mem)
    expect(viaSnap.transcript.map(hex)).toEqual(viaMem.transcript.map(hex))
    expect(viaSnap.need).toHaveLength(223)
    expect(await snapshotSource(mem, 1999)).toBe(mem)
  })

  it('is a one-shot initiator and rejects misuse', async () => {
    const r = new Reconciler(new MemorySyncItemSource())
    await r.initiate()
    await expect(r.initiate()).rejects.toThrow(SyncUsageError)
    expect(() => new Reconciler(new MemorySyncItemSource(), { frameSizeLimit: 100 })).toThrow(SyncUsageError)
  })

  it('property: after a session both sides can reach A ∪ B, reporting each id once', async () => {
    // ids are unique per item (an envelope has one timestamp); timestamps collide often
    const itemArb = fc.integer({ min: 0, max: 5000 }).map((n) => ({ n, ts: (n * 7919) % 50 }))
    await fc.assert(
      fc.asyncProperty(
        fc.array(itemArb, { maxLength: 2500, size: 'max' }),
        fc.array(itemArb, { maxLength: 600, size: 'max' }),
        fc.array(itemArb, { maxLength: 600, size: 'max' }),
        fc.constantFrom(4096, 65_536),
        async (shared, onlyA, onlyB, frameSizeLimit) => {
          const mk = (x: { n: number; ts: number }): SyncItem => makeItem(x.n, x.ts)
          const a = new MemorySyncItemSource([...shared, ...onlyA].map(mk))
          const b = new MemorySyncItemSource([...shared, ...onlyB].map(mk))
          const key = (i: SyncItem) => `${i.timestamp}:${hex(i.id)}`
          const A = new Map(a.items().map((i) => [hex(i.id), i]))
          const B = new Map(b.items().map((i) => [hex(i.id), i]))
          const union = new Set([...a.items(), ...b.items()].map(key))
          const s = await runSession(a, b, { frameSizeLimit })
          expect(new Set(s.have).size).toBe(s.have.length)
          expect(new Set(s.need).size).toBe(s.need.length)
          for (const id of s.need) a.add(B.get(id)!)
          for (const id of s.have) b.add(A.get(id)!)
          expect(new Set(a.items().map(key))).toEqual(union)
          expect(new Set(b.items().map(key))).toEqual(union)
          expect(s.maxMessage).toBeLessThanOrEqual(frameSizeLimit)
        }
      ),
      { numRuns: 40 }
    )
  }, 120_000)
})
