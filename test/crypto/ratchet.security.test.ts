// Forward secrecy and post-compromise security of the ratchet, shown on serialised states (PROTOCOL.md §5, §6).
import { describe, expect, it } from 'vitest'
import { DecryptionError, DuplicateMessageError } from '../../src/crypto/errors.js'
import { utf8 } from '../../src/crypto/primitives.js'
import { type RatchetMessage, RatchetSession } from '../../src/crypto/ratchet.js'
import { chainStep, containsBytes, makePair, parseState } from './ratchet-helpers.js'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('forward secrecy', () => {
  it('a later state holds none of the earlier message or chain keys, and cannot decrypt earlier messages', () => {
    let { alice, bob } = makePair()
    const secrets: Uint8Array[] = []
    const early: Array<{ to: 'alice' | 'bob'; message: RatchetMessage }> = []
    // Six turns of conversation; every key used on the way is recorded from the sender's state (§6 layout).
    for (let turn = 0; turn < 6; turn++) {
      for (let i = 0; i < 2; i++) {
        const s = parseState(alice.serialize())
        secrets.push(s.cks!, chainStep(s.cks!).messageKey, s.rk)
        const r = alice.encrypt(utf8(`a${turn}.${i}`))
        alice = r.session
        const d = bob.decrypt(r.message)
        const bs = parseState(d.session.serialize())
        secrets.push(bs.ckr!, bs.rk)
        bob = d.session
        early.push({ to: 'bob', message: r.message })
      }
      const s = parseState(bob.serialize())
      secrets.push(s.cks!, chainStep(s.cks!).messageKey)
      const r = bob.encrypt(utf8(`b${turn}`))
      bob = r.session
      alice = alice.decrypt(r.message).session
      early.push({ to: 'alice', message: r.message })
    }
    // One more round trip: both sides complete a DH ratchet step.
    const a = alice.encrypt(utf8('later'))
    alice = a.session
    bob = bob.decrypt(a.message).session
    const b = bob.encrypt(utf8('later too'))
    bob = b.session
    alice = alice.decrypt(b.message).session

    const laterAlice = alice.serialize()
    const laterBob = bob.serialize()
    expect(secrets.length).toBeGreaterThan(60)
    for (const k of secrets) {
      expect(containsBytes(laterAlice, k)).toBe(false)
      expect(containsBytes(laterBob, k)).toBe(false)
    }
    // Nor can the later state decrypt the earlier traffic: it reports the messages as already used.
    for (const m of early) {
      const s = m.to === 'bob' ? RatchetSession.deserialize(laterBob) : RatchetSession.deserialize(laterAlice)
      expect(() => s.decrypt(m.message)).toThrow(DuplicateMessageError)
    }
    // The next message key is derived only forwards: HMAC(ck, 0x02) is the sole successor of a chain key.
    const s = parseState(laterAlice)
    const next = chainStep(s.cks!)
    expect(containsBytes(laterAlice, next.messageKey)).toBe(false)
  })

  it('a skipped key is held until used and gone from the state after it is used', () => {
    let { alice, bob } = makePair()
    const r0 = alice.encrypt(utf8('late'))
    const r1 = r0.session.encrypt(utf8('early'))
    alice = r1.session
    bob = bob.decrypt(r1.message).session
    const held = parseState(bob.serialize()).chains.at(-1)!.skipped
    expect(held.map(([n]) => n)).toEqual([0])
    bob = bob.decrypt(r0.message).session
    expect(containsBytes(bob.serialize(), held[0]![1])).toBe(false)
  })
})

describe('post-compromise security', () => {
  it("a thief with a copy of Bob's state reads the current chain, and loses access after a DH round trip", () => {
    let { alice, bob } = makePair()
    const exchange = (from: 'alice' | 'bob', label: string): RatchetMessage => {
      if (from === 'alice') {
        const r = alice.encrypt(utf8(label))
        alice = r.session
        bob = bob.decrypt(r.message).session
        return r.message
      }
      const r = bob.encrypt(utf8(label))
      bob = r.session
      alice = alice.decrypt(r.message).session
      return r.message
    }
    exchange('alice', 'a1')
    exchange('bob', 'b1')
    exchange('alice', 'a2')
    // The thief copies Bob's whole state (it runs its own copy with its own randomness from here on).
    let thief = RatchetSession.deserialize(bob.serialize())

    // Messages on the chain that is current at the theft: the thief reads them.
    const a3 = exchange('alice', 'a3')
    const t3 = thief.decrypt(a3)
    expect(text(t3.plaintext)).toBe('a3')
    thief = t3.session

    // Bob answers on a chain from the ratchet key in the stolen state; Alice ratchets and answers. The
    // thief knows that ratchet private key, so it still follows this step.
    exchange('bob', 'b2')
    const a4 = exchange('alice', 'a4')
    const t4 = thief.decrypt(a4)
    expect(text(t4.plaintext)).toBe('a4')
    thief = t4.session

    // Bob received a4 with fresh randomness (a new ratchet key the thief does not know) and sends;
    // Alice ratchets with fresh randomness too. From now on the thief reads nothing.
    exchange('bob', 'b3')
    for (const label of ['a5', 'a6']) {
      const m = exchange('alice', label)
      expect(() => thief.decrypt(m)).toThrow(DecryptionError)
    }
    exchange('bob', 'b4')
    const a7 = exchange('alice', 'a7')
    expect(() => thief.decrypt(a7)).toThrow(DecryptionError)
    // Bob, meanwhile, never noticed anything.
    expect(bob.skippedKeyCount).toBe(0)
  })
})
