import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  COMMUNITY_LABELS,
  CommunityEpoch,
  CommunityReceiverState,
  chainStep,
  createReceiverState,
  createSenderChain,
  deriveEpochKeys,
  ENVELOPE_HEADER_BYTES,
  MAX_COMMUNITY_BODY_BYTES,
  MAX_SKIP,
  MAX_SKIPPED_PER_SENDER,
  MAX_SKIPPED_TOTAL,
  MIN_SEALED_BYTES,
  openCommunityMessage,
  readCommunityEnvelope,
  rendezvousKeyOf,
  SenderChainState,
  sealCommunityMessage,
  signerPublicKey,
  verifyTopicSignature
} from '../../src/crypto/community.js'
import {
  DecryptionError,
  DuplicateMessageError,
  EpochMismatchError,
  InvalidArgumentError,
  MalformedError,
  SignatureError,
  TooManySkippedError,
  UnsupportedVersionError
} from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, ed25519FromSeed, hmacSha256, sha256, toHex, utf8 } from '../../src/crypto/primitives.js'
import { sodium } from '../../src/crypto/sodium.js'
import { counterRandom, forge, identity, resign } from './community-helpers.js'

const alice = identity(0xa1)
const bob = identity(0xb0)
const text = (b: Uint8Array) => new TextDecoder().decode(b)

function fixedEpoch(epoch = 0): CommunityEpoch {
  return CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc0), epoch, new Uint8Array(32).fill(0xe0 + epoch))
}

/** Seals `n` messages from `who`, returning them in order. */
function sealMany(epoch: CommunityEpoch, who: typeof alice, n: number, prefix = 'm'): Uint8Array[] {
  let state = createSenderChain(epoch, who.signingPublicKey)
  const out: Uint8Array[] = []
  for (let i = 0; i < n; i++) {
    const r = sealCommunityMessage(epoch, state, who, utf8(`${prefix}${i}`), 1_700_000_000_000 + i)
    state = r.state
    out.push(r.sealed)
  }
  return out
}

describe('CommunityEpoch (§8.2)', () => {
  it('derives the topic id, sender tag key and rendezvous key as specified', () => {
    const e = fixedEpoch()
    const salt = concatBytes(e.communityId, Uint8Array.of(0, 0, 0, 0))
    const d = deriveEpochKeys(e.communityId, 0, e.exportEpochKey())
    expect(toHex(e.topicId)).toBe(toHex(d.topicId))
    expect(toHex(ed25519FromSeed(d.topicSigningSeed).publicKey)).toBe(toHex(e.topicId))
    expect(e.topicIdHex).toBe(toHex(e.topicId))
    expect(toHex(e.rendezvousKey)).toBe(toHex(sha256(concatBytes(utf8('sotto/community/v1/rendezvous'), e.topicId))))
    expect(toHex(rendezvousKeyOf(e.topicId))).toBe(toHex(e.rendezvousKey))
    expect(toHex(e.senderTag(alice.signingPublicKey))).toBe(toHex(hmacSha256(d.senderTagKey, alice.signingPublicKey)))
    expect(salt.length).toBe(36)
  })

  it('binds every derived key to the community id and epoch number', () => {
    const key = new Uint8Array(32).fill(7)
    const a = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(1), 0, key)
    const b = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(2), 0, key)
    const c = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(1), 1, key)
    expect(new Set([a.topicIdHex, b.topicIdHex, c.topicIdHex]).size).toBe(3)
    expect(toHex(a.senderTag(alice.signingPublicKey))).not.toBe(toHex(c.senderTag(alice.signingPublicKey)))
  })

  it('create() and next() use fresh random keys and keep the community id', () => {
    const e0 = CommunityEpoch.create(counterRandom(1))
    expect(e0.epoch).toBe(0)
    expect(Array.from(e0.communityId.subarray(0, 3))).toEqual([1, 2, 3])
    expect(Array.from(e0.exportEpochKey().subarray(0, 2))).toEqual([33, 34])
    const e1 = e0.next()
    expect(e1.epoch).toBe(1)
    expect(toHex(e1.communityId)).toBe(toHex(e0.communityId))
    expect(toHex(e1.exportEpochKey())).not.toBe(toHex(e0.exportEpochKey()))
    expect(e1.topicIdHex).not.toBe(e0.topicIdHex)
    // Sender tags are unlinkable across epochs.
    expect(toHex(e1.senderTag(alice.signingPublicKey))).not.toBe(toHex(e0.senderTag(alice.signingPublicKey)))
    expect(() => CommunityEpoch.fromEpochKey(e0.communityId, 0xffffffff, new Uint8Array(32)).next()).toThrow(InvalidArgumentError)
  })

  it('serialises to 70 bytes and back; rejects bad versions, types and lengths', () => {
    const e = fixedEpoch(3)
    const bytes = e.serialize()
    expect(bytes.length).toBe(70)
    expect(bytes[0]).toBe(1)
    expect(bytes[1]).toBe(0x45)
    const back = CommunityEpoch.deserialize(bytes)
    expect(back.equals(e)).toBe(true)
    expect(back.topicIdHex).toBe(e.topicIdHex)
    expect(() => CommunityEpoch.deserialize(concatBytes(Uint8Array.of(2), bytes.subarray(1)))).toThrow(UnsupportedVersionError)
    expect(() => CommunityEpoch.deserialize(concatBytes(Uint8Array.of(1, 0x53), bytes.subarray(2)))).toThrow(MalformedError)
    expect(() => CommunityEpoch.deserialize(bytes.subarray(0, 69))).toThrow(MalformedError)
    expect(() => CommunityEpoch.deserialize(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => CommunityEpoch.fromEpochKey(new Uint8Array(31), 0, new Uint8Array(32))).toThrow(InvalidArgumentError)
    expect(() => CommunityEpoch.fromEpochKey(new Uint8Array(32), -1, new Uint8Array(32))).toThrow(InvalidArgumentError)
  })

  it('never prints its secrets', () => {
    const e = fixedEpoch()
    const keyHex = toHex(e.exportEpochKey())
    for (const shown of [String(e), JSON.stringify({ e }), inspect(e), `${e}`]) {
      expect(shown).not.toContain(keyHex)
      expect(shown).toContain('[secret]')
    }
    const s = createSenderChain(e, alice.signingPublicKey)
    const r = createReceiverState(e)
    for (const shown of [String(s), inspect(s), JSON.stringify(s), String(r), inspect(r), JSON.stringify(r)]) {
      expect(shown).toContain('[secret]')
      expect(shown).not.toContain(toHex(e.initialChainKey(e.senderTag(alice.signingPublicKey))))
    }
  })
})

describe('sender chains (§8.3)', () => {
  it('steps the chain as HMAC(ck, 0x01) / HMAC(ck, 0x02)', () => {
    const ck = new Uint8Array(32).fill(9)
    const s = chainStep(ck)
    expect(toHex(s.messageKey)).toBe(toHex(hmacSha256(ck, Uint8Array.of(1))))
    expect(toHex(s.nextChainKey)).toBe(toHex(hmacSha256(ck, Uint8Array.of(2))))
  })

  it('starts each sender from HKDF(epochKey, communityId || epoch, label || senderTag)', () => {
    const e = fixedEpoch()
    const tagA = e.senderTag(alice.signingPublicKey)
    const tagB = e.senderTag(bob.signingPublicKey)
    expect(toHex(e.initialChainKey(tagA))).not.toBe(toHex(e.initialChainKey(tagB)))
    expect(COMMUNITY_LABELS.senderChain).toBe('sotto/community/v1/sender-chain')
  })

  it('serialises a sender state to 106 bytes and back; sealing leaves the old state as it was', () => {
    const e = fixedEpoch()
    const s0 = createSenderChain(e, alice.signingPublicKey)
    const before = toHex(s0.serialize())
    const { state: s1 } = sealCommunityMessage(e, s0, alice, utf8('x'), 1)
    expect(toHex(s0.serialize())).toBe(before)
    expect(s0.nextIndex).toBe(0)
    expect(s1.nextIndex).toBe(1)
    const bytes = s1.serialize()
    expect(bytes.length).toBe(106)
    const back = SenderChainState.deserialize(bytes)
    expect(toHex(back.serialize())).toBe(toHex(bytes))
    expect(back.epoch).toBe(0)
    expect(toHex(back.senderTag)).toBe(toHex(e.senderTag(alice.signingPublicKey)))
    expect(() => SenderChainState.deserialize(bytes.subarray(0, 105))).toThrow(MalformedError)
    expect(() => SenderChainState.deserialize(concatBytes(Uint8Array.of(9), bytes.subarray(1)))).toThrow(UnsupportedVersionError)
  })
})

describe('sealCommunityMessage / openCommunityMessage (§8.4, §8.5)', () => {
  it('round trip: body, sender, index and timestamp come back; topic signature verifies', () => {
    const e = fixedEpoch()
    const { sealed } = sealCommunityMessage(e, createSenderChain(e, alice.signingPublicKey), alice, utf8('hello'), 1234)
    expect(verifyTopicSignature(e.topicId, sealed)).toBe(true)
    const opened = openCommunityMessage(e, createReceiverState(e), sealed)
    expect(text(opened.body)).toBe('hello')
    expect(toHex(opened.senderKey)).toBe(toHex(alice.signingPublicKey))
    expect(opened.index).toBe(0)
    expect(opened.timestamp).toBe(1234)
    expect(opened.states.nextIndexOf(e.senderTag(alice.signingPublicKey))).toBe(1)
  })

  it('keeps the sender identity out of the clear envelope and pads to buckets', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice.signingPublicKey)
    const short = sealCommunityMessage(e, s, alice, utf8('a'), 1).sealed
    const longer = sealCommunityMessage(e, s, alice, new Uint8Array(110), 1).sealed
    expect(short.length).toBe(MIN_SEALED_BYTES)
    expect(longer.length).toBe(MIN_SEALED_BYTES)
    expect(sealCommunityMessage(e, s, alice, new Uint8Array(111), 1).sealed.length).toBe(MIN_SEALED_BYTES + 256)
    expect(toHex(short)).not.toContain(toHex(alice.signingPublicKey))
    const { header } = readCommunityEnvelope(short)
    expect(header).toMatchObject({ version: 1, epoch: 0, index: 0 })
    expect(toHex(header.senderTag)).toBe(toHex(e.senderTag(alice.signingPublicKey)))
    expect(ENVELOPE_HEADER_BYTES).toBe(41)
  })

  it('accepts the identity key pair shape { publicKey: { signingKey }, sign }', () => {
    const e = fixedEpoch()
    const pairShape = { publicKey: { signingKey: bob.signingPublicKey }, sign: bob.sign }
    expect(toHex(signerPublicKey(pairShape))).toBe(toHex(bob.signingPublicKey))
    const { sealed } = sealCommunityMessage(e, createSenderChain(e, bob.signingPublicKey), pairShape, utf8('b'), 5)
    expect(toHex(openCommunityMessage(e, createReceiverState(e), sealed).senderKey)).toBe(toHex(bob.signingPublicKey))
  })

  it('accepts an IdentityKeyPair (src/crypto/identity.ts) as the signer directly', () => {
    const e = fixedEpoch()
    const id = IdentityKeyPair.generate()
    const key = id.publicKey.signingKey
    const { sealed } = sealCommunityMessage(e, createSenderChain(e, key), id, utf8('from a real identity'), 9)
    const o = openCommunityMessage(e, createReceiverState(e), sealed)
    expect(toHex(o.senderKey)).toBe(toHex(key))
    expect(text(o.body)).toBe('from a real identity')
  })

  it('refuses bad arguments when sealing', () => {
    const e = fixedEpoch()
    const s = createSenderChain(e, alice.signingPublicKey)
    expect(() => sealCommunityMessage(e, s, bob, utf8('x'), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(fixedEpoch(1), s, alice, utf8('x'), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, new Uint8Array(MAX_COMMUNITY_BODY_BYTES + 1), 1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, utf8('x'), -1)).toThrow(InvalidArgumentError)
    expect(() => sealCommunityMessage(e, s, alice, utf8('x'), 2 ** 53)).toThrow(InvalidArgumentError)
    const badSigner = { signingPublicKey: alice.signingPublicKey, sign: () => new Uint8Array(10) }
    expect(() => sealCommunityMessage(e, s, badSigner, utf8('x'), 1)).toThrow(InvalidArgumentError)
    // The largest body fits exactly in the largest bucket.
    const big = sealCommunityMessage(e, s, alice, new Uint8Array(MAX_COMMUNITY_BODY_BYTES), 1)
    expect(openCommunityMessage(e, createReceiverState(e), big.sealed).body.length).toBe(MAX_COMMUNITY_BODY_BYTES)
  })

  it('opens out of order, from skipped keys, and each message exactly once', () => {
    const e = fixedEpoch()
    const msgs = sealMany(e, alice, 5)
    let r = createReceiverState(e)
    const tag = e.senderTag(alice.signingPublicKey)
    for (const i of [3, 0, 4, 1]) {
      const o = openCommunityMessage(e, r, msgs[i]!)
      expect(text(o.body)).toBe(`m${i}`)
      expect(o.index).toBe(i)
      r = o.states
    }
    expect(r.skippedCount).toBe(1)
    expect(r.hasSkippedKey(tag, 2)).toBe(true)
    for (const i of [0, 1, 3, 4]) expect(() => openCommunityMessage(e, r, msgs[i]!)).toThrow(DuplicateMessageError)
    r = openCommunityMessage(e, r, msgs[2]!).states
    expect(r.skippedCount).toBe(0)
    expect(() => openCommunityMessage(e, r, msgs[2]!)).toThrow(DuplicateMessageError)
  })

  it('keeps separate chains for two senders', () => {
    const e = fixedEpoch()
    const a = sealMany(e, alice, 2, 'a')
    const b = sealMany(e, bob, 2, 'b')
    let r = createReceiverState(e)
    for (const m of [b[1]!, a[0]!, b[0]!, a[1]!]) r = openCommunityMessage(e, r, m).states
    expect(r.senderCount).toBe(2)
    expect(r.skippedCount).toBe(0)
  })

  it('rejects a jump of more than MAX_SKIP keys, with the state unchanged', () => {
    const e = fixedEpoch()
    const tooFar = forge({ epoch: e, chainOwnerKey: alice.signingPublicKey, index: MAX_SKIP + 1, signer: alice.sign })
    const justFar = forge({ epoch: e, chainOwnerKey: alice.signingPublicKey, index: MAX_SKIP, signer: alice.sign })
    const r = createReceiverState(e)
    expect(() => openCommunityMessage(e, r, tooFar)).toThrow(TooManySkippedError)
    expect(r.senderCount).toBe(0)
    const o = openCommunityMessage(e, r, justFar)
    expect(o.states.skippedCount).toBe(MAX_SKIP)
  })

  it('deletes the oldest skipped keys beyond the per-sender bound', () => {
    const e = fixedEpoch()
    let r = createReceiverState(e)
    r = openCommunityMessage(e, r, forge({ epoch: e, chainOwnerKey: alice.signingPublicKey, index: 1000, signer: alice.sign })).states
    r = openCommunityMessage(e, r, forge({ epoch: e, chainOwnerKey: alice.signingPublicKey, index: 1010, signer: alice.sign })).states
    const tag = e.senderTag(alice.signingPublicKey)
    expect(r.skippedCount).toBe(MAX_SKIPPED_PER_SENDER)
    // Indices 1001..1009 were added, so the nine oldest (0..8) were deleted.
    expect(r.hasSkippedKey(tag, 8)).toBe(false)
    expect(r.hasSkippedKey(tag, 9)).toBe(true)
    expect(r.hasSkippedKey(tag, 1009)).toBe(true)
    // A message whose key was deleted can no longer be opened.
    const late = forge({ epoch: e, chainOwnerKey: alice.signingPublicKey, index: 5, signer: alice.sign })
    expect(() => openCommunityMessage(e, r, late)).toThrow(DuplicateMessageError)
  })

  it('deletes the oldest skipped keys beyond the total bound', () => {
    const e = fixedEpoch()
    let r = createReceiverState(e)
    const senders = [1, 2, 3, 4, 5, 6].map((n) => identity(n))
    for (const s of senders) {
      r = openCommunityMessage(e, r, forge({ epoch: e, chainOwnerKey: s.signingPublicKey, index: 1000, signer: s.sign })).states
    }
    expect(r.skippedCount).toBe(MAX_SKIPPED_TOTAL)
    expect(r.hasSkippedKey(e.senderTag(senders[0]!.signingPublicKey), 999)).toBe(false)
    expect(r.hasSkippedKey(e.senderTag(senders[1]!.signingPublicKey), 0)).toBe(true)
    const back = CommunityReceiverState.deserialize(r.serialize())
    expect(toHex(back.serialize())).toBe(toHex(r.serialize()))
  })

  describe('rejections leave the receiver state unchanged', () => {
    const e = fixedEpoch()
    const good = sealMany(e, alice, 3)
    const base = openCommunityMessage(e, createReceiverState(e), good[0]!).states
    const baseBytes = toHex(base.serialize())
    const other = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(0xc1), 0, new Uint8Array(32).fill(0xe0))
    const later = fixedEpoch(1)
    const pk = alice.signingPublicKey

    const cases: [string, () => Uint8Array, new (...a: never[]) => Error][] = [
      ['a replay', () => good[0]!, DuplicateMessageError],
      ['a message of another epoch', () => sealMany(later, alice, 1)[0]!, EpochMismatchError],
      ['a message of another community (same epoch number)', () => sealMany(other, alice, 1)[0]!, DecryptionError],
      ['a flipped ciphertext byte (topic signature breaks)', () => flip(good[1]!, 60), DecryptionError],
      ['a flipped header byte', () => flip(good[1]!, 10), DecryptionError],
      ['a flipped topic signature byte', () => flip(good[1]!, good[1]!.length - 1), DecryptionError],
      ['a ciphertext changed and re-signed by a topic key holder', () => resign(e, flip(good[1]!, 60)), DecryptionError],
      ['an index changed and re-signed', () => resign(e, setIndex(good[1]!, 2)), DecryptionError],
      ['a truncated envelope', () => good[1]!.subarray(0, MIN_SEALED_BYTES - 1), MalformedError],
      ['outer version 2', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, signer: alice.sign, outerVersion: 2 }), UnsupportedVersionError],
      ['inner version 2', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, signer: alice.sign, innerVersion: 2 }), UnsupportedVersionError],
      ['a bad sender signature', () => forge({ epoch: e, chainOwnerKey: pk, index: 1 }), SignatureError],
      [
        "another member's signature under alice's key",
        () => forge({ epoch: e, chainOwnerKey: pk, index: 1, signer: bob.sign }),
        SignatureError
      ],
      [
        'bob signing as himself on alice\'s chain (sender mismatch)',
        () => forge({ epoch: e, chainOwnerKey: pk, innerSenderKey: bob.signingPublicKey, index: 1, signer: bob.sign }),
        SignatureError
      ],
      ['an inner index differing from the envelope', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, innerIndex: 2, signer: alice.sign }), SignatureError],
      ['an inner epoch differing', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, innerEpoch: 5, signer: alice.sign }), EpochMismatchError],
      [
        'an inner community id differing',
        () => forge({ epoch: e, chainOwnerKey: pk, index: 1, innerCommunityId: new Uint8Array(32), signer: alice.sign }),
        EpochMismatchError
      ],
      ['bad padding inside', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, rawPadded: new Uint8Array(256) }), MalformedError],
      ['an inner plaintext shorter than its header', () => forge({ epoch: e, chainOwnerKey: pk, index: 1, rawPadded: padShort() }), MalformedError],
      ['a jump beyond MAX_SKIP', () => forge({ epoch: e, chainOwnerKey: pk, index: 2 + MAX_SKIP, signer: alice.sign }), TooManySkippedError]
    ]
    for (const [name, make, Err] of cases) {
      it(`rejects ${name}`, () => {
        expect(() => openCommunityMessage(e, base, make())).toThrow(Err)
        expect(toHex(base.serialize())).toBe(baseBytes)
        // The genuine next message still opens afterwards.
        expect(text(openCommunityMessage(e, base, good[1]!).body)).toBe('m1')
      })
    }

    it('refuses receiver states of another epoch', () => {
      expect(() => openCommunityMessage(later, base, good[1]!)).toThrow(InvalidArgumentError)
    })
  })

  it('verifyTopicSignature is false for another topic, junk, and wrong-length keys', () => {
    const e = fixedEpoch()
    const [m] = sealMany(e, alice, 1)
    expect(verifyTopicSignature(fixedEpoch(1).topicId, m!)).toBe(false)
    expect(verifyTopicSignature(e.topicId, flip(m!, 50))).toBe(false)
    expect(verifyTopicSignature(e.topicId, new Uint8Array(500))).toBe(false)
    expect(verifyTopicSignature(e.topicId, m!.subarray(0, 100))).toBe(false)
    expect(verifyTopicSignature(new Uint8Array(31), m!)).toBe(false)
  })
})

describe('CommunityReceiverState serialisation (§8.7)', () => {
  it('round-trips with chains and skipped keys, and the copy keeps working', () => {
    const e = fixedEpoch()
    const a = sealMany(e, alice, 4)
    const b = sealMany(e, bob, 3)
    let r = createReceiverState(e)
    for (const m of [a[3]!, b[2]!, a[0]!]) r = openCommunityMessage(e, r, m).states
    const bytes = r.serialize()
    expect(bytes.length).toBe(1 + 1 + 32 + 4 + 4 + 2 * 68 + 4 + 4 * 68)
    const back = CommunityReceiverState.deserialize(bytes)
    expect(toHex(back.serialize())).toBe(toHex(bytes))
    expect(text(openCommunityMessage(e, back, a[1]!).body)).toBe('m1')
    expect(() => openCommunityMessage(e, back, a[3]!)).toThrow(DuplicateMessageError)
  })

  it('rejects malformed state bytes', () => {
    const e = fixedEpoch()
    let r = createReceiverState(e)
    r = openCommunityMessage(e, r, sealMany(e, alice, 3)[2]!).states
    r = openCommunityMessage(e, r, sealMany(e, bob, 1)[0]!).states
    const bytes = r.serialize()
    const chainsAt = 1 + 1 + 32 + 4 + 4
    // Chains swapped out of ascending order.
    const swapped = bytes.slice()
    swapped.set(bytes.subarray(chainsAt + 68, chainsAt + 136), chainsAt)
    swapped.set(bytes.subarray(chainsAt, chainsAt + 68), chainsAt + 68)
    expect(() => CommunityReceiverState.deserialize(swapped)).toThrow(MalformedError)
    // A skipped key at or beyond its chain's next index.
    const skippedAt = chainsAt + 136 + 4
    const badIndex = bytes.slice()
    badIndex.set([0, 0, 0, 9], skippedAt + 32)
    expect(() => CommunityReceiverState.deserialize(badIndex)).toThrow(MalformedError)
    // A duplicated skipped key.
    const dup = bytes.slice()
    dup.set(bytes.subarray(skippedAt, skippedAt + 68), skippedAt + 68)
    expect(() => CommunityReceiverState.deserialize(dup)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow(MalformedError)
    const hugeCount = bytes.slice()
    hugeCount.set([0xff, 0xff, 0xff, 0xff], chainsAt - 4)
    expect(() => CommunityReceiverState.deserialize(hugeCount)).toThrow(MalformedError)
    expect(() => CommunityReceiverState.deserialize(concatBytes(Uint8Array.of(1, 0x45), bytes.subarray(2)))).toThrow(MalformedError)
  })
})

function flip(bytes: Uint8Array, at: number): Uint8Array {
  const out = bytes.slice()
  out[at]! ^= 0x01
  return out
}

function setIndex(bytes: Uint8Array, index: number): Uint8Array {
  const out = bytes.slice()
  new DataView(out.buffer).setUint32(37, index, false)
  return out
}

function padShort(): Uint8Array {
  const p = new Uint8Array(256)
  p[0] = 1
  p[10] = 0x80
  return p
}

describe('the key holder check of the topic signature (§8.5)', () => {
  /** A valid Ed25519 signature with a random nonce (as a hedged signer would make): not libsodium's bytes. */
  function randomisedTopicSignature(e: CommunityEpoch, seed: Uint8Array, sealed: Uint8Array): Uint8Array {
    const h = sodium.crypto_hash_sha512(seed)
    h[0]! &= 248
    h[31]! &= 127
    h[31]! |= 64
    const a = sodium.crypto_core_ed25519_scalar_reduce(concatBytes(h.subarray(0, 32), new Uint8Array(32)))
    const r = sodium.crypto_core_ed25519_scalar_random()
    const R = sodium.crypto_scalarmult_ed25519_base_noclamp(r)
    const m = concatBytes(utf8(COMMUNITY_LABELS.envelopeSignature), sealed.subarray(0, sealed.length - 64))
    const k = sodium.crypto_core_ed25519_scalar_reduce(sodium.crypto_hash_sha512(concatBytes(R, e.topicId, m)))
    const S = sodium.crypto_core_ed25519_scalar_add(r, sodium.crypto_core_ed25519_scalar_mul(k, a))
    return concatBytes(R, S)
  }

  it('accepts exactly what verifyTopicSignature accepts, including a valid randomised signature', () => {
    const e = fixedEpoch()
    const [m] = sealMany(e, alice, 1)
    expect(e.checkTopicSignature(m!)).toBe(true)
    const seed = deriveEpochKeys(e.communityId, e.epoch, e.exportEpochKey()).topicSigningSeed
    const hedged = m!.slice()
    hedged.set(randomisedTopicSignature(e, seed, m!), hedged.length - 64)
    expect(toHex(hedged)).not.toBe(toHex(m!))
    expect(verifyTopicSignature(e.topicId, hedged)).toBe(true)
    expect(e.checkTopicSignature(hedged)).toBe(true)
    // The hedged envelope opens like the original (the AEAD and the sender signature do not cover tsig).
    expect(text(openCommunityMessage(e, CommunityReceiverState.create(e), hedged).body)).toBe('m0')
    for (const bad of [flip(m!, 3), flip(m!, 60), flip(m!, m!.length - 1), flip(m!, m!.length - 40), new Uint8Array(500), m!.subarray(0, 100)]) {
      expect(e.checkTopicSignature(bad)).toBe(verifyTopicSignature(e.topicId, bad))
      expect(e.checkTopicSignature(bad)).toBe(false)
    }
    expect(fixedEpoch(1).checkTopicSignature(m!)).toBe(false)
  })

  it('openCommunityMessage checks the topic signature unless the caller says it already did', () => {
    const e = fixedEpoch()
    const [m] = sealMany(e, alice, 1)
    const badTsig = flip(m!, m!.length - 1)
    const r = CommunityReceiverState.create(e)
    expect(() => openCommunityMessage(e, r, badTsig)).toThrow(DecryptionError)
    // With topicSignatureChecked the envelope's AEAD and sender signature still decide.
    expect(text(openCommunityMessage(e, r, badTsig, { topicSignatureChecked: true }).body)).toBe('m0')
    expect(() => openCommunityMessage(e, r, flip(m!, 60), { topicSignatureChecked: true })).toThrow(DecryptionError)
  })
})
