import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CryptoError,
  InvalidArgumentError,
  InvalidKeyError,
  MalformedError,
  SignatureError,
  UnknownPrekeyError,
  UnsupportedVersionError,
  UntrustedIdentityError
} from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { concatBytes, toHex, utf8 } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import type { SessionSecrets } from '../../src/crypto/types.js'
import { InitialHeader, initiateSession, MAX_INITIAL_HEADER_BYTES, respondSession } from '../../src/crypto/x3dh.js'

const alice = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0xa1))
const bob = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0xb0))
const carol = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(0xc0))
const NOW = 1_750_000_000_000

const hexOf = (s: SessionSecrets) => [s.rootKey, s.headerKeyA, s.nextHeaderKeyB, s.associatedData].map(toHex)

function setup(pq: boolean, oneTimeCount = 4) {
  const prekeys = LocalPrekeys.generate(bob, { now: NOW, oneTimeCount, pq })
  return { prekeys, bundle: prekeys.bundle(bob, { now: NOW }) }
}

describe('X3DH / PQXDH set-up', () => {
  for (const pq of [false, true]) {
    for (const oneTime of [0, 4]) {
      it(`both sides agree (${pq ? 'PQXDH' : 'X3DH'}, ${oneTime ? 'with' : 'without'} one-time prekey)`, () => {
        const { prekeys, bundle } = setup(pq, oneTime)
        const a = initiateSession(alice, bundle, { expectedIdentity: bob.publicKey })
        const header = InitialHeader.decode(a.initialHeader.encode())
        const b = respondSession(bob, prekeys, header)
        expect(hexOf(b.secrets)).toEqual(hexOf(a.secrets))
        expect(toHex(a.secrets.associatedData)).toBe(toHex(concatBytes(alice.publicKey.signingKey, bob.publicKey.signingKey)))
        expect(toHex(a.theirRatchetKey)).toBe(toHex(b.ourRatchetKeyPair.publicKey))
        expect(toHex(a.theirRatchetKey)).toBe(toHex(bundle.signedPrekey.publicKey))
        expect(a.secrets.rootKey.length).toBe(32)
        expect(new Set(hexOf(a.secrets).slice(0, 3)).size).toBe(3)
        expect(header.pqPrekeyId !== undefined).toBe(pq)
        expect(header.kemCiphertext?.length).toBe(pq ? 1088 : undefined)
        expect(b.consumedOneTimePrekeyId).toBe(header.oneTimePrekeyId)
        expect(header.oneTimePrekeyId !== undefined).toBe(oneTime > 0)
      })
    }
  }

  it('the secrets start a Double Ratchet that carries messages both ways (PQXDH, one-time prekey)', () => {
    const { prekeys, bundle } = setup(true)
    const a = initiateSession(alice, bundle.encode(), { expectedIdentity: bob.publicKey })
    const b = respondSession(bob, prekeys, a.initialHeader.encode())
    let aliceSession = RatchetSession.initAlice(a.secrets, a.theirRatchetKey)
    let bobSession = RatchetSession.initBob(b.secrets, b.ourRatchetKeyPair)
    const first = aliceSession.encrypt(utf8('hello bob'))
    aliceSession = first.session
    const opened = bobSession.decrypt(first.message)
    bobSession = opened.session
    expect(new TextDecoder().decode(opened.plaintext)).toBe('hello bob')
    prekeys.consume(b.consumedOneTimePrekeyId!) // §3: only after the first message opened
    const reply = bobSession.encrypt(utf8('hello alice'))
    expect(new TextDecoder().decode(aliceSession.decrypt(reply.message).plaintext)).toBe('hello alice')
  })

  it('every session gets fresh keys (fresh ephemeral key)', () => {
    const { bundle } = setup(true)
    const a1 = initiateSession(alice, bundle, { oneTimePrekeyId: 1 })
    const a2 = initiateSession(alice, bundle, { oneTimePrekeyId: 1 })
    expect(toHex(a1.secrets.rootKey)).not.toBe(toHex(a2.secrets.rootKey))
  })

  it('PQXDH and X3DH over the same bundle give different keys; usePq: false is honoured', () => {
    const { prekeys, bundle } = setup(true)
    const fixed = (n: number) => new Uint8Array(n).fill(7)
    const classic = initiateSession(alice, bundle, { usePq: false, oneTimePrekeyId: 2, random: fixed })
    const hybrid = initiateSession(alice, bundle, { oneTimePrekeyId: 2, random: fixed })
    expect(classic.initialHeader.pqPrekeyId).toBeUndefined()
    expect(toHex(classic.secrets.rootKey)).not.toBe(toHex(hybrid.secrets.rootKey))
    expect(hexOf(respondSession(bob, prekeys, classic.initialHeader).secrets)).toEqual(hexOf(classic.secrets))
  })

  it('picks the one-time prekey from the random source when none is named', () => {
    const { bundle } = setup(false, 4)
    let calls = 0
    const random = (n: number) => {
      calls++
      return n === 4 ? Uint8Array.of(0, 0, 0, 6) : new Uint8Array(n).fill(3)
    }
    const a = initiateSession(alice, bundle, { random })
    expect(a.initialHeader.oneTimePrekeyId).toBe(bundle.oneTimePrekeys[6 % 4]!.id)
    expect(calls).toBe(2)
  })

  it('a tampered KEM ciphertext gives different keys (implicit rejection), not an error', () => {
    const { prekeys, bundle } = setup(true)
    const a = initiateSession(alice, bundle)
    const bytes = a.initialHeader.encode()
    bytes[bytes.length - 5] ^= 1
    const b = respondSession(bob, prekeys, bytes)
    expect(toHex(b.secrets.rootKey)).not.toBe(toHex(a.secrets.rootKey))
  })
})

describe('set-up rejections', () => {
  it('refuses a bundle from an unexpected identity', () => {
    const { bundle } = setup(false)
    expect(() => initiateSession(alice, bundle, { expectedIdentity: carol.publicKey })).toThrow(UntrustedIdentityError)
  })

  it('refuses bundle bytes with a bad signature', () => {
    const bytes = setup(true).bundle.encode()
    bytes[140] ^= 1
    expect(() => initiateSession(alice, bytes)).toThrow(SignatureError)
  })

  it('refuses a one-time prekey id the bundle lacks, PQ without an ML-KEM prekey, and our own bundle', () => {
    const { bundle } = setup(false)
    expect(() => initiateSession(alice, bundle, { oneTimePrekeyId: 99 })).toThrow(UnknownPrekeyError)
    expect(() => initiateSession(alice, bundle, { usePq: true })).toThrow(InvalidArgumentError)
    expect(() => initiateSession(bob, bundle)).toThrow(InvalidArgumentError)
  })

  it('responder refuses unknown or consumed prekeys', () => {
    const { prekeys, bundle } = setup(true)
    const a = initiateSession(alice, bundle, { oneTimePrekeyId: 3 })
    const b = respondSession(bob, prekeys, a.initialHeader)
    prekeys.consume(b.consumedOneTimePrekeyId!)
    expect(() => respondSession(bob, prekeys, a.initialHeader)).toThrow(UnknownPrekeyError)

    const other = LocalPrekeys.generate(bob, { now: NOW, oneTimeCount: 4, pq: true })
    // Fresh prekeys with the same ids but other keys: set-up "succeeds" with different keys...
    const a2 = initiateSession(alice, bundle, { oneTimePrekeyId: 1 })
    expect(toHex(respondSession(bob, other, a2.initialHeader).secrets.rootKey)).not.toBe(toHex(a2.secrets.rootKey))
    // ...but after 4 rotations the old signed and ML-KEM prekey ids are gone.
    for (let i = 0; i < 4; i++) prekeys.rotate(bob, { now: NOW + i })
    expect(() => respondSession(bob, prekeys, a2.initialHeader)).toThrow(UnknownPrekeyError)
  })

  it('responder refuses prekeys of another identity and a header from itself', () => {
    const { prekeys, bundle } = setup(false)
    const a = initiateSession(alice, bundle)
    expect(() => respondSession(carol, prekeys, a.initialHeader)).toThrow(InvalidArgumentError)
    expect(() => respondSession(alice, prekeys, a.initialHeader)).toThrow(InvalidArgumentError)
  })

  it('responder refuses an unknown ML-KEM prekey id', () => {
    const { bundle } = setup(true)
    const noPq = LocalPrekeys.generate(bob, { now: NOW, oneTimeCount: 4, pq: false })
    const a = initiateSession(alice, bundle)
    expect(() => respondSession(bob, noPq, a.initialHeader)).toThrow(UnknownPrekeyError)
  })
})

describe('InitialHeader encoding', () => {
  const { bundle } = setup(true)
  const header = initiateSession(alice, bundle, { oneTimePrekeyId: 2 }).initialHeader
  const bytes = header.encode()

  it('has the documented layout and round-trips', () => {
    expect(bytes.length).toBe(MAX_INITIAL_HEADER_BYTES)
    expect(bytes[0]).toBe(1)
    expect(bytes[1]).toBe(3)
    expect(toHex(bytes.subarray(2, 131))).toBe(toHex(alice.publicKey.serialize()))
    expect(toHex(bytes.subarray(131, 163))).toBe(toHex(header.ephemeralKey))
    expect(toHex(bytes.subarray(163, 167))).toBe('00000001')
    expect(toHex(bytes.subarray(167, 171))).toBe('00000002')
    expect(toHex(bytes.subarray(171, 175))).toBe('00000001')
    expect(toHex(InitialHeader.decode(bytes).encode())).toBe(toHex(bytes))
  })

  it('property: any input either decodes to a header that re-encodes to the same bytes, or fails typed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: bytes.length }),
        (pos, xor, cut) => {
          const m = bytes.slice()
          m[pos] ^= xor
          for (const input of [m, bytes.subarray(0, cut)]) {
            let decoded: InitialHeader | undefined
            try {
              decoded = InitialHeader.decode(input)
            } catch (e) {
              expect(e).toBeInstanceOf(CryptoError)
            }
            if (decoded !== undefined) expect(toHex(decoded.encode())).toBe(toHex(input))
          }
        }
      ),
      { numRuns: 300 }
    )
  })

  it('rejects bad versions, flags and lengths', () => {
    expect(() => InitialHeader.decode(new Uint8Array(0))).toThrow(MalformedError)
    const v = bytes.slice()
    v[0] = 2
    expect(() => InitialHeader.decode(v)).toThrow(UnsupportedVersionError)
    const f = bytes.slice()
    f[1] = 7
    expect(() => InitialHeader.decode(f)).toThrow(MalformedError)
    const noPqFlag = bytes.slice()
    noPqFlag[1] = 1 // says "no PQ" but carries the KEM part: trailing bytes
    expect(() => InitialHeader.decode(noPqFlag)).toThrow(MalformedError)
    expect(() => InitialHeader.decode(bytes.subarray(0, bytes.length - 1))).toThrow(MalformedError)
    expect(() => InitialHeader.decode(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
  })

  it('rejects a low-order or all-zero ephemeral key and a bad initiator identity', () => {
    const zero = bytes.slice()
    zero.fill(0, 131, 163)
    expect(() => InitialHeader.decode(zero)).toThrow(InvalidKeyError)
    const one = zero.slice()
    one[131] = 1
    expect(() => InitialHeader.decode(one)).toThrow(InvalidKeyError)
    const id = bytes.slice()
    id[2 + 1 + 64 + 3] ^= 1
    expect(() => InitialHeader.decode(id)).toThrow(SignatureError)
  })
})
