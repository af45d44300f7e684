// A receiver state's sender chains are bounded (PROTOCOL.md §8.1, §8.5): at most MAX_CHAINS_PER_IDENTITY bound to
// one identity (a sender starts a new chain in every session, and a member holding the topic key could make any
// number) and MAX_RECEIVER_CHAINS in all; a new chain beyond either evicts the competing chain with the smallest
// sender key, with its skipped keys. Decoding refuses a state beyond the bounds.
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  MAX_CHAINS_PER_IDENTITY,
  MAX_RECEIVER_CHAINS,
  openCommunityMessage
} from '../../src/crypto/community.js'
import { MalformedError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { compareBytes } from '../../src/crypto/community-bytes.js'
import { concatBytes, randomBytes, toHex } from '../../src/crypto/primitives.js'
import { chainOf, u32 } from './community-helpers.js'

/** A receiver state of `epoch` written by hand per §8.7, with `chains` (sorted here) and no skipped keys. */
function stateBytes(epoch: CommunityEpoch, chains: Array<{ senderKey: Uint8Array; identityKey: Uint8Array }>): Uint8Array {
  const sorted = [...chains].sort((a, b) => compareBytes(a.senderKey, b.senderKey))
  const parts = [Uint8Array.of(1, 0x52), epoch.communityId, u32(epoch.epoch), u32(sorted.length)]
  for (const c of sorted) parts.push(c.senderKey, c.identityKey, new Uint8Array(64), u32(1), randomBytes(32))
  parts.push(u32(0))
  return concatBytes(...parts)
}

describe('community receiver state: bounded sender chains', () => {
  it(`keeps at most ${MAX_CHAINS_PER_IDENTITY} chains of one identity, evicting the smallest sender key with its skipped keys`, () => {
    const epoch = CommunityEpoch.create()
    const alice = IdentityKeyPair.generate()
    const bob = IdentityKeyPair.generate()
    let r = CommunityReceiverState.create(epoch)
    const bobs = chainOf(epoch, bob)
    r = openCommunityMessage(epoch, r, bobs.sealed[0]!).states
    // Alice's first chains: the message at index 2 of each arrives first (two skipped keys each).
    const chains = Array.from({ length: MAX_CHAINS_PER_IDENTITY }, () => chainOf(epoch, alice, 3))
    for (const c of chains) r = openCommunityMessage(epoch, r, c.sealed[2]!).states
    expect(r.senderCount).toBe(MAX_CHAINS_PER_IDENTITY + 1)
    expect(r.skippedCount).toBe(2 * MAX_CHAINS_PER_IDENTITY)

    const smallest = [...chains].sort((a, b) => compareBytes(a.senderKey, b.senderKey))[0]!
    const next = chainOf(epoch, alice)
    r = openCommunityMessage(epoch, r, next.sealed[0]!).states
    expect(r.senderCount).toBe(MAX_CHAINS_PER_IDENTITY + 1)
    expect(r.nextIndexOf(smallest.senderKey)).toBe(0)
    expect(r.hasSkippedKey(smallest.senderKey, 0)).toBe(false)
    expect(r.skippedCount).toBe(2 * (MAX_CHAINS_PER_IDENTITY - 1))
    expect(r.nextIndexOf(next.senderKey)).toBe(1)
    // Another identity's chain is untouched.
    expect(r.nextIndexOf(bobs.senderKey)).toBe(1)
    for (const c of chains) if (c !== smallest) expect(r.nextIndexOf(c.senderKey)).toBe(3)
    // The state decodes to the same bytes.
    expect(toHex(CommunityReceiverState.deserialize(r.serialize()).serialize())).toBe(toHex(r.serialize()))
    // A later message of the evicted chain still opens, as the first of a chain not seen before.
    const late = openCommunityMessage(epoch, r, smallest.sealed[0]!)
    expect(late.senderKey).toEqual(alice.publicKey.signingKey)
  })

  it(`keeps at most ${MAX_RECEIVER_CHAINS} chains in all: a new one evicts the smallest other sender key`, () => {
    const epoch = CommunityEpoch.create()
    const full = Array.from({ length: MAX_RECEIVER_CHAINS }, () => ({ senderKey: randomBytes(32), identityKey: randomBytes(32) }))
    let r = CommunityReceiverState.deserialize(stateBytes(epoch, full))
    expect(r.senderCount).toBe(MAX_RECEIVER_CHAINS)
    const carol = IdentityKeyPair.generate()
    const c = chainOf(epoch, carol)
    r = openCommunityMessage(epoch, r, c.sealed[0]!).states
    expect(r.senderCount).toBe(MAX_RECEIVER_CHAINS)
    expect(r.nextIndexOf(c.senderKey)).toBe(1)
    const sorted = [...full].sort((a, b) => compareBytes(a.senderKey, b.senderKey))
    // The evicted chain is the smallest of the others, whatever the new sender key's place in the order.
    expect(r.nextIndexOf(sorted[0]!.senderKey)).toBe(0)
    expect(r.nextIndexOf(sorted[1]!.senderKey)).toBe(1)
  })

  it('refuses to decode a state beyond either bound', () => {
    const epoch = CommunityEpoch.create()
    const one = randomBytes(32)
    const tooManyOfOne = Array.from({ length: MAX_CHAINS_PER_IDENTITY + 1 }, () => ({ senderKey: randomBytes(32), identityKey: one }))
    expect(() => CommunityReceiverState.deserialize(stateBytes(epoch, tooManyOfOne))).toThrow(MalformedError)
    expect(CommunityReceiverState.deserialize(stateBytes(epoch, tooManyOfOne.slice(1))).senderCount).toBe(MAX_CHAINS_PER_IDENTITY)
    const tooMany = Array.from({ length: MAX_RECEIVER_CHAINS + 1 }, () => ({ senderKey: randomBytes(32), identityKey: randomBytes(32) }))
    expect(() => CommunityReceiverState.deserialize(stateBytes(epoch, tooMany))).toThrow(/too many sender chains/)
  })
})
