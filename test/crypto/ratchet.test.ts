import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  DecryptionError,
  DuplicateMessageError,
  InvalidArgumentError,
  InvalidKeyError,
  InvalidStateError,
  MalformedError,
  TooManySkippedError,
  UnsupportedVersionError
} from '../../src/crypto/errors.js'
import { toHex, utf8 } from '../../src/crypto/primitives.js'
import {
  ENCRYPTED_HEADER_BYTES,
  MAX_SKIP,
  MAX_SKIPPED_TOTAL,
  type RatchetMessage,
  RatchetSession
} from '../../src/crypto/ratchet.js'
import { encodeHeader, headerAssociatedData, sealHeader } from '../../src/crypto/ratchet-kdf.js'
import { fixedKeyPair, fixedSecrets, makePair } from './ratchet-helpers.js'

const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Sends `count` messages from `s`; returns the last state and the messages. */
function sendMany(s: RatchetSession, count: number, label = 'm'): { session: RatchetSession; messages: RatchetMessage[] } {
  const messages: RatchetMessage[] = []
  for (let i = 0; i < count; i++) {
    const r = s.encrypt(utf8(`${label}${i}`))
    s = r.session
    messages.push(r.message)
  }
  return { session: s, messages }
}

function expectUnchanged(s: RatchetSession, action: () => unknown, error: new (...a: never[]) => Error): void {
  const before = toHex(s.serialize())
  expect(action).toThrow(error)
  expect(toHex(s.serialize())).toBe(before)
}

describe('RatchetSession: basic exchange', () => {
  it('alice -> bob -> alice round trips, with the documented sizes', () => {
    let { alice, bob } = makePair()
    const a1 = alice.encrypt(utf8('hello bob'))
    expect(a1.message.header.length).toBe(ENCRYPTED_HEADER_BYTES)
    expect(a1.message.ciphertext.length).toBe(9 + 16)
    alice = a1.session
    const b1 = bob.decrypt(a1.message)
    expect(text(b1.plaintext)).toBe('hello bob')
    bob = b1.session
    expect(bob.canSend).toBe(true)
    const r = bob.encrypt(utf8('hi alice'))
    const a2 = alice.decrypt(r.message)
    expect(text(a2.plaintext)).toBe('hi alice')
  })

  it('the responder cannot send before it has received', () => {
    const { bob } = makePair()
    expect(bob.canSend).toBe(false)
    expect(() => bob.encrypt(utf8('x'))).toThrow(InvalidStateError)
  })

  it('long ping-pong with several messages per turn keeps working', () => {
    let { alice, bob } = makePair()
    for (let round = 0; round < 20; round++) {
      const a = sendMany(alice, 1 + (round % 3), `a${round}-`)
      alice = a.session
      for (const [i, m] of a.messages.entries()) {
        const r = bob.decrypt(m)
        expect(text(r.plaintext)).toBe(`a${round}-${i}`)
        bob = r.session
      }
      const b = sendMany(bob, 1 + (round % 2), `b${round}-`)
      bob = b.session
      for (const [i, m] of b.messages.entries()) {
        const r = alice.decrypt(m)
        expect(text(r.plaintext)).toBe(`b${round}-${i}`)
        alice = r.session
      }
    }
    expect(alice.skippedKeyCount).toBe(0)
    expect(bob.skippedKeyCount).toBe(0)
  })

  it('encrypt and decrypt never change the session they are called on', () => {
    const { alice, bob } = makePair()
    const aBefore = toHex(alice.serialize())
    const bBefore = toHex(bob.serialize())
    const r = alice.encrypt(utf8('x'))
    bob.decrypt(r.message)
    expect(toHex(alice.serialize())).toBe(aBefore)
    expect(toHex(bob.serialize())).toBe(bBefore)
  })

  it('header encryption hides the ratchet key and counters (headers differ, none contains the public key)', () => {
    const { alice } = makePair()
    const a = sendMany(alice, 3)
    const pub = toHex(RatchetSession.deserialize(alice.serialize()).serialize().subarray(34, 66))
    for (const m of a.messages) expect(toHex(m.header)).not.toContain(pub)
    expect(new Set(a.messages.map((m) => toHex(m.header))).size).toBe(3)
  })

  it('messageKeyId names the sender ratchet key and N', () => {
    const { alice, bob } = makePair()
    const a = sendMany(alice, 2)
    const r0 = bob.decrypt(a.messages[0]!)
    const r1 = r0.session.decrypt(a.messages[1]!)
    expect(r0.messageKeyId).toMatch(/^[0-9a-f]{64}:0$/)
    expect(r1.messageKeyId).toBe(r0.messageKeyId.replace(/:0$/, ':1'))
  })
})

describe('RatchetSession: out of order, duplicates, bounds', () => {
  it('decrypts out-of-order messages within a chain and across chains', () => {
    let { alice, bob } = makePair()
    const a0 = sendMany(alice, 4, 'a')
    alice = a0.session
    bob = bob.decrypt(a0.messages[2]!).session
    expect(bob.skippedKeyCount).toBe(2)
    const b0 = sendMany(bob, 1, 'b')
    bob = b0.session
    alice = alice.decrypt(b0.messages[0]!).session
    const a1 = sendMany(alice, 2, 'c')
    alice = a1.session
    // New chain first: the rest of the old chain (N = 3, PN = 4) is skipped into a closed chain.
    bob = bob.decrypt(a1.messages[1]!).session
    expect(bob.skippedKeyCount).toBe(2 + 1 + 1)
    for (const [m, want] of [
      [a0.messages[0]!, 'a0'],
      [a1.messages[0]!, 'c0'],
      [a0.messages[3]!, 'a3'],
      [a0.messages[1]!, 'a1']
    ] as const) {
      const r = bob.decrypt(m)
      expect(text(r.plaintext)).toBe(want)
      bob = r.session
    }
    expect(bob.skippedKeyCount).toBe(0)
  })

  it('duplicates throw DuplicateMessageError in the current chain, from skipped keys and in closed chains', () => {
    let { alice, bob } = makePair()
    const a0 = sendMany(alice, 3)
    alice = a0.session
    bob = bob.decrypt(a0.messages[0]!).session
    expectUnchanged(bob, () => bob.decrypt(a0.messages[0]!), DuplicateMessageError)
    bob = bob.decrypt(a0.messages[2]!).session
    bob = bob.decrypt(a0.messages[1]!).session // from the skipped store
    expectUnchanged(bob, () => bob.decrypt(a0.messages[1]!), DuplicateMessageError)
    const b = sendMany(bob, 1)
    bob = b.session
    alice = alice.decrypt(b.messages[0]!).session
    const a1 = sendMany(alice, 1)
    bob = bob.decrypt(a1.messages[0]!).session
    // a0's chain is closed now: replays of it are still recognised.
    for (const m of a0.messages) expectUnchanged(bob, () => bob.decrypt(m), DuplicateMessageError)
    expectUnchanged(bob, () => bob.decrypt(a1.messages[0]!), DuplicateMessageError)
  })

  it(`accepts a gap of exactly MAX_SKIP (${MAX_SKIP}) and rejects MAX_SKIP + 1 with the state unchanged`, () => {
    const { alice, bob } = makePair()
    const a = sendMany(alice, MAX_SKIP + 2)
    expectUnchanged(bob, () => bob.decrypt(a.messages[MAX_SKIP + 1]!), TooManySkippedError)
    const r = bob.decrypt(a.messages[MAX_SKIP]!)
    expect(text(r.plaintext)).toBe(`m${MAX_SKIP}`)
    expect(r.session.skippedKeyCount).toBe(MAX_SKIP)
    // The session keeps working after the rejection: message 0 still decrypts from the old state.
    expect(text(bob.decrypt(a.messages[0]!).plaintext)).toBe('m0')
  })

  it('rejects a new chain whose PN would skip more than MAX_SKIP keys of the old one', () => {
    let { alice, bob } = makePair()
    const a0 = sendMany(alice, MAX_SKIP + 2)
    alice = a0.session
    bob = bob.decrypt(a0.messages[0]!).session
    const b = bob.encrypt(utf8('b'))
    bob = b.session
    alice = alice.decrypt(b.message).session
    const a1 = alice.encrypt(utf8('new chain'))
    expectUnchanged(bob, () => bob.decrypt(a1.message), TooManySkippedError)
  })

  it(`evicts the oldest skipped keys beyond ${MAX_SKIPPED_TOTAL} in total`, () => {
    let { alice, bob } = makePair()
    const chains: RatchetMessage[][] = []
    for (let c = 0; c < 3; c++) {
      const a = sendMany(alice, MAX_SKIP + 1, `c${c}-`)
      alice = a.session
      chains.push(a.messages)
      bob = bob.decrypt(a.messages[MAX_SKIP]!).session // skips 0..999 of this chain
      const b = bob.encrypt(utf8('b'))
      bob = b.session
      alice = alice.decrypt(b.message).session
    }
    expect(bob.skippedKeyCount).toBe(MAX_SKIPPED_TOTAL)
    // The first chain's keys were evicted, oldest first.
    expectUnchanged(bob, () => bob.decrypt(chains[0]![0]!), TooManySkippedError)
    expectUnchanged(bob, () => bob.decrypt(chains[0]![999]!), TooManySkippedError)
    expect(text(bob.decrypt(chains[1]![0]!).plaintext)).toBe('c1-0')
    expect(text(bob.decrypt(chains[2]![999]!).plaintext)).toBe('c2-999')
  })
})

describe('RatchetSession: tampering and bad keys', () => {
  it('any flipped bit in header or body throws DecryptionError and leaves the state unchanged', () => {
    const { alice, bob } = makePair()
    const { message } = alice.encrypt(utf8('tamper me'))
    for (const part of ['header', 'ciphertext'] as const) {
      for (let i = 0; i < message[part].length; i++) {
        const bad = { ...message, [part]: message[part].slice() }
        bad[part][i]! ^= 1 << i % 8
        expectUnchanged(bob, () => bob.decrypt(bad), DecryptionError)
      }
    }
    expectUnchanged(bob, () => bob.decrypt({ ...message, header: message.header.subarray(1) }), DecryptionError)
    expectUnchanged(bob, () => bob.decrypt({ ...message, ciphertext: message.ciphertext.subarray(0, 15) }), DecryptionError)
    expect(text(bob.decrypt(message).plaintext)).toBe('tamper me')
  })

  it('a message of another session (other AD) throws DecryptionError', () => {
    const { alice } = makePair()
    const other = RatchetSession.initBob(fixedSecrets('other'), fixedKeyPair('bob ratchet key'))
    expect(() => other.decrypt(alice.encrypt(utf8('x')).message)).toThrow(DecryptionError)
  })

  it('an authentic header carrying a low-order ratchet key throws InvalidKeyError', () => {
    const secrets = fixedSecrets()
    const bob = RatchetSession.initBob(secrets, fixedKeyPair('bob ratchet key'))
    const lowOrder = new Uint8Array(32)
    lowOrder[0] = 1 // the neutral point, order 1
    const header = sealHeader(
      secrets.headerKeyA,
      new Uint8Array(24),
      encodeHeader(lowOrder, 0, 0),
      headerAssociatedData(secrets.associatedData)
    )
    expectUnchanged(bob, () => bob.decrypt({ header, ciphertext: new Uint8Array(16) }), InvalidKeyError)
  })

  it('initAlice rejects a low-order responder key and wrong-sized secrets', () => {
    expect(() => RatchetSession.initAlice(fixedSecrets(), new Uint8Array(32))).toThrow(InvalidKeyError)
    const bad = { ...fixedSecrets(), rootKey: new Uint8Array(31) }
    expect(() => RatchetSession.initAlice(bad, fixedKeyPair('k').publicKey)).toThrow(InvalidArgumentError)
  })
})

describe('RatchetSession: serialisation', () => {
  it('round-trips at every step of a conversation with skipped keys and closed chains', () => {
    let { alice, bob } = makePair()
    const rt = (s: RatchetSession): RatchetSession => {
      const bytes = s.serialize()
      const back = RatchetSession.deserialize(bytes)
      expect(toHex(back.serialize())).toBe(toHex(bytes))
      return back
    }
    bob = rt(bob)
    const a0 = sendMany(alice, 3)
    alice = rt(a0.session)
    bob = rt(bob.decrypt(a0.messages[2]!).session)
    const b0 = sendMany(bob, 1)
    bob = rt(b0.session)
    alice = rt(alice.decrypt(b0.messages[0]!).session)
    const a1 = sendMany(alice, 1)
    bob = rt(bob.decrypt(a1.messages[0]!).session)
    expect(bob.skippedKeyCount).toBe(2)
    expect(text(bob.decrypt(a0.messages[0]!).plaintext)).toBe('m0')
  })

  it('strict decoding: bad version, unknown flags, truncation and trailing bytes', () => {
    const { alice } = makePair()
    const bytes = alice.serialize()
    const v = bytes.slice()
    v[0] = 2
    expect(() => RatchetSession.deserialize(v)).toThrow(UnsupportedVersionError)
    const f = bytes.slice()
    f[1]! |= 0x80
    expect(() => RatchetSession.deserialize(f)).toThrow(MalformedError)
    for (let cut = 0; cut < bytes.length; cut += 7) {
      expect(() => RatchetSession.deserialize(bytes.subarray(0, cut))).toThrow(MalformedError)
    }
    expect(() => RatchetSession.deserialize(new Uint8Array([...bytes, 0]))).toThrow(MalformedError)
  })

  it('rejects skipped-key lists that are out of order or out of range', () => {
    let { alice, bob } = makePair()
    const a = sendMany(alice, 3)
    alice = a.session
    bob = bob.decrypt(a.messages[2]!).session
    const bytes = bob.serialize()
    // The last byte is the count of closed chains (0); before it: 2 entries of u32 N || mk[32].
    const entries = bytes.length - 1 - 2 * 36
    const swapped = bytes.slice()
    swapped.set(bytes.subarray(entries + 36, entries + 72), entries)
    swapped.set(bytes.subarray(entries, entries + 36), entries + 36)
    expect(() => RatchetSession.deserialize(swapped)).toThrow(MalformedError)
    const beyond = bytes.slice()
    new DataView(beyond.buffer).setUint32(entries + 36, 3) // N = 3 >= Nr = 3
    expect(() => RatchetSession.deserialize(beyond)).toThrow(MalformedError)
  })
})

describe('RatchetSession: secrets stay secret', () => {
  it('toString, JSON and inspect print no key material', () => {
    const { alice } = makePair()
    const rk = toHex(fixedSecrets().rootKey)
    for (const out of [String(alice), JSON.stringify({ alice }), inspect(alice, { showHidden: true, depth: 9 })]) {
      expect(out).toContain('RatchetSession')
      expect(out).not.toContain(rk.slice(0, 16))
      expect(out).not.toMatch(/[0-9a-f]{32}/)
    }
  })

  it('wipe(successor) zeroes the old state and leaves the successor working', () => {
    let { alice, bob } = makePair()
    const a = sendMany(alice, 3)
    alice = a.session
    const old = bob
    bob = bob.decrypt(a.messages[2]!).session
    old.wipe(bob)
    expect(() => old.serialize()).toThrow(InvalidStateError)
    expect(() => old.decrypt(a.messages[0]!)).toThrow(InvalidStateError)
    expect(text(bob.decrypt(a.messages[0]!).plaintext)).toBe('m0')
    bob.wipe()
    expect(() => bob.encrypt(utf8('x'))).toThrow(InvalidStateError)
  })
})

describe('RatchetSession: initialisation checks', () => {
  it('initBob refuses a key pair whose public key does not match its private key', () => {
    const pair = fixedKeyPair('bob ratchet key')
    const other = fixedKeyPair('someone else')
    expect(() => RatchetSession.initBob(fixedSecrets(), { privateKey: pair.privateKey, publicKey: other.publicKey })).toThrow(
      InvalidArgumentError
    )
  })
})
