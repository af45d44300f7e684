// parseTopic keeps the parse of recent topic names (a bounded cache): callers still get fresh values of
// their own, the cache stays bounded, and invalid names are rejected every time.
import { describe, expect, it } from 'vitest'
import { MalformedError } from '../../src/protocol/errors.js'
import { communityTopic, directTopic, inboxTopic, parseTopic } from '../../src/protocol/topics.js'
import { bytes } from './helpers.js'

describe('parseTopic cache', () => {
  it('returns a fresh id each time: changing one does not change the next parse', () => {
    const topic = communityTopic(bytes(32, 7))
    const first = parseTopic(topic)
    first.id.fill(0)
    first.kind = 'inbox'
    const second = parseTopic(topic)
    expect(second).toEqual({ kind: 'community', id: bytes(32, 7) })
    expect(second.id).not.toBe(parseTopic(topic).id)
  })

  it('gives the same answers after more distinct topics than it keeps', () => {
    const names = Array.from({ length: 600 }, (_, i) => {
      const id = bytes(32, i % 256)
      id[0] = i >> 8
      return { id, topic: [communityTopic, directTopic][i % 2]!(id), kind: i % 2 === 0 ? 'community' : 'direct' }
    })
    for (let round = 0; round < 2; round++) {
      for (const n of names) {
        if (n.kind === 'community') expect(parseTopic(n.topic)).toEqual({ kind: 'community', id: n.id })
        else expect(parseTopic(n.topic).kind).toBe('direct')
      }
    }
    expect(parseTopic(inboxTopic(bytes(32, 1))).kind).toBe('inbox')
  })

  it('rejects an invalid name every time', () => {
    const bad = `${communityTopic(bytes(32, 7))}/x`
    for (let i = 0; i < 3; i++) expect(() => parseTopic(bad)).toThrow(MalformedError)
    expect(() => parseTopic(42 as unknown as string)).toThrow(MalformedError)
  })
})
