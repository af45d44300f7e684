// Restarting a node from its exported peer key and its data directory keeps its peer id, and the peer
// store (the node reconnects to remembered peers) and the DHT records it held survive in LevelDB.
import { afterAll, describe, expect, it } from 'vitest'
import { utf8 } from '../../src/crypto/primitives.js'
import { createSottoNode, generatePeerKey, InvalidPeerKeyError, peerIdOfKey } from '../../src/node/index.js'
import { Cluster, LOOPBACK, makeTestRecord, testRecordType } from '../node/helpers.js'

describe('node: restart', () => {
  const cluster = new Cluster()
  afterAll(() => cluster.stopAll())

  it('keeps the peer id, the peer store and held records across a restart', async () => {
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
    await first.putRecord(rec.key, rec.value)
    await first.stop()

    const second = await createSottoNode(init)
    // No bootstrap list: the node reconnects to the peers its store remembers.
    const reconnected = second.once('peer:connect', (e) => e.peerId === other.peerId, AbortSignal.timeout(10_000))
    await second.start()
    try {
      expect(second.peerId).toBe(first.peerId)
      expect(await second.knownPeers()).toContain(other.peerId)
      await reconnected
      // other is stopped: second answers from its own store.
      await other.stop()
      expect(await second.getRecord(rec.key, { timeoutMs: 2000 })).toEqual(new Uint8Array(rec.value))
      // The same instance stops and starts again on its reopened store.
      await second.stop()
      await second.start()
      expect(await second.getRecord(rec.key, { timeoutMs: 2000 })).toEqual(new Uint8Array(rec.value))
    } finally {
      await second.stop()
    }
  })

  it('refuses a malformed peer key', async () => {
    await expect(createSottoNode({ peerKey: new Uint8Array([1, 2, 3]) })).rejects.toBeInstanceOf(InvalidPeerKeyError)
  })
})
