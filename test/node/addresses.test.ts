import { describe, expect, it } from 'vitest'
import { InvalidAddressError } from '../../src/node/errors.js'
import { generatePeerKey, peerIdOfKey } from '../../src/node/keys.js'
import { multiaddrFromBytes, multiaddrToBytes, peerIdFromBytes, peerIdToBytes } from '../../src/node/addresses.js'

describe('address conversions', () => {
  it('round-trips multiaddrs and peer ids through their binary forms', async () => {
    const peerId = peerIdOfKey(await generatePeerKey())
    const ma = `/ip4/127.0.0.1/tcp/4001/p2p/${peerId}`
    expect(multiaddrFromBytes(multiaddrToBytes(ma))).toBe(ma)
    expect(peerIdFromBytes(peerIdToBytes(peerId))).toBe(peerId)
  })
  it('rejects garbage with InvalidAddressError', () => {
    expect(() => multiaddrToBytes('not an address')).toThrow(InvalidAddressError)
    expect(() => multiaddrFromBytes(Uint8Array.of(0xff, 0xff, 0xff))).toThrow(InvalidAddressError)
    expect(() => peerIdToBytes('xyz')).toThrow(InvalidAddressError)
    expect(() => peerIdFromBytes(Uint8Array.of(1, 2, 3))).toThrow(InvalidAddressError)
  })
})
