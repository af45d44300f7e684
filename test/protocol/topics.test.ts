import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { blake2b, toHex } from '../../src/crypto/primitives.js'
import { InvalidArgumentError, MalformedError } from '../../src/protocol/errors.js'
import { communityTopic, directTopic, inboxTopic, parseTopic } from '../../src/protocol/topics.js'
import { bytes, cat } from './helpers.js'

const alice = IdentityKeyPair.fromSeed(bytes(32, 0xa1))
const enc = (s: string) => new TextEncoder().encode(s)

describe('topic names (attack 20: no identity or community name in topic names)', () => {
  it('inbox: opaque hash of the signing key', () => {
    const t = inboxTopic(alice.publicKey.signingKey)
    expect(t).toBe(`/sotto/1/inbox/${toHex(blake2b(cat(enc('sotto/1/inbox'), alice.publicKey.signingKey), 32))}`)
    expect(t).not.toContain(toHex(alice.publicKey.signingKey))
    expect(parseTopic(t)).toEqual({ kind: 'inbox', id: blake2b(cat(enc('sotto/1/inbox'), alice.publicKey.signingKey), 32) })
  })

  it('direct: keyed by the first root key; differs per session', () => {
    const t = directTopic(bytes(32, 7))
    expect(t).toBe(`/sotto/1/d/${toHex(blake2b(enc('sotto/1/direct-topic'), 32, bytes(32, 7)))}`)
    expect(directTopic(bytes(32, 8))).not.toBe(t)
    expect(parseTopic(t).kind).toBe('direct')
  })

  it('community: the topic id in hex', () => {
    expect(communityTopic(bytes(32, 0xab))).toBe(`/sotto/1/c/${'ab'.repeat(32)}`)
    expect(parseTopic(communityTopic(bytes(32, 0xab)))).toEqual({ kind: 'community', id: bytes(32, 0xab) })
  })

  it('rejects bad arguments and foreign topic names', () => {
    expect(() => inboxTopic(bytes(31))).toThrow(InvalidArgumentError)
    expect(() => directTopic(bytes(16))).toThrow(InvalidArgumentError)
    expect(() => communityTopic(bytes(33))).toThrow(InvalidArgumentError)
    for (const t of [
      '/sotto/1/c/' + 'AB'.repeat(32),
      '/sotto/1/c/' + 'ab'.repeat(31),
      '/sotto/1/x/' + 'ab'.repeat(32),
      '/sotto/2/c/' + 'ab'.repeat(32),
      '/sotto/1/c/' + 'ab'.repeat(32) + '/x',
      'chat'
    ]) {
      expect(() => parseTopic(t)).toThrow(MalformedError)
    }
  })
})
