// Restarting a node from its exported peer key and its data directory keeps its peer id and the peer
// store (the node reconnects to remembered peers). DHT records are kept in memory only (PROTOCOL.md 13.10):
// they are not in the directory and do not come back with a restart; the network still has them.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { utf8 } from '../../src/crypto/primitives.js'
import { createSottoNode, generatePeerKey, InvalidPeerKeyError, peerIdOfKey } from '../../src/node/index.js'
import { Cluster, LOOPBACK, makeTestRecord, testRecordType } from '../node/helpers.js'

describe('node: restart', () => {
  const cluster = new Cluster()
  afterAll(() => cluster.stopAll())

  it('keeps the peer id and the peer store across a restart, and DHT records off the disk', async () => {
    const dir = await cluster.tempDir()
    const other = await cluster.node()
    const key = await generatePeerKey()
    const init = { peerKey: key, peerStorePath: dir, listen: LOOPBACK, records: { 'sotto-test': testRecordType } }

    const first = await createSottoNode(init)
    await first.start()
    expect(first.peerId).toBe(peerIdOfKey(key))
    expect(first.exportPeerKey()).toEqual(key)
    await first.dial(other.addresses()[0])
    await first.waitForDhtPeers(1)
    const rec = makeTestRecord(7, 1, utf8('held'))
    expect(await first.putRecord(rec.key, rec.value)).toBe(1)
    expect(first.heldRecords('sotto-test')).toBe(1)
    await first.stop()
    // The record is in no file of the directory (LevelDB holds only the peer store).
    const files = readdirSync(dir).map((f) => readFileSync(join(dir, f)))
    expect(files.length).toBeGreaterThan(0)
    expect(files.filter((f) => f.includes(Buffer.from(rec.value)))).toEqual([])

    const second = await createSottoNode(init)
    // No bootstrap list: the node reconnects to the peers its store remembers.
    const reconnected = second.once('peer:connect', (e) => e.peerId === other.peerId, AbortSignal.timeout(10_000))
    await second.start()
    try {
      expect(second.peerId).toBe(first.peerId)
      expect(await second.knownPeers()).toContain(other.peerId)
      await reconnected
      // Nothing held came back from the disk; the peer that stored the record still serves it.
      expect(second.heldRecords('sotto-test')).toBe(0)
      await second.waitForDhtPeers(1, AbortSignal.timeout(10_000))
      expect(await second.getRecord(rec.key, { timeoutMs: 2000 })).toEqual(new Uint8Array(rec.value))
      // The same instance stops and starts again on its reopened peer store.
      await other.stop()
      await second.stop()
      await second.start()
      expect(await second.knownPeers()).toContain(other.peerId)
    } finally {
      await second.stop()
    }
  })

  it('refuses a malformed peer key', async () => {
    await expect(createSottoNode({ peerKey: new Uint8Array([1, 2, 3]) })).rejects.toBeInstanceOf(InvalidPeerKeyError)
  })
})
