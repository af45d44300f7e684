// A receiver state stored in parts (PROTOCOL.md §8.7, §10.6): one chain entry per sender key and the skipped-key
// section, so a message writes only what it changed (its sender's entry; the skipped keys when they changed; the
// entries of chains it pushed out), not every sender's chain. The parts reassemble into the same state.
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  MAX_CHAINS_PER_IDENTITY,
  openCommunityMessage
} from '../../src/crypto/community.js'
import { MalformedError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { fromHex, toHex } from '../../src/crypto/primitives.js'
import { chainOf } from './community-helpers.js'

/** The state's parts, reassembled. */
function reassembled(epoch: CommunityEpoch, r: CommunityReceiverState): CommunityReceiverState {
  const entries = r.senderKeys().map((k) => r.chainEntry(k)!)
  return CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, entries, r.skippedSection())
}

describe('community receiver state in parts', () => {
  it('reassembles to the same bytes, whatever the order of its chain entries', () => {
    const epoch = CommunityEpoch.create()
    const senders = [IdentityKeyPair.generate(), IdentityKeyPair.generate(), IdentityKeyPair.generate()].map((who) => chainOf(epoch, who, 4))
    let r = CommunityReceiverState.create(epoch)
    // Out of order, so that skipped keys are held: index 3, then 1, of each.
    for (const s of senders) r = openCommunityMessage(epoch, r, s.sealed[3]!).states
    for (const s of senders) r = openCommunityMessage(epoch, r, s.sealed[1]!).states
    expect(r.skippedCount).toBe(6)
    expect(toHex(reassembled(epoch, r).serialize())).toBe(toHex(r.serialize()))
    const entries = r.senderKeys().map((k) => r.chainEntry(k)!)
    expect(entries.every((e) => e.length === 164)).toBe(true)
    const reversed = CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, entries.reverse(), r.skippedSection())
    expect(toHex(reversed.serialize())).toBe(toHex(r.serialize()))
    // The skipped section is the tail of the whole state; the chain entry is the sender's chain in it.
    expect(toHex(r.serialize()).endsWith(toHex(r.skippedSection()))).toBe(true)
    expect(toHex(r.serialize()).includes(toHex(r.chainEntry(senders[0]!.keyHex)!))).toBe(true)
    expect(r.chainEntry('00'.repeat(32))).toBeUndefined()
  })

  it('names what each message changed: its sender, the skipped keys when they changed, the chains pushed out', () => {
    const epoch = CommunityEpoch.create()
    const alice = IdentityKeyPair.generate()
    const bob = chainOf(epoch, IdentityKeyPair.generate(), 3)
    const created = CommunityReceiverState.create(epoch)
    expect(created.change).toBeUndefined()

    // In order: only the sender's entry.
    let r = openCommunityMessage(epoch, created, bob.sealed[0]!).states
    expect(r.change).toEqual({ written: [bob.keyHex], deleted: [], skipped: false })
    // Skipping index 1: the sender's entry and the skipped keys.
    r = openCommunityMessage(epoch, r, bob.sealed[2]!).states
    expect(r.change).toEqual({ written: [bob.keyHex], deleted: [], skipped: true })
    // The late index 1: only the skipped keys (its chain does not move).
    r = openCommunityMessage(epoch, r, bob.sealed[1]!).states
    expect(r.change).toEqual({ written: [], deleted: [], skipped: true })
    expect(r.skippedCount).toBe(0)

    // A new chain of Alice beyond MAX_CHAINS_PER_IDENTITY pushes out her chain with the smallest sender key.
    const chains = Array.from({ length: MAX_CHAINS_PER_IDENTITY }, () => chainOf(epoch, alice, 1))
    for (const c of chains) r = openCommunityMessage(epoch, r, c.sealed[0]!).states
    const next = chainOf(epoch, alice, 1)
    r = openCommunityMessage(epoch, r, next.sealed[0]!).states
    const smallest = chains.map((c) => c.keyHex).sort()[0]!
    expect(r.change?.written).toEqual([next.keyHex])
    expect(r.change?.deleted).toEqual([smallest])
    // The chain pushed out held no skipped keys: the skipped section is as it was.
    expect(r.change?.skipped).toBe(false)
    expect(r.chainEntry(smallest)).toBeUndefined()

    // The parts written message by message, applied to a copy of the first state's parts, give the last state.
    const parts = new Map<string, Uint8Array>()
    let skipped = created.skippedSection()
    let s = created
    for (const sealed of [...bob.sealed, ...chains.map((c) => c.sealed[0]!), next.sealed[0]!]) {
      s = openCommunityMessage(epoch, s, sealed).states
      for (const k of s.change!.written) parts.set(k, s.chainEntry(k)!)
      for (const k of s.change!.deleted) parts.delete(k)
      if (s.change!.skipped) skipped = s.skippedSection()
    }
    const fromParts = CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [...parts.values()], skipped)
    expect(toHex(fromParts.serialize())).toBe(toHex(s.serialize()))
    expect(fromParts.change).toBeUndefined()
  })

  it('a known chain moves without copying the others: earlier states stay as they were, over many messages', () => {
    // Past 64 updates the shared chains are merged into a new base (src/crypto/community.ts SharedMap): 3 senders,
    // 150 messages each, taken in turn, cross that several times.
    const epoch = CommunityEpoch.create()
    const senders = [IdentityKeyPair.generate(), IdentityKeyPair.generate(), IdentityKeyPair.generate()].map((who) => chainOf(epoch, who, 150))
    let r = CommunityReceiverState.create(epoch)
    const kept: Array<{ state: CommunityReceiverState; bytes: string; after: number }> = []
    for (let i = 0; i < 150; i++) {
      for (const s of senders) r = openCommunityMessage(epoch, r, s.sealed[i]!).states
      if (i % 37 === 0) kept.push({ state: r, bytes: toHex(r.serialize()), after: i + 1 })
    }
    for (const s of senders) expect(r.nextIndexOf(fromHex(s.keyHex))).toBe(150)
    expect(r.senderCount).toBe(3)
    expect(toHex(reassembled(epoch, r).serialize())).toBe(toHex(r.serialize()))
    for (const k of kept) {
      expect(toHex(k.state.serialize())).toBe(k.bytes)
      for (const s of senders) expect(k.state.nextIndexOf(fromHex(s.keyHex))).toBe(k.after)
      expect(k.state.senderKeys().sort()).toEqual(senders.map((s) => s.keyHex).sort())
    }
    // A message already opened is refused by the last state and by an earlier one that saw it.
    expect(() => openCommunityMessage(epoch, r, senders[1]!.sealed[100]!)).toThrow(/already opened/)
    expect(() => openCommunityMessage(epoch, kept[1]!.state, senders[1]!.sealed[10]!)).toThrow(/already opened/)
    // And an earlier state still opens what it has not seen.
    expect(openCommunityMessage(epoch, kept[0]!.state, senders[2]!.sealed[1]!).states.nextIndexOf(fromHex(senders[2]!.keyHex))).toBe(2)
  })

  it('refuses parts that do not make a valid state', () => {
    const epoch = CommunityEpoch.create()
    const bob = chainOf(epoch, IdentityKeyPair.generate(), 3)
    const r = openCommunityMessage(epoch, CommunityReceiverState.create(epoch), bob.sealed[2]!).states
    const entry = r.chainEntry(bob.keyHex)!
    const skipped = r.skippedSection()
    // An entry of the wrong length, the same sender twice, a skipped key without its chain, trailing bytes.
    expect(() => CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [entry.subarray(1)], skipped)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [entry, entry], skipped)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [], skipped)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [entry], Uint8Array.of(...skipped, 0))).toThrow(MalformedError)
    expect(() => CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [entry], new Uint8Array(3))).toThrow(MalformedError)
    // The good parts still make the state.
    expect(toHex(CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, [entry], skipped).serialize())).toBe(toHex(r.serialize()))
  })
})
