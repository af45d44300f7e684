// Generator of test/vectors/node.json (docs/PROTOCOL.md §13.11, §14.11, §16): gossipsub message ids and
// rendezvous CIDs. With WRITE_VECTORS=1 it writes the file; otherwise it checks that the code reproduces
// the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { blake2b, toHex, utf8 } from '../../src/crypto/primitives.js'
import { messageId, rendezvousCid } from '../../src/node/config.js'

const FILE = fileURLToPath(new URL('./node.json', import.meta.url))

/** Deterministic bytes: BLAKE2b-512(UTF-8("sotto/vectors/node/" || label || "/" || i)) for i = 0, 1, ..., cut to n. */
function seed(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i * 64 < n; i++) out.set(blake2b(utf8(`sotto/vectors/node/${label}/${i}`), 64).subarray(0, n - i * 64), i * 64)
  return out
}

/** Builds the vector file's JSON text. */
function buildNodeVectors(): string {
  const messages: Array<{ topic: string; data: Uint8Array }> = [
    { topic: 'sotto-test-topic', data: new Uint8Array(0) },
    { topic: '', data: seed('msg-1', 16) },
    { topic: 'caf\u00e9/\u266a', data: seed('msg-2', 64) },
    { topic: toHex(seed('topic-3', 32)), data: seed('msg-3', 200) }
  ]
  const keys = [new Uint8Array(0), utf8('sotto-test-rendezvous-key'), seed('rendezvous-2', 32)]
  const doc = {
    description:
      'sotto node layer: gossipsub message ids (PROTOCOL.md 14.11) and rendezvous CIDs (PROTOCOL.md 13.11)',
    messageIds: messages.map(({ topic, data }) => ({
      topic,
      topicHex: toHex(utf8(topic)),
      data: toHex(data),
      id: toHex(messageId(topic, data))
    })),
    rendezvous: keys.map((key) => {
      const cid = rendezvousCid(key)
      return { key: toHex(key), cid: toHex(cid.bytes), cidString: cid.toString() }
    })
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('vectors: node.json', () => {
  it(process.env.WRITE_VECTORS === '1' ? 'writes the file' : 'reproduces the committed file', () => {
    const text = buildNodeVectors()
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
