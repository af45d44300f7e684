// Test helpers for real sotto nodes on 127.0.0.1 (mDNS off) and a test DHT record type.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { concatBytes, ed25519FromSeed, ed25519Sign, ed25519Verify, equalBytes, fromHex, toHex, utf8 } from '../../src/crypto/primitives.js'
import { createSottoNode, type RecordType, type SottoNode, type SottoNodeInit } from '../../src/node/index.js'

export const LOOPBACK = ['/ip4/127.0.0.1/tcp/0']

/** Starts nodes on loopback; `stopAll` stops every node made through it. */
export class Cluster {
  readonly nodes: SottoNode[] = []
  readonly dirs: string[] = []

  async node(init: SottoNodeInit = {}): Promise<SottoNode> {
    const node = await createSottoNode({ listen: LOOPBACK, mdns: false, records: { 'sotto-test': testRecordType }, ...init })
    await node.start()
    this.nodes.push(node)
    return node
  }

  async tempDir(): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-node-'))
    this.dirs.push(dir)
    return dir
  }

  async stopAll(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.stop()))
    await Promise.all(this.dirs.map((d) => rm(d, { recursive: true, force: true })))
  }
}

/**
 * Test-only record format: value = pub[32] || u64be(seq) || payload || sig[64] where sig signs everything
 * before it; key = "/sotto-test/" || hex(pub). Stands in for the protocol layer's prekey records.
 */
export const TEST_RECORD_MAX = 1024

export function testRecordKey(pub: Uint8Array): Uint8Array {
  return utf8(`/sotto-test/${toHex(pub)}`)
}

export function makeTestRecord(seed: number, seq: number, payload: Uint8Array): { key: Uint8Array; value: Uint8Array; secretKey: Uint8Array } {
  const { publicKey, secretKey } = ed25519FromSeed(new Uint8Array(32).fill(seed))
  const seqBytes = new Uint8Array(8)
  new DataView(seqBytes.buffer).setBigUint64(0, BigInt(seq), false)
  const body = concatBytes(publicKey, seqBytes, payload)
  return { key: testRecordKey(publicKey), value: concatBytes(body, ed25519Sign(secretKey, body)), secretKey }
}

function seqOf(value: Uint8Array): bigint {
  return new DataView(value.buffer, value.byteOffset + 32, 8).getBigUint64(0, false)
}

export const testRecordType: RecordType = {
  validate(key, value) {
    if (value.length > TEST_RECORD_MAX) throw new Error('oversized')
    if (value.length < 32 + 8 + 64) throw new Error('too short')
    const pub = value.subarray(0, 32)
    if (!equalBytes(key, testRecordKey(pub))) throw new Error('key does not match the record key')
    const body = value.subarray(0, value.length - 64)
    if (!ed25519Verify(pub, body, value.subarray(value.length - 64))) throw new Error('bad signature')
  },
  select(_key, values) {
    let best = 0
    for (let i = 1; i < values.length; i++) if (seqOf(values[i]) > seqOf(values[best])) best = i
    return best
  }
}

export { fromHex }
