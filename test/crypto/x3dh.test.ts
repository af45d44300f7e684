import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CryptoError,
  DecryptionError,
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
import { aeadEncrypt, concatBytes, toHex, utf8, x25519, x25519Public } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import type { SessionSecrets } from '../../src/crypto/types.js'
import {
  deriveHeaderSealKey,
  HEADER_SEAL_INFO,
  INITIAL_HEADER_CLEAR_BYTES,
  InitialHeader,
  initiateSession,
  MAX_INITIAL_HEADER_BYTES,
  MIN_INITIAL_HEADER_BYTES,
  openInitialHeader,
  respondSession
} from '../../src/crypto/x3dh.js'

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
        const header = openInitialHeader(bob, prekeys, a.initialHeader.encode())
        expect(toHex(header.initiator.serialize())).toBe(toHex(alice.publicKey.serialize()))
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

  it('a KEM ciphertext changed by someone who can seal gives different keys (implicit rejection), not an error', () => {
    const { prekeys, bundle } = setup(true)
    const ek = new Uint8Array(32).fill(9)
    const a = initiateSession(alice, bundle, { random: (n) => (n === 32 ? ek.slice() : new Uint8Array(n).fill(5)) })
    const h = a.initialHeader
    const ct = h.kemCiphertext!.slice()
    ct[100] ^= 1
    const forged = InitialHeader.create({
      initiator: alice.publicKey,
      ephemeralPrivateKey: ek,
      signedPrekey: bundle.signedPrekey,
      oneTimePrekeyId: h.oneTimePrekeyId!,
      pqPrekeyId: h.pqPrekeyId!,
      kemCiphertext: ct
    })
    expect(toHex(forged.ephemeralKey)).toBe(toHex(h.ephemeralKey))
    const b = respondSession(bob, prekeys, forged.encode())
    expect(toHex(b.secrets.rootKey)).not.toBe(toHex(a.secrets.rootKey))
  })

  it('a changed byte anywhere in the sealed part is refused (DecryptionError)', () => {
    const { prekeys, bundle } = setup(true)
    const bytes = initiateSession(alice, bundle).initialHeader.encode()
    for (const i of [INITIAL_HEADER_CLEAR_BYTES, 100, bytes.length - 5, bytes.length - 1]) {
      const m = bytes.slice()
      m[i]! ^= 1
      expect(() => respondSession(bob, prekeys, m)).toThrow(DecryptionError)
    }
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
    // Fresh prekeys with the same ids but other keys: the header does not open under another SPK...
    const a2 = initiateSession(alice, bundle, { oneTimePrekeyId: 1 })
    expect(() => respondSession(bob, other, a2.initialHeader.encode())).toThrow(DecryptionError)
    // ...and a header already opened gives different keys with them.
    expect(toHex(respondSession(bob, other, a2.initialHeader).secrets.rootKey)).not.toBe(toHex(a2.secrets.rootKey))
    // ...but after 4 rotations the old signed and ML-KEM prekey ids are gone.
    for (let i = 0; i < 4; i++) prekeys.rotate(bob, { now: NOW + i })
    expect(() => respondSession(bob, prekeys, a2.initialHeader)).toThrow(UnknownPrekeyError)
  })

  it('responder refuses prekeys of another identity and a header from itself', () => {
    const { prekeys, bundle } = setup(false)
    const a = initiateSession(alice, bundle)
    expect(() => respondSession(carol, prekeys, a.initialHeader)).toThrow(InvalidArgumentError)
    expect(() => respondSession(carol, prekeys, a.initialHeader.encode())).toThrow(InvalidArgumentError)
    expect(() => openInitialHeader(carol, prekeys, a.initialHeader.encode())).toThrow(InvalidArgumentError)
    expect(() => respondSession(alice, prekeys, a.initialHeader)).toThrow(InvalidArgumentError)
    // Alice sealing a header to her own bundle: it opens, and set-up refuses it.
    const own = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 0 })
    const selfHeader = InitialHeader.create({
      initiator: alice.publicKey,
      ephemeralPrivateKey: new Uint8Array(32).fill(4),
      signedPrekey: own.bundle(alice, { now: NOW }).signedPrekey
    })
    expect(openInitialHeader(alice, own, selfHeader.encode()).initiator.equals(alice.publicKey)).toBe(true)
    expect(() => respondSession(alice, own, selfHeader.encode())).toThrow(InvalidArgumentError)
  })

  it('responder refuses an unknown ML-KEM prekey id', () => {
    const { bundle } = setup(true)
    const noPq = LocalPrekeys.generate(bob, { now: NOW, oneTimeCount: 4, pq: false })
    const a = initiateSession(alice, bundle)
    expect(() => respondSession(bob, noPq, a.initialHeader)).toThrow(UnknownPrekeyError)
  })
})

/** Seals arbitrary `inner` bytes the way §4 does, to build headers the API would never make. */
function sealRaw(ek: Uint8Array, spk: { id: number; publicKey: Uint8Array }, inner: Uint8Array, version = 2): Uint8Array {
  const ekPub = x25519Public(ek)
  const clear = concatBytes(Uint8Array.of(version), ekPub, Uint8Array.of(0, 0, 0, spk.id))
  const { key, nonce } = deriveHeaderSealKey(x25519(ek, spk.publicKey), ekPub, spk.publicKey)
  return concatBytes(clear, aeadEncrypt(key, nonce, inner, clear))
}

/** Whether `needle` occurs in `hay` at any offset. */
function containsBytes(hay: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

describe('InitialHeader encoding (version 2, sealed)', () => {
  const { prekeys, bundle } = setup(true)
  const header = initiateSession(alice, bundle, { oneTimePrekeyId: 2 }).initialHeader
  const bytes = header.encode()
  const open = (b: Uint8Array) => openInitialHeader(bob, prekeys, b)

  it('has the documented layout: version, EK_A and the SPK id in clear, the rest sealed', () => {
    expect(MIN_INITIAL_HEADER_BYTES).toBe(183)
    expect(MAX_INITIAL_HEADER_BYTES).toBe(1279)
    expect(bytes.length).toBe(MAX_INITIAL_HEADER_BYTES)
    expect(bytes[0]).toBe(2)
    expect(toHex(bytes.subarray(1, 33))).toBe(toHex(header.ephemeralKey))
    expect(toHex(bytes.subarray(33, 37))).toBe('00000001')
    // Decrypting by hand per §4: HKDF(DH3 || EK_A || SPK_B, 0*32, info, 56) = key || nonce; AD = the clear part.
    const spk = prekeys.signedPrekey(1)
    const { key, nonce } = deriveHeaderSealKey(x25519(spk.privateKey, header.ephemeralKey), header.ephemeralKey, spk.publicKey)
    expect(HEADER_SEAL_INFO).toBe('sotto/v1/x3dh initial header XChaCha20-Poly1305')
    const clear = bytes.subarray(0, 37)
    const inner = concatBytes(Uint8Array.of(3), alice.publicKey.serialize(), Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1), header.kemCiphertext!)
    expect(toHex(aeadEncrypt(key, nonce, inner, clear))).toBe(toHex(bytes.subarray(37)))
    const opened = open(bytes)
    expect(toHex(opened.encode())).toBe(toHex(bytes))
    expect([opened.version, opened.signedPrekeyId, opened.oneTimePrekeyId, opened.pqPrekeyId]).toEqual([2, 1, 2, 1])
    expect(opened.initiator.equals(alice.publicKey)).toBe(true)
    expect(toHex(opened.kemCiphertext!)).toBe(toHex(header.kemCiphertext!))
  })

  it("an observer of the bytes does not see the initiator's identity", () => {
    for (const pq of [false, true]) {
      const b = initiateSession(alice, setup(pq).bundle).initialHeader.encode()
      expect(containsBytes(b, b.subarray(40, 60))).toBe(true) // the search works
      for (const k of [alice.publicKey.signingKey, alice.publicKey.dhKey, alice.publicKey.dhKeySignature]) {
        expect(containsBytes(b, k)).toBe(false)
      }
    }
  })

  it('property: any input either opens to a header that re-encodes to the same bytes, or fails typed', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.integer({ min: 0, max: bytes.length }),
        (pos, xor, cut) => {
          const m = bytes.slice()
          m[pos]! ^= xor
          for (const input of [m, bytes.subarray(0, cut)]) {
            let decoded: InitialHeader | undefined
            try {
              decoded = open(input)
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

  it('rejects other versions (version 1 as a downgrade), and bad lengths', () => {
    expect(() => open(new Uint8Array(0))).toThrow(MalformedError)
    for (const v of [0, 1, 3]) {
      const m = bytes.slice()
      m[0] = v
      expect(() => open(m), `version ${v}`).toThrow(UnsupportedVersionError)
    }
    expect(() => open(bytes.subarray(0, MIN_INITIAL_HEADER_BYTES - 1))).toThrow(MalformedError)
    expect(() => open(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => open(bytes.subarray(0, bytes.length - 1))).toThrow(DecryptionError)
  })

  it('rejects, inside a valid seal, unknown flags, trailing or missing bytes and a bad initiator identity', () => {
    const ek = new Uint8Array(32).fill(0x42)
    const spk = bundle.signedPrekey
    const id = alice.publicKey.serialize()
    const ct = header.kemCiphertext!
    const ids = Uint8Array.of(0, 0, 0, 2, 0, 0, 0, 1)
    // The hand-made seal is the real one when the inner bytes are right.
    expect(open(sealRaw(ek, spk, concatBytes(Uint8Array.of(3), id, ids, ct))).initiator.equals(alice.publicKey)).toBe(true)
    expect(() => open(sealRaw(ek, spk, concatBytes(Uint8Array.of(7), id, ids, ct)))).toThrow(MalformedError)
    expect(() => open(sealRaw(ek, spk, concatBytes(Uint8Array.of(1), id, ids, ct)))).toThrow(MalformedError)
    expect(() => open(sealRaw(ek, spk, concatBytes(Uint8Array.of(3), id, ids, ct.subarray(1))))).toThrow(MalformedError)
    expect(() => open(sealRaw(ek, spk, concatBytes(Uint8Array.of(0), id, Uint8Array.of(0))))).toThrow(MalformedError)
    const bad = id.slice()
    bad[1 + 64 + 3]! ^= 1
    expect(() => open(sealRaw(ek, spk, concatBytes(Uint8Array.of(0), bad)))).toThrow(SignatureError)
  })

  it('rejects a low-order or all-zero ephemeral key, and a signed prekey id not held', () => {
    const zero = bytes.slice()
    zero.fill(0, 1, 33)
    expect(() => open(zero)).toThrow(InvalidKeyError)
    const one = zero.slice()
    one[1] = 1
    expect(() => open(one)).toThrow(InvalidKeyError)
    const spkId = bytes.slice()
    spkId[36] = 9
    expect(() => open(spkId)).toThrow(UnknownPrekeyError)
  })

  it('create refuses a low-order signed prekey and a KEM ciphertext without its id', () => {
    const ek = new Uint8Array(32).fill(1)
    expect(() => InitialHeader.create({ initiator: alice.publicKey, ephemeralPrivateKey: ek, signedPrekey: { id: 1, publicKey: new Uint8Array(32) } })).toThrow(
      InvalidKeyError
    )
    expect(() => InitialHeader.create({ initiator: alice.publicKey, ephemeralPrivateKey: ek, signedPrekey: bundle.signedPrekey, kemCiphertext: header.kemCiphertext! })).toThrow(
      InvalidArgumentError
    )
  })
})
