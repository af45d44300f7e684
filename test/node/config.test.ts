// The node layer's pure pieces, recomputed from the text of docs/PROTOCOL.md (14.11 message ids, 13.11
// rendezvous CIDs, 14.13 score parameters) and checked against test/vectors/node.json.
import { readFileSync } from 'node:fs'
import { validateTopicScoreParams } from '@libp2p/gossipsub/score'
import { describe, expect, it } from 'vitest'
import { blake2b, concatBytes, fromHex, sha256, toHex, utf8 } from '../../src/crypto/primitives.js'
import { messageId, rendezvousCid, sottoTopicScoreParams } from '../../src/node/config.js'
import { generatePeerKey, InvalidPeerKeyError, peerIdOfKey } from '../../src/node/index.js'
import { decodePeerKey } from '../../src/node/keys.js'

interface Vectors {
  messageIds: Array<{ topic: string; topicHex: string; data: string; id: string }>
  rendezvous: Array<{ key: string; cid: string; cidString: string }>
}
const vectors = JSON.parse(readFileSync(new URL('../vectors/node.json', import.meta.url), 'utf8')) as Vectors

function u32be(n: number): Uint8Array {
  return new Uint8Array([(n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff])
}

describe('node config', () => {
  it('message id = BLAKE2b-256(u32be(len(topic)) || topic || data), as in the vectors', () => {
    for (const v of vectors.messageIds) {
      const topic = fromHex(v.topicHex)
      expect(toHex(utf8(v.topic))).toBe(v.topicHex)
      const spec = blake2b(concatBytes(u32be(topic.length), topic, fromHex(v.data)), 32)
      expect(toHex(spec)).toBe(v.id)
      expect(toHex(messageId(v.topic, fromHex(v.data)))).toBe(v.id)
    }
  })

  it('the same data on two topics has two ids', () => {
    const data = utf8('same bytes')
    expect(toHex(messageId('a', data))).not.toBe(toHex(messageId('b', data)))
    // The length prefix keeps ("ab", "c") apart from ("a", "bc").
    expect(toHex(messageId('ab', utf8('c')))).not.toBe(toHex(messageId('a', utf8('bc'))))
  })

  it('rendezvous CID = 0x01 0x55 0x12 0x20 || SHA-256(key), as in the vectors', () => {
    for (const v of vectors.rendezvous) {
      const spec = concatBytes(new Uint8Array([0x01, 0x55, 0x12, 0x20]), sha256(fromHex(v.key)))
      expect(toHex(spec)).toBe(v.cid)
      const cid = rendezvousCid(fromHex(v.key))
      expect(toHex(cid.bytes)).toBe(v.cid)
      expect(cid.toString()).toBe(v.cidString)
    }
  })

  it('topic score parameters are accepted by gossipsub', () => {
    expect(() => validateTopicScoreParams(sottoTopicScoreParams())).not.toThrow()
  })

  it('peer keys round-trip and map to a stable peer id', async () => {
    const key = await generatePeerKey()
    expect(peerIdOfKey(key)).toMatch(/^12D3KooW/)
    expect(peerIdOfKey(key)).toBe(peerIdOfKey(Uint8Array.from(key)))
    expect(() => decodePeerKey(new Uint8Array(0))).toThrow(InvalidPeerKeyError)
    expect(() => decodePeerKey(utf8('garbage'))).toThrow(InvalidPeerKeyError)
  })
})
