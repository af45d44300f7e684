// Generator of test/vectors/sync.json (docs/PROTOCOL.md §15, §16). With WRITE_VECTORS=1 it writes the file;
// otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { concatBytes, sha256, toHex, utf8 } from '../../src/crypto/primitives.js'
import {
  encodeFrame,
  FrameType,
  fingerprintOf,
  MemorySyncItemSource,
  Reconciler,
  type ReconcilerOptions,
  type SyncFrame,
  type SyncItem
} from '../../src/protocol/sync/index.js'

const FILE = fileURLToPath(new URL('./sync.json', import.meta.url))

/** Item i: id = SHA-256("sotto/vectors/sync/" || u32be(i)), timestamp = 1,700,000,000,000 + floor(i / 4) * 1000. */
function item(i: number): SyncItem {
  const n = new Uint8Array(4)
  new DataView(n.buffer).setUint32(0, i)
  return { timestamp: 1_700_000_000_000 + Math.floor(i / 4) * 1000, id: sha256(concatBytes(utf8('sotto/vectors/sync/'), n)) }
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** A set of items by index: `list`, or every i in [0, count) not in `except`. */
type IndexSet = { list: number[] } | { count: number; except: number[] }

function indices(set: IndexSet): number[] {
  if ('list' in set) return set.list
  return range(set.count).filter((i) => !set.except.includes(i))
}

interface SessionCase {
  name: string
  options: Required<ReconcilerOptions>
  initiator: IndexSet
  responder: IndexSet
}

const CASES: SessionCase[] = [
  {
    // Both sides small: the initiator's IdList is answered by the responder's.
    name: 'idlist',
    options: { frameSizeLimit: 65_536, maxRanges: 4_096 },
    initiator: { list: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] },
    responder: { list: [0, 2, 4, 6, 8, 10, 12] }
  },
  {
    // 2,000 items, 3 and 2 missing: fingerprints, splits into 16 buckets at two levels, IdLists, Skips.
    name: 'split',
    options: { frameSizeLimit: 65_536, maxRanges: 4_096 },
    initiator: { count: 2000, except: [3, 777, 1500] },
    responder: { count: 2000, except: [1000, 1999] }
  },
  {
    // A small initiator against 300 items with the smallest frame size: the responder cuts its IdList
    // and closes each message with a fingerprint of the rest (§15.6).
    name: 'frame-limit',
    options: { frameSizeLimit: 4_096, maxRanges: 4_096 },
    initiator: { list: [0, 50, 100, 150, 200] },
    responder: { count: 300, except: [] }
  }
]

async function session(c: SessionCase) {
  const a = new Reconciler(new MemorySyncItemSource(indices(c.initiator).map(item)), c.options)
  const b = new Reconciler(new MemorySyncItemSource(indices(c.responder).map(item)), c.options)
  const messages: string[] = []
  const have: string[] = []
  const need: string[] = []
  let msg: Uint8Array | undefined = await a.initiate()
  while (msg !== undefined) {
    messages.push(toHex(msg))
    const reply = (await b.reconcile(msg)).reply!
    messages.push(toHex(reply))
    const step = await a.reconcile(reply)
    have.push(...step.haveIds.map(toHex))
    need.push(...step.needIds.map(toHex))
    msg = step.reply
  }
  return {
    name: c.name,
    frameSizeLimit: c.options.frameSizeLimit,
    maxRanges: c.options.maxRanges,
    initiatorItems: c.initiator,
    responderItems: c.responder,
    messages,
    have,
    need
  }
}

function frames() {
  const id = (i: number) => item(i).id
  const list: { name: string; frame: SyncFrame }[] = [
    { name: 'OPEN', frame: { type: FrameType.Open, topic: '/sotto/1/c/' + '00'.repeat(32), message: Uint8Array.of(0x61, 0x00, 0x00, 0x02, 0x00) } },
    { name: 'RECONCILE', frame: { type: FrameType.Reconcile, message: Uint8Array.of(0x61) } },
    { name: 'WANT', frame: { type: FrameType.Want, ids: [id(0), id(1)] } },
    { name: 'SIZES', frame: { type: FrameType.Sizes, sizes: [512, 0] } },
    { name: 'FETCH', frame: { type: FrameType.Fetch, ids: [id(0)] } },
    { name: 'ENVELOPES', frame: { type: FrameType.Envelopes, envelopes: [{ id: id(0), bytes: utf8('ciphertext') }] } },
    { name: 'ACK', frame: { type: FrameType.Ack, stored: 1 } },
    { name: 'DONE', frame: { type: FrameType.Done } },
    { name: 'REJECT', frame: { type: FrameType.Reject, reason: 1 } }
  ]
  return list.map(({ name, frame }) => ({ name, hex: toHex(encodeFrame(frame)) }))
}

async function build() {
  const ids = range(3).map((i) => item(i).id)
  return {
    description: 'sotto sync (docs/PROTOCOL.md §15): fingerprints, full reconciliation transcripts, transfer frames',
    itemRule:
      'item i: id = SHA-256("sotto/vectors/sync/" || u32be(i)); timestamp = 1700000000000 + floor(i / 4) * 1000. ' +
      'A set of items is {"list": [i, ...]} or {"count": n, "except": [i, ...]} (every i in 0..n-1 not listed). ' +
      'messages alternate initiator, responder, starting with the initiator; have/need are what the initiator reports, in order.',
    items: range(3).map((i) => ({ index: i, timestamp: item(i).timestamp, id: toHex(item(i).id) })),
    fingerprints: [
      { ids: [], fingerprint: toHex(fingerprintOf([])) },
      { ids: ids.slice(0, 1).map(toHex), fingerprint: toHex(fingerprintOf(ids.slice(0, 1))) },
      { ids: ids.map(toHex), fingerprint: toHex(fingerprintOf(ids)) },
      { ids: ['ff'.repeat(32), '01' + '00'.repeat(31)], fingerprint: toHex(fingerprintOf([new Uint8Array(32).fill(0xff), Uint8Array.of(1, ...new Uint8Array(31))])) }
    ],
    sessions: await Promise.all(CASES.map(session)),
    frames: frames()
  }
}

describe('sync vectors', () => {
  it('reproduces test/vectors/sync.json', async () => {
    const text = JSON.stringify(await build(), null, 2) + '\n'
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
