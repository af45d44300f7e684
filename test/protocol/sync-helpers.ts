// Shared helpers of the sync tests: deterministic item sets and a driver that runs a whole session.
import { createHash } from 'node:crypto'
import { Reconciler, type ReconcilerOptions, type SyncItem, type SyncItemSource } from '../../src/protocol/sync/index.js'

/** A deterministic item: id = SHA-256("item" || u32be(n)), timestamp from the caller. */
export function makeItem(n: number, timestamp: number): SyncItem {
  const seed = Buffer.alloc(8)
  seed.write('item', 0)
  seed.writeUInt32BE(n, 4)
  return { timestamp, id: new Uint8Array(createHash('sha256').update(seed).digest()) }
}

/** Items 0..count-1 with timestamps 1_700_000_000_000 + n * step. */
export function makeItems(count: number, step = 1000, offset = 0): SyncItem[] {
  const out: SyncItem[] = []
  for (let n = offset; n < offset + count; n++) out.push(makeItem(n, 1_700_000_000_000 + n * step))
  return out
}

export const hex = (id: Uint8Array): string => Buffer.from(id).toString('hex')

export interface SessionStats {
  have: string[]
  need: string[]
  rounds: number
  bytesUp: number
  bytesDown: number
  maxMessage: number
  transcript: Uint8Array[]
}

/** Runs initiator `a` against responder `b` until done; returns what a learnt and the traffic. */
export async function runSession(a: SyncItemSource, b: SyncItemSource, options: ReconcilerOptions = {}, maxRounds = 1000): Promise<SessionStats> {
  const ini = new Reconciler(a, options)
  const res = new Reconciler(b, options)
  const stats: SessionStats = { have: [], need: [], rounds: 0, bytesUp: 0, bytesDown: 0, maxMessage: 0, transcript: [] }
  let msg: Uint8Array | undefined = await ini.initiate()
  while (msg !== undefined) {
    if (stats.rounds++ > maxRounds) throw new Error('no termination')
    stats.transcript.push(msg)
    stats.bytesUp += msg.length
    stats.maxMessage = Math.max(stats.maxMessage, msg.length)
    const reply = await res.reconcile(msg)
    if (reply.reply === undefined) throw new Error('responder must always reply')
    stats.transcript.push(reply.reply)
    stats.bytesDown += reply.reply.length
    stats.maxMessage = Math.max(stats.maxMessage, reply.reply.length)
    const next = await ini.reconcile(reply.reply)
    stats.have.push(...next.haveIds.map(hex))
    stats.need.push(...next.needIds.map(hex))
    msg = next.reply
  }
  return stats
}
