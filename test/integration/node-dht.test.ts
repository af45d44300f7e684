// Three real nodes on 127.0.0.1 that know only one bootstrap address find each other, and DHT records
// put by one are got by another, with a validator that refuses forged and oversized records and a
// selector that picks the newest.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { concatBytes, equalBytes, utf8 } from '../../src/crypto/primitives.js'
import { RecordRejectedError, type SottoNode } from '../../src/node/index.js'
import { libp2pOf } from '../../src/node/internal.js'
import { Cluster, makeTestRecord, TEST_RECORD_MAX } from '../node/helpers.js'

/** Sends a record with kad-dht's own put (no local check) and counts the peers that stored it. */
async function rawPutAccepts(node: SottoNode, key: Uint8Array, value: Uint8Array): Promise<number> {
  let accepted = 0
  for await (const ev of libp2pOf(node).services.dht.put(key, value, { signal: AbortSignal.timeout(5000) })) {
    if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'PUT_VALUE') accepted++
  }
  return accepted
}

describe('node: DHT between three nodes', () => {
  const cluster = new Cluster()
  let a: SottoNode
  let b: SottoNode
  let c: SottoNode

  beforeAll(async () => {
    a = await cluster.node()
    const boot = [a.addresses()[0]]
    b = await cluster.node({ bootstrap: boot })
    c = await cluster.node({ bootstrap: boot })
    await Promise.all([b.waitForDhtPeers(2), c.waitForDhtPeers(2), a.waitForDhtPeers(2)])
  })
  afterAll(() => cluster.stopAll())

  it('nodes that know only the bootstrap address find each other', async () => {
    expect(b.peers()).toContain(c.peerId)
    expect(c.peers()).toContain(b.peerId)
    expect(await c.findPeer(b.peerId)).not.toHaveLength(0)
  })

  it('a record put by one node is got by another, and the newest wins', async () => {
    const v1 = makeTestRecord(1, 1, utf8('bundle v1'))
    expect(await b.putRecord(v1.key, v1.value)).toBeGreaterThan(0)
    expect(await c.getRecord(v1.key)).toEqual(new Uint8Array(v1.value))

    const v2 = makeTestRecord(1, 2, utf8('bundle v2'))
    expect(await b.putRecord(v2.key, v2.value)).toBeGreaterThan(0)
    const got = await c.getRecord(v2.key)
    expect(got != null && equalBytes(got, v2.value)).toBe(true)
  })

  it('an older record (a replay) is refused and does not replace the newer one', async () => {
    const newer = makeTestRecord(2, 5, utf8('new'))
    const older = makeTestRecord(2, 4, utf8('old'))
    expect(await b.putRecord(newer.key, newer.value)).toBeGreaterThan(0)
    await expect(c.putRecord(older.key, older.value)).rejects.toBeInstanceOf(RecordRejectedError)
    // Replayed through kad-dht directly, bypassing c's own check: every peer refuses it.
    expect(await rawPutAccepts(c, older.key, older.value)).toBe(0)
    const got = await a.getRecord(newer.key)
    expect(got != null && equalBytes(got, newer.value)).toBe(true)
  })

  it('forged and oversized records are refused locally and by peers', async () => {
    const good = makeTestRecord(3, 1, utf8('genuine'))
    const forged = good.value.slice()
    forged[45] ^= 1
    await expect(b.putRecord(good.key, forged)).rejects.toBeInstanceOf(RecordRejectedError)
    const big = makeTestRecord(3, 2, new Uint8Array(TEST_RECORD_MAX))
    await expect(b.putRecord(big.key, big.value)).rejects.toBeInstanceOf(RecordRejectedError)

    // Bypass b's own check and send the forgery through kad-dht directly: no peer stores it.
    expect(await rawPutAccepts(b, good.key, forged)).toBe(0)
    expect(await c.getRecord(good.key, { timeoutMs: 3000 })).toBeUndefined()
  })

  it('a key with an unknown prefix is refused', async () => {
    await expect(b.putRecord('/unknown/x', concatBytes(utf8('x')))).rejects.toThrow()
  })
})
