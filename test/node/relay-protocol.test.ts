// The frames of /sotto/relay/1.0.0 (docs/PROTOCOL.md §15.10): the example of the text, bounds, strictness.
import { describe, expect, it } from 'vitest'
import {
  decodeRelayReply,
  decodeRelayRequest,
  encodeRelayReply,
  encodeRelayRequest,
  MAX_RELAY_REQUEST_BYTES,
  RelayProtocolError,
  RelayTopicStatus
} from '../../src/node/relay-protocol.js'

const INBOX = `/sotto/1/inbox/${'0'.repeat(64)}`
const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

describe('relay request frames', () => {
  it('encodes the example of §15.10 byte for byte', () => {
    const bytes = encodeRelayRequest([INBOX])
    expect(bytes.length).toBe(82)
    expect(hex(bytes.subarray(0, 9))).toBe('01014f2f736f74746f')
    expect(Buffer.from(bytes.subarray(3)).toString('ascii')).toBe(INBOX)
    expect(decodeRelayRequest(bytes)).toEqual([INBOX])
  })

  it('round-trips 64 topics of 128 bytes, the largest request', () => {
    const topics = Array.from({ length: 64 }, (_, i) => `t${i}`.padEnd(128, 'x'))
    const bytes = encodeRelayRequest(topics)
    expect(bytes.length).toBe(MAX_RELAY_REQUEST_BYTES)
    expect(decodeRelayRequest(bytes)).toEqual(topics)
  })

  it('refuses what breaks the rules', () => {
    expect(() => encodeRelayRequest([])).toThrow(RelayProtocolError)
    expect(() => encodeRelayRequest(Array(65).fill(INBOX))).toThrow(RelayProtocolError)
    expect(() => encodeRelayRequest(['x'.repeat(129)])).toThrow(RelayProtocolError)
    const good = encodeRelayRequest([INBOX])
    for (const bad of [
      good.subarray(0, good.length - 1),
      Uint8Array.of(...good, 0),
      Uint8Array.of(2, ...good.subarray(1)),
      Uint8Array.of(1, 0),
      Uint8Array.of(1, 1, 0),
      Uint8Array.of(1, 1, 2, 0xc3, 0x28)
    ]) {
      expect(() => decodeRelayRequest(bad)).toThrow(RelayProtocolError)
    }
  })
})

describe('relay reply frames', () => {
  it('carries one status per topic, in order, for the request it answers', () => {
    const statuses = [RelayTopicStatus.Served, RelayTopicStatus.NotAllowed, RelayTopicStatus.Refused, RelayTopicStatus.OverQuota]
    const bytes = encodeRelayReply(statuses)
    expect(hex(bytes)).toBe('010400010203')
    expect(decodeRelayReply(bytes, 4)).toEqual(statuses)
    expect(() => decodeRelayReply(bytes, 3)).toThrow(RelayProtocolError)
    expect(() => decodeRelayReply(Uint8Array.of(1, 1, 4), 1)).toThrow(RelayProtocolError)
  })
})
