// Attacks 2, 3 and 13 (1:1 half) against the real crypto layer: X3DH/PQXDH set-up, then the Double Ratchet
// with header encryption (docs/PROTOCOL.md §4-§6), carried in real envelopes (§11).
import { describe, expect, it } from 'vitest'
import { CryptoError, DecryptionError, DuplicateMessageError, TooManySkippedError } from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { equalBytes, utf8 } from '../../src/crypto/primitives.js'
import { MAX_SKIP, type RatchetMessage, RatchetSession } from '../../src/crypto/ratchet.js'
import { InitialHeader, initiateSession, respondSession } from '../../src/crypto/x3dh.js'
import { coarseTimestamp, decodeEnvelope, encodeEnvelope, ProtocolError } from '../../src/protocol/index.js'
import { fixedSecrets } from '../crypto/ratchet-helpers.js'
import { bitPositions, flipBit } from './helpers.js'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** A real session: Alice initiates X3DH/PQXDH against Bob's bundle and sends her first message. */
function realSession(alice = IdentityKeyPair.generate(), bob = IdentityKeyPair.generate()) {
  const bobPrekeys = LocalPrekeys.generate(bob, { oneTimeCount: 2 })
  const setup = initiateSession(alice, bobPrekeys.bundle(bob), { expectedIdentity: bob.publicKey })
  const aliceSession = RatchetSession.initAlice(setup.secrets, setup.theirRatchetKey)
  const answer = respondSession(bob, bobPrekeys, setup.initialHeader)
  const bobSession = RatchetSession.initBob(answer.secrets, answer.ourRatchetKeyPair)
  return { alice, bob, bobPrekeys, aliceSession, bobSession, header: setup.initialHeader, secrets: answer.secrets }
}

/** Decrypts or returns the error thrown. */
function tryDecrypt(s: RatchetSession, m: RatchetMessage): { plaintext: string; session: RatchetSession } | Error {
  try {
    const r = s.decrypt(m)
    return { plaintext: text(r.plaintext), session: r.session }
  } catch (err) {
    return err as Error
  }
}

describe('attack 2: reordering, duplication and loss', () => {
  it('attack 2: messages reordered, duplicated or lost within MAX_SKIP decrypt once each; beyond MAX_SKIP they are rejected and the session still works', () => {
    let { aliceSession: alice, bobSession: bob } = realSession()
    const sent: RatchetMessage[] = []
    for (let i = 0; i < 12; i++) {
      const r = alice.encrypt(utf8(`m${i}`))
      alice = r.session
      sent.push(r.message)
    }
    // Delivered out of order, 3 and 7 lost, 5 and 0 duplicated.
    const order = [4, 0, 9, 5, 1, 11, 2, 5, 10, 6, 0, 8]
    const got: string[] = []
    let duplicates = 0
    for (const i of order) {
      const r = tryDecrypt(bob, sent[i]!)
      if (r instanceof Error) {
        expect(r).toBeInstanceOf(DuplicateMessageError)
        duplicates++
      } else {
        got.push(r.plaintext)
        bob = r.session
      }
    }
    expect(duplicates).toBe(2)
    expect(got).toEqual(['m4', 'm0', 'm9', 'm5', 'm1', 'm11', 'm2', 'm10', 'm6', 'm8'])
    // The lost ones still decrypt when they arrive late.
    for (const i of [7, 3]) {
      const r = tryDecrypt(bob, sent[i]!)
      if (r instanceof Error) throw r
      expect(r.plaintext).toBe(`m${i}`)
      bob = r.session
    }

    // Beyond the bound: a message that would make Bob skip more than MAX_SKIP keys in one chain.
    const far: RatchetMessage[] = []
    for (let i = 0; i <= MAX_SKIP + 1; i++) {
      const r = alice.encrypt(utf8(`far${i}`))
      alice = r.session
      far.push(r.message)
    }
    const before = bob.serialize()
    const tooFar = tryDecrypt(bob, far[MAX_SKIP + 1]!)
    expect(tooFar).toBeInstanceOf(TooManySkippedError)
    expect(equalBytes(bob.serialize(), before)).toBe(true)
    // The session works afterwards: within the bound, and in both directions.
    const near = tryDecrypt(bob, far[MAX_SKIP - 1]!)
    if (near instanceof Error) throw near
    expect(near.plaintext).toBe(`far${MAX_SKIP - 1}`)
    bob = near.session
    const reply = bob.encrypt(utf8('still here'))
    bob = reply.session
    const back = tryDecrypt(alice, reply.message)
    if (back instanceof Error) throw back
    expect(back.plaintext).toBe('still here')
    alice = back.session
    const again = alice.encrypt(utf8('and again'))
    const last = tryDecrypt(bob, again.message)
    if (last instanceof Error) throw last
    expect(last.plaintext).toBe('and again')
  })

  it('attack 2: a new ratchet chain whose previous chain claims more than MAX_SKIP messages is rejected, the session unchanged', () => {
    let { aliceSession: alice, bobSession: bob } = realSession()
    const first = alice.encrypt(utf8('hi'))
    alice = first.session
    bob = bob.decrypt(first.message).session
    // Alice sends MAX_SKIP + 2 on her chain, Bob sees none of them, then Alice receives and ratchets.
    for (let i = 0; i <= MAX_SKIP + 1; i++) alice = alice.encrypt(utf8(`lost${i}`)).session
    const b = bob.encrypt(utf8('ping'))
    bob = b.session
    alice = alice.decrypt(b.message).session
    const next = alice.encrypt(utf8('new chain'))
    const before = bob.serialize()
    expect(tryDecrypt(bob, next.message)).toBeInstanceOf(TooManySkippedError)
    expect(equalBytes(bob.serialize(), before)).toBe(true)
    // Bob can still talk to Alice.
    const c = bob.encrypt(utf8('are you there?'))
    const r = tryDecrypt(alice, c.message)
    if (r instanceof Error) throw r
    expect(r.plaintext).toBe('are you there?')
  })
})

describe('attack 3: bit flips', () => {
  it('attack 3: a flipped bit anywhere in a 1:1 envelope is rejected and leaves the session unchanged', () => {
    const s = realSession()
    let { aliceSession: alice, bobSession: bob } = s
    type Direct = Exclude<ReturnType<typeof decodeEnvelope>, { kind: 'community' }>
    let flips = 0
    /** Flips every bit of `env`; each variant must fail to decode or fail in `receive`; `state()` must not move. */
    const attack = (env: Uint8Array, receive: (d: Direct) => unknown, state: () => Uint8Array, bits = bitPositions(env)): void => {
      const before = state()
      for (const bit of bits) {
        flips++
        let decoded: ReturnType<typeof decodeEnvelope>
        try {
          decoded = decodeEnvelope(flipBit(env, bit))
        } catch (err) {
          expect(err).toBeInstanceOf(ProtocolError)
          continue
        }
        // Still a well-formed envelope (the flip hit a header or ciphertext byte): the crypto layer refuses it.
        if (decoded.kind === 'community') throw new Error(`bit ${bit}: became a community envelope`)
        expect(() => receive(decoded), `bit ${bit}`).toThrow(CryptoError)
      }
      expect(equalBytes(state(), before)).toBe(true)
    }
    // The first message: Bob runs the whole set-up from the envelope's initial header (as the app does).
    const first = alice.encrypt(utf8('first'))
    alice = first.session
    const firstEnv = encodeEnvelope({
      kind: 'direct-prekey',
      timestamp: coarseTimestamp(),
      prekeyHeader: s.header.encode(),
      ratchetHeader: first.message.header,
      ciphertext: first.message.ciphertext
    })
    // The set-up is deterministic in the header: computed once for the unmodified header (flips elsewhere).
    const unmodified = s.header.encode()
    const cached = respondSession(s.bob, s.bobPrekeys, s.header)
    const setUpAndDecrypt = (d: Direct) => {
      if (d.kind !== 'direct-prekey') throw new DecryptionError('not a first message')
      const r = equalBytes(d.prekeyHeader, unmodified) ? cached : respondSession(s.bob, s.bobPrekeys, InitialHeader.open(s.bob, s.bobPrekeys, d.prekeyHeader))
      return RatchetSession.initBob(r.secrets, r.ourRatchetKeyPair).decrypt({ header: d.ratchetHeader, ciphertext: d.ciphertext })
    }
    // Every bit, except in the padding field after the ciphertext (every flip there breaks the canonical
    // encoding the same way) where every 16th bit is tried.
    const padStart = Buffer.from(firstEnv).indexOf(Buffer.from(first.message.ciphertext)) + first.message.ciphertext.length
    const bits = bitPositions(firstEnv).filter((b) => b < padStart * 8 || b % 16 === 0)
    attack(firstEnv, setUpAndDecrypt, () => s.bobPrekeys.serialize(), bits)
    const ok = setUpAndDecrypt(decodeEnvelope(firstEnv) as Direct)
    expect(text(ok.plaintext)).toBe('first')
    bob = ok.session
    // A running chain in both directions, then a direct envelope on it.
    const reply = bob.encrypt(utf8('reply'))
    bob = reply.session
    alice = alice.decrypt(reply.message).session
    const second = alice.encrypt(utf8('second'))
    const secondEnv = encodeEnvelope({
      kind: 'direct',
      timestamp: coarseTimestamp(),
      ratchetHeader: second.message.header,
      ciphertext: second.message.ciphertext
    })
    attack(secondEnv, (d) => bob.decrypt({ header: d.ratchetHeader, ciphertext: d.ciphertext }), () => bob.serialize())
    expect(text(bob.decrypt(decodeAs(secondEnv)).plaintext)).toBe('second')
    expect(flips).toBe(bits.length + secondEnv.length * 8)
  })

  it('attack 3: a flipped bit in the encrypted header, the ciphertext or the associated data is rejected, state unchanged', () => {
    const bobKey = realKey()
    const alice = RatchetSession.initAlice(fixedSecrets(), bobKey.publicKey)
    const bob = RatchetSession.initBob(fixedSecrets(), bobKey)
    const m = alice.encrypt(utf8('bound to both identities'))
    const before = bob.serialize()
    for (const bit of bitPositions(m.message.header)) {
      expect(() => bob.decrypt({ header: flipBit(m.message.header, bit), ciphertext: m.message.ciphertext })).toThrow(DecryptionError)
    }
    for (const bit of bitPositions(m.message.ciphertext)) {
      expect(() => bob.decrypt({ header: m.message.header, ciphertext: flipBit(m.message.ciphertext, bit) })).toThrow(DecryptionError)
    }
    // Associated data: both identity keys (§4). A receiver whose AD differs by one bit (another identity) refuses.
    const ad = fixedSecrets().associatedData
    for (const bit of bitPositions(ad, 64)) {
      const other = RatchetSession.initBob({ ...fixedSecrets(), associatedData: flipBit(ad, bit) }, bobKey)
      expect(() => other.decrypt(m.message)).toThrow(DecryptionError)
    }
    expect(equalBytes(bob.serialize(), before)).toBe(true)
    expect(text(bob.decrypt(m.message).plaintext)).toBe('bound to both identities')
  })
})

describe('attack 13: replay into another conversation', () => {
  it('attack 13: a 1:1 message replayed into another conversation (another contact, or a new session with the same one) is rejected', () => {
    const alice = IdentityKeyPair.generate()
    const withBob = realSession(alice)
    const withCarol = realSession(alice)
    const again = realSession(alice, withBob.bob)
    const m = withBob.aliceSession.encrypt(utf8('for bob only'))
    expect(() => withCarol.bobSession.decrypt(m.message)).toThrow(DecryptionError)
    expect(() => again.bobSession.decrypt(m.message)).toThrow(DecryptionError)
    // The same initial header offered to Carol names Bob's prekeys: Carol's set-up cannot use it.
    const carolPrekeys = LocalPrekeys.generate(withCarol.bob, { oneTimeCount: 1 })
    expect(() => {
      const r = respondSession(withCarol.bob, carolPrekeys, withBob.header)
      RatchetSession.initBob(r.secrets, r.ourRatchetKeyPair).decrypt(m.message)
    }).toThrow(CryptoError)
    expect(text(withBob.bobSession.decrypt(m.message).plaintext)).toBe('for bob only')
  })
})

function decodeAs(env: Uint8Array): RatchetMessage {
  const e = decodeEnvelope(env)
  if (e.kind === 'community') throw new Error('not a 1:1 envelope')
  return { header: e.ratchetHeader, ciphertext: e.ciphertext }
}

function realKey() {
  const kp = LocalPrekeys.generate(IdentityKeyPair.generate(), { oneTimeCount: 0 })
  return kp.signedPrekey(1)
}
