// Store-and-forward sync between real sotto nodes (TCP on 127.0.0.1) over real LevelDB stores in temp
// directories. Argon2id in these stores: TEST_ARGON2 (opsLimit 1, memLimit 8192), a test-only setting.
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import { createSottoNode, type SottoNode } from '../../src/node/index.js'
import { createSyncService, type EnvelopeVerdict, type SyncService } from '../../src/node/sync.js'
import { envelopeStoreSource, MemorySyncItemSource, Reconciler, type SyncItemSource } from '../../src/protocol/sync/index.js'
import { type LevelStore, openLevelStore } from '../../src/store/index.js'
import { hex, makeEnvelopes, type TestEnvelope } from '../node/sync-helpers.js'

const TOPIC = '/sotto/1/c/' + '33'.repeat(32)
const topicKey = (t: string) => new Uint8Array(createHash('sha256').update(t).digest())

/** One peer: a LevelDB store, a node and its sync service; can stop and come back on the same store. */
class Peer {
  store!: LevelStore
  node!: SottoNode
  sync!: SyncService
  /** putEnvelope() == true per id, across restarts. */
  readonly stored = new Map<string, number>()
  onStored: ((count: number) => void) | undefined

  constructor(readonly dir: string) {}

  async openStore(): Promise<void> {
    this.store = await openLevelStore(this.dir, 'sync test passphrase', { create: true, argon2: TEST_ARGON2 })
  }

  async fill(envelopes: TestEnvelope[]): Promise<void> {
    const batch = this.store.batch()
    for (const e of envelopes) batch.putEnvelope(topicKey(TOPIC), e.id, e.timestamp, e.bytes)
    await batch.commit()
  }

  async start(): Promise<void> {
    this.node = await createSottoNode({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })
    await this.node.start()
    this.sync = createSyncService({
      node: this.node,
      intervalMs: 0,
      topics: () => [TOPIC],
      source: (t) => envelopeStoreSource(this.store, topicKey(t)),
      getEnvelope: async (t, id) => (await this.store.getEnvelope(topicKey(t), id))?.bytes,
      onEnvelope: async (t, id, bytes): Promise<EnvelopeVerdict> => {
        // Stands in for the app's gossip path (decode, verify, decrypt): here, id = SHA-256(bytes) and
        // the timestamp is the first 8 bytes of the test envelope.
        if (hex(createHash('sha256').update(bytes).digest()) !== hex(id)) return 'invalid'
        const ts = Number(new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0))
        const added = await this.store.putEnvelope(topicKey(t), id, ts, bytes)
        if (added) {
          this.stored.set(hex(id), (this.stored.get(hex(id)) ?? 0) + 1)
          this.onStored?.(this.stored.size)
        }
        return added
      }
    })
    await this.sync.start()
  }

  async stop(): Promise<void> {
    await this.sync.stop()
    await this.node.stop()
  }

  async close(): Promise<void> {
    await this.stop()
    await this.store.close()
  }

  async keys(): Promise<string[]> {
    const out: string[] = []
    for await (const k of this.store.listEnvelopeKeys(topicKey(TOPIC))) out.push(`${k.timestamp}:${hex(k.id)}`)
    return out
  }

  /** Resolves when `n` envelopes were stored by sync. */
  storedCount(n: number): Promise<void> {
    return new Promise((resolve) => {
      this.onStored = (count) => count >= n && resolve()
    })
  }
}

describe('sync with LevelDB stores between real nodes', () => {
  const dirs: string[] = []
  const peers: Peer[] = []

  async function peer(): Promise<Peer> {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-sync-'))
    dirs.push(dir)
    const p = new Peer(dir)
    await p.openStore()
    peers.push(p)
    return p
  }

  afterEach(async () => {
    for (const p of peers.splice(0)) await p.close().catch(() => undefined)
    await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
  })

  it('a reconciler reads a LevelDB topic exactly as the same items in memory (prefix bounds included)', async () => {
    const a = await peer()
    const b = await peer()
    const envelopes = makeEnvelopes(1200) // 3 per second: many bounds need id prefixes
    await a.fill(envelopes.filter((_, i) => i % 50 !== 7))
    await b.fill(envelopes.filter((_, i) => i % 40 !== 3))
    const transcript = async (x: SyncItemSource, y: SyncItemSource) => {
      const ini = new Reconciler(x)
      const res = new Reconciler(y)
      const out: string[] = []
      let need = 0
      let msg: Uint8Array | undefined = await ini.initiate()
      while (msg !== undefined) {
        out.push(hex(msg))
        const reply = (await res.reconcile(msg)).reply!
        out.push(hex(reply))
        const step = await ini.reconcile(reply)
        need += step.needIds.length
        msg = step.reply
      }
      return { out, need }
    }
    const memOf = async (p: Peer) => {
      const items = []
      for await (const k of p.store.listEnvelopeKeys(topicKey(TOPIC))) items.push(k)
      return new MemorySyncItemSource(items)
    }
    const fromStore = await transcript(envelopeStoreSource(a.store, topicKey(TOPIC)), envelopeStoreSource(b.store, topicKey(TOPIC)))
    const inMemory = await transcript(await memOf(a), await memOf(b))
    expect(fromStore.out).toEqual(inMemory.out)
    expect(fromStore.need).toBe(24)
    expect(fromStore.out.length).toBeGreaterThan(2)
  })

  it('B was offline while A held 2,000 envelopes: B connects and ends with all of them, each once', async () => {
    const a = await peer()
    const b = await peer()
    const envelopes = makeEnvelopes(2000)
    await a.fill(envelopes)
    await a.start()
    await b.start() // B comes online
    const all = b.storedCount(2000)
    await b.node.dial(a.node.addresses()[0]!)
    await all
    expect(await b.keys()).toEqual(await a.keys())
    expect(b.stored.size).toBe(2000)
    for (const n of b.stored.values()) expect(n).toBe(1)
    // the next sync finds nothing to do
    const again = await b.sync.syncTopic(a.node.peerId, TOPIC)
    expect(again).toMatchObject({ haveCount: 0, needCount: 0, fetched: 0, pushed: 0 })
  })

  it('the only node online is a relay: posters gone, the member still gets everything', async () => {
    const poster = await peer()
    const relay = await peer()
    const member = await peer()
    await poster.fill(makeEnvelopes(600))
    await poster.start()
    await relay.start()
    const relayFull = relay.storedCount(600)
    await relay.node.dial(poster.node.addresses()[0]!)
    await relayFull
    await poster.stop() // the poster goes offline before the member returns
    await member.start()
    const memberFull = member.storedCount(600)
    await member.node.dial(relay.node.addresses()[0]!)
    await memberFull
    expect(await member.keys()).toEqual(await relay.keys())
    for (const n of member.stored.values()) expect(n).toBe(1)
    await poster.start() // so that afterEach can stop it again
  })

  it('a node stopped in the middle of a sync completes after a restart, nothing lost or stored twice', async () => {
    const a = await peer()
    const b = await peer()
    await a.fill(makeEnvelopes(2000))
    await a.start()
    await b.start()
    // B goes down abruptly (node stopped, store closed) once it has stored 700.
    let crashed!: () => void
    const down = new Promise<void>((r) => (crashed = r))
    b.onStored = (n) => {
      if (n === 700) {
        b.onStored = undefined
        void b.close().then(crashed)
      }
    }
    await b.node.dial(a.node.addresses()[0]!)
    await down
    const before = b.stored.size
    expect(before).toBeGreaterThanOrEqual(700)
    expect(before).toBeLessThan(2000)
    // Restart on the same directory.
    await b.openStore()
    expect((await b.keys()).length).toBe(before)
    await b.start()
    const rest = b.storedCount(2000)
    await b.node.dial(a.node.addresses()[0]!)
    await rest
    expect(await b.keys()).toEqual(await a.keys())
    for (const n of b.stored.values()) expect(n).toBe(1)
  })
})
