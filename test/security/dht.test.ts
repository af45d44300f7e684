// Attacks 6 and 17 against real nodes on 127.0.0.1: the node's record check (src/node/node.ts checkRecord)
// with the protocol layer's prekey record validator and selector (src/protocol/records.ts), as the app
// registers them. An attacker node runs a validator that accepts anything, so it stores and serves junk.
import { generateKeyPair, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { concatBytes, equalBytes, utf8 } from '../../src/crypto/primitives.js'
import { DEFAULT_MAX_RECORD_SIZE, RecordRejectedError, type RecordType, type SottoNode } from '../../src/node/index.js'
import { DHT_PUTS_PER_PEER, MAX_RECORDS_PER_NAMESPACE } from '../../src/node/config.js'
import { libp2pOf } from '../../src/node/internal.js'
import {
  encodePrekeyRecord,
  MAX_PREKEY_RECORD_BYTES,
  PREKEY_RECORD_NAMESPACE,
  prekeyRecordKey,
  selectPrekeyRecord,
  validatePrekeyRecord
} from '../../src/protocol/index.js'
import { Cluster } from '../node/helpers.js'

/** The record type the app registers (src/app/index.ts). */
const prekeyRecords: RecordType = {
  validate: (key, value) => {
    validatePrekeyRecord(key, value)
  },
  select: (key, values) => selectPrekeyRecord(key, values)
}
/** The attacker's: stores anything, the latest value replacing what it held. */
const permissive: RecordType = { validate: () => undefined, select: (_key, values) => values.length - 1 }

/** Sends a record with kad-dht's own put (no local check) and counts the peers that stored it. */
async function rawPutAccepts(node: SottoNode, key: Uint8Array, value: Uint8Array): Promise<number> {
  return (await rawPutAcceptedBy(node, key, value)).length
}

/** Sends a record with kad-dht's own put (no local check); the peer ids that stored it. */
async function rawPutAcceptedBy(node: SottoNode, key: Uint8Array, value: Uint8Array, timeoutMs = 5000): Promise<string[]> {
  const accepted: string[] = []
  for await (const ev of libp2pOf(node).services.dht.put(key, value, { signal: AbortSignal.timeout(timeoutMs) })) {
    if (ev.name === 'PEER_RESPONSE' && ev.messageName === 'PUT_VALUE') accepted.push(ev.from.toString())
  }
  return accepted
}

/** A valid prekey record of a new throwaway identity, and its key. */
function throwawayRecord(): { key: Uint8Array; value: Uint8Array } {
  const id = IdentityKeyPair.generate()
  const value = encodePrekeyRecord(LocalPrekeys.generate(id, { oneTimeCount: 0, pq: false }).bundle(id).encode())
  return { key: prekeyRecordKey(id.publicKey.signingKey), value }
}

/** A protobuf PrekeyRecord (version 1) around arbitrary bundle bytes, bypassing encodePrekeyRecord's checks. */
function rawRecord(bundle: Uint8Array): Uint8Array {
  const len: number[] = []
  let n = bundle.length
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    len.push(b)
  } while (n > 0)
  return concatBytes(Uint8Array.of(0x08, 0x01, 0x12, ...len), bundle)
}

describe('DHT records under attack', () => {
  const cluster = new Cluster()
  let honest: SottoNode
  let victim: SottoNode
  let mallory: SottoNode
  const alice = IdentityKeyPair.generate()
  const alicePrekeys = LocalPrekeys.generate(alice, { oneTimeCount: 4 })
  const key = prekeyRecordKey(alice.publicKey.signingKey)

  beforeAll(async () => {
    honest = await cluster.node({ records: { [PREKEY_RECORD_NAMESPACE]: prekeyRecords } })
    const boot = [honest.addresses()[0]!]
    victim = await cluster.node({ bootstrap: boot, records: { [PREKEY_RECORD_NAMESPACE]: prekeyRecords } })
    mallory = await cluster.node({ bootstrap: boot, records: { [PREKEY_RECORD_NAMESPACE]: permissive, junk: permissive } })
    await Promise.all([honest, victim, mallory].map((n) => n.waitForDhtPeers(2, AbortSignal.timeout(10_000))))
  })
  afterAll(() => cluster.stopAll())

  it('attack 6: a forged, older or oversized prekey bundle is rejected by the DHT validator and by the client', async () => {
    const older = encodePrekeyRecord(alicePrekeys.bundle(alice, { now: 1_000 }).encode())
    const newer = encodePrekeyRecord(alicePrekeys.bundle(alice, { now: 2_000 }).encode())
    expect(await honest.putRecord(key, newer)).toBeGreaterThan(0)

    // Forgeries: a flipped byte (bad signature); Mallory's own bundle under Alice's key; a bundle naming
    // Alice's identity but signed by Mallory.
    const mal = IdentityKeyPair.generate()
    const malBundle = LocalPrekeys.generate(mal, { oneTimeCount: 1 }).bundle(mal).encode()
    const flipped = newer.slice()
    flipped[flipped.length - 10]! ^= 1
    const claimed = malBundle.slice()
    claimed.set(alice.publicKey.serialize(), 1)
    // Oversized: a valid bundle followed by junk, within the node's size bound but beyond the record's.
    const oversized = rawRecord(concatBytes(alicePrekeys.bundle(alice, { now: 3_000 }).encode(), new Uint8Array(MAX_PREKEY_RECORD_BYTES)))
    expect(oversized.length).toBeLessThan(DEFAULT_MAX_RECORD_SIZE)
    const huge = rawRecord(new Uint8Array(DEFAULT_MAX_RECORD_SIZE + 1))
    const bad: Array<[string, Uint8Array]> = [
      ['flipped byte', flipped],
      ["another identity's bundle", encodePrekeyRecord(malBundle)],
      ['identity claimed, signed by another key', encodePrekeyRecord(claimed)],
      ['older (replayed) bundle', older],
      ['oversized record', oversized],
      ['record beyond the node bound', huge]
    ]
    for (const [what, value] of bad) {
      // The honest node's own check refuses to publish it...
      await expect(victim.putRecord(key, value), what).rejects.toBeInstanceOf(RecordRejectedError)
      // ...and when the attacker sends it anyway (its validator accepts anything), no peer stores it.
      expect(await rawPutAccepts(mallory, key, value), what).toBe(0)
    }
    // Mallory holds the forgeries herself and answers queries with them; the client still gets the newest
    // genuine bundle, because every record it receives is checked again.
    await mallory.putRecord(key, flipped)
    const got = await victim.getRecord(key, { timeoutMs: 5_000 })
    expect(got !== undefined && equalBytes(got, newer)).toBe(true)
    expect(validatePrekeyRecord(key, got!).identity.equals(alice.publicKey)).toBe(true)
  })

  it('attack 17: many or large records under sotto keys are bounded: one record per key, size-checked, unknown prefixes refused', async () => {
    // Many versions of one key: each node keeps one (the newest).
    const bob = IdentityKeyPair.generate()
    const bobPrekeys = LocalPrekeys.generate(bob, { oneTimeCount: 1 })
    const bobKey = prekeyRecordKey(bob.publicKey.signingKey)
    let last: Uint8Array = new Uint8Array(0)
    for (let i = 1; i <= 6; i++) {
      last = encodePrekeyRecord(bobPrekeys.bundle(bob, { now: i * 1000 }).encode())
      expect(await rawPutAccepts(mallory, bobKey, last)).toBeGreaterThan(0)
    }
    const kept = await victim.getRecord(bobKey, { timeoutMs: 5_000 })
    expect(kept !== undefined && equalBytes(kept, last)).toBe(true)
    // Junk under random keys of the namespace, under other namespaces, and records of every size up to 1 MiB.
    const junkKeys = [
      utf8(`/${PREKEY_RECORD_NAMESPACE}/${'ab'.repeat(32)}`),
      utf8('/junk/anything'),
      utf8('/ipns/not-ours'),
      utf8(`/${PREKEY_RECORD_NAMESPACE}/${'0'.repeat(5000)}`)
    ]
    for (const k of junkKeys) expect(await rawPutAccepts(mallory, k, encodePrekeyRecord(bobPrekeys.bundle(bob).encode()))).toBe(0)
    for (const size of [MAX_PREKEY_RECORD_BYTES + 1, DEFAULT_MAX_RECORD_SIZE + 1, 1024 * 1024]) {
      expect(await rawPutAccepts(mallory, bobKey, rawRecord(new Uint8Array(size)))).toBe(0)
    }
  })

  it('attack 17: a flood of valid records from throwaway identities is bounded per peer and per namespace', { timeout: 60_000 }, async () => {
    // Each record is valid (its own identity signed it). A fresh attacker node, so that the puts of the
    // tests above do not count against its quota, and a node that keeps at most CAP records per namespace
    // (the default, MAX_RECORDS_PER_NAMESPACE, is too large to fill quickly in a test).
    const CAP = 8
    const boot = [honest.addresses()[0]!]
    const flooder = await cluster.node({ bootstrap: boot, records: { [PREKEY_RECORD_NAMESPACE]: permissive } })
    const capped = await cluster.node({ bootstrap: boot, records: { [PREKEY_RECORD_NAMESPACE]: prekeyRecords }, maxRecordsPerNamespace: CAP })
    await flooder.waitForDhtPeers(4, AbortSignal.timeout(10_000))
    expect(MAX_RECORDS_PER_NAMESPACE).toBe(10_000)
    const held = [honest, victim].map((n) => n.heldRecords(PREKEY_RECORD_NAMESPACE))

    // The flooder sends more records than one peer may put in a minute: every node stores the first
    // DHT_PUTS_PER_PEER and refuses the rest. (A generous time limit per put: on a loaded machine a put
    // cut short would reach fewer nodes and make the counts below smaller.)
    const FLOOD = DHT_PUTS_PER_PEER + 8
    const storedBy = new Map<string, number>()
    const records = Array.from({ length: FLOOD }, () => throwawayRecord())
    for (let i = 0; i < FLOOD; i += 36) {
      const batch = await Promise.all(records.slice(i, i + 36).map((r) => rawPutAcceptedBy(flooder, r.key, r.value, 20_000)))
      for (const p of batch.flat()) storedBy.set(p, (storedBy.get(p) ?? 0) + 1)
    }
    for (const [i, n] of [honest, victim].entries()) {
      expect(storedBy.get(n.peerId)).toBe(DHT_PUTS_PER_PEER)
      expect(n.heldRecords(PREKEY_RECORD_NAMESPACE) - held[i]!).toBe(DHT_PUTS_PER_PEER)
    }
    // The capped node stored as many, but keeps CAP of them (the most recent; older ones were evicted).
    expect(storedBy.get(capped.peerId)).toBe(DHT_PUTS_PER_PEER)
    expect(capped.heldRecords(PREKEY_RECORD_NAMESPACE)).toBe(CAP)

    // The quota is per peer: another peer's record is still stored by all of them, also by the full node.
    const fresh = throwawayRecord()
    const acceptedBy = await rawPutAcceptedBy(victim, fresh.key, fresh.value, 20_000)
    expect(acceptedBy).toEqual(expect.arrayContaining([honest.peerId, capped.peerId]))
    expect(capped.heldRecords(PREKEY_RECORD_NAMESPACE)).toBe(CAP)

    // kad-dht's built-in /pk/ record type (a public key under its own hash) would let anyone store
    // unbounded valid records under keys outside sotto's namespaces: sotto nodes refuse it.
    const pk = (await generateKeyPair('Ed25519')).publicKey
    expect(await rawPutAccepts(mallory, concatBytes(utf8('/pk/'), pk.toMultihash().bytes), publicKeyToProtobuf(pk))).toBe(0)
  })
})
