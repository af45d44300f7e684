// Test helpers of the sync service: an in-memory envelope holder per node, wired to createSyncService.
import { createHash, randomBytes } from 'node:crypto'
import { MemorySyncItemSource } from '../../src/protocol/sync/index.js'
import type { EnvelopeVerdict, SyncServiceInit } from '../../src/node/sync.js'

export const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** A test envelope: u64be(timestamp) || random bytes; id = SHA-256(bytes). */
export interface TestEnvelope {
  id: Uint8Array
  timestamp: number
  bytes: Uint8Array
}

export function makeEnvelopes(count: number, size = 600, t0 = 1_700_000_000_000): TestEnvelope[] {
  const out: TestEnvelope[] = []
  for (let i = 0; i < count; i++) {
    // timestamps are whole seconds, as envelope timestamps are: many envelopes share one
    const timestamp = t0 + Math.floor(i / 3) * 1000
    const bytes = new Uint8Array(randomBytes(size))
    new DataView(bytes.buffer).setBigUint64(0, BigInt(timestamp))
    out.push({ id: new Uint8Array(createHash('sha256').update(bytes).digest()), timestamp, bytes })
  }
  return out
}

/** What one node holds: per topic, a sorted item set and the envelopes by id. */
export class Holder {
  readonly topics = new Map<string, { source: MemorySyncItemSource; envelopes: Map<string, TestEnvelope> }>()
  /** onEnvelope calls per id (hex), and the ids stored by them. */
  readonly deliveries = new Map<string, number>()
  readonly stored = new Set<string>()
  /** Called after each onEnvelope (tests use it to interrupt a transfer). */
  afterEnvelope: ((count: number) => void) | undefined

  serve(topic: string, envelopes: TestEnvelope[] = []): this {
    const t = this.topics.get(topic) ?? { source: new MemorySyncItemSource(), envelopes: new Map() }
    this.topics.set(topic, t)
    for (const e of envelopes) this.put(topic, e)
    return this
  }

  put(topic: string, e: TestEnvelope): boolean {
    const t = this.topics.get(topic)!
    if (t.envelopes.has(hex(e.id))) return false
    t.envelopes.set(hex(e.id), e)
    t.source.add({ timestamp: e.timestamp, id: e.id })
    return true
  }

  ids(topic: string): Set<string> {
    return new Set(this.topics.get(topic)?.envelopes.keys() ?? [])
  }

  /** The injected dependencies of createSyncService. */
  deps(): Pick<SyncServiceInit, 'topics' | 'source' | 'getEnvelope' | 'onEnvelope'> {
    return {
      topics: () => [...this.topics.keys()],
      source: (topic) => this.topics.get(topic)!.source,
      getEnvelope: async (topic, id) => this.topics.get(topic)?.envelopes.get(hex(id))?.bytes,
      onEnvelope: async (topic, id, bytes): Promise<EnvelopeVerdict> => {
        // Stands in for the app's validation: the id must be the hash of the bytes.
        if (bytes.length < 8 || hex(createHash('sha256').update(bytes).digest()) !== hex(id)) return 'invalid'
        const timestamp = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0))
        const stored = this.put(topic, { id, bytes, timestamp })
        this.deliveries.set(hex(id), (this.deliveries.get(hex(id)) ?? 0) + 1)
        if (stored) this.stored.add(hex(id))
        this.afterEnvelope?.(this.stored.size)
        return stored
      }
    }
  }
}
