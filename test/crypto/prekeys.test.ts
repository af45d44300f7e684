import { inspect } from 'node:util'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CryptoError,
  InvalidArgumentError,
  InvalidKeyError,
  MalformedError,
  SignatureError,
  UnknownPrekeyError,
  UnsupportedVersionError
} from '../../src/crypto/errors.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import {
  BUNDLE_LABEL,
  isNewer,
  LocalPrekeys,
  MAX_BUNDLE_BYTES,
  PQ_PREKEY_LABEL,
  PrekeyBundle,
  SIGNED_PREKEY_LABEL,
  u32be,
  u64be
} from '../../src/crypto/prekeys.js'
import { concatBytes, toHex, utf8, x25519Public } from '../../src/crypto/primitives.js'

const alice = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(1))
const mallory = IdentityKeyPair.fromSeed(new Uint8Array(32).fill(2))
const NOW = 1_750_000_000_000

// Offsets in a bundle with the ML-KEM prekey (docs/PROTOCOL.md §3).
const OFF = { seq: 130, spkId: 146, spkCreated: 150, spkPub: 158, spkSig: 190, flags: 254, pqPub: 267, pqSig: 1451, count: 1515, otk: 1516 }
// Without it, the count follows the flags byte.
const OFF_NOPQ = { flags: 254, count: 255, otk: 256 }

/** Replaces the trailing bundle signature with a fresh one by `signer` over the (edited) body. */
function resign(bytes: Uint8Array, signer: IdentityKeyPair = alice): Uint8Array {
  const body = bytes.subarray(0, bytes.length - 64)
  return concatBytes(body, signer.sign(concatBytes(utf8(BUNDLE_LABEL), body)))
}

const LOW_ORDER = (() => {
  const k = new Uint8Array(32)
  k[0] = 1
  return k
})()

describe('PrekeyBundle', () => {
  const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 20 })
  const bundle = local.bundle(alice, { now: NOW })
  const bytes = bundle.encode()

  it('round-trips through its canonical encoding', () => {
    expect(bytes.length).toBe(MAX_BUNDLE_BYTES)
    const decoded = PrekeyBundle.decode(bytes)
    expect(toHex(decoded.encode())).toBe(toHex(bytes))
    expect(decoded.identity.equals(alice.publicKey)).toBe(true)
    expect(decoded.sequence).toBe(NOW)
    expect(decoded.pqPrekey?.publicKey.length).toBe(1184)
    expect(decoded.oneTimePrekeys.map((k) => k.id)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
    expect(bytes.subarray(OFF.spkPub, OFF.spkPub + 32)).toEqual(bundle.signedPrekey.publicKey)
    expect(bytes[OFF.flags]).toBe(1)
    expect(bytes[OFF.count]).toBe(16)
  })

  it('omits the ML-KEM prekey when the owner has none, and can carry no one-time prekeys', () => {
    const classic = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 0, pq: false })
    const b = classic.bundle(alice, { now: NOW })
    const enc = b.encode()
    expect(b.pqPrekey).toBeUndefined()
    expect(enc[OFF_NOPQ.flags]).toBe(0)
    expect(enc[OFF_NOPQ.count]).toBe(0)
    expect(enc.length).toBe(OFF_NOPQ.otk + 64)
    expect(PrekeyBundle.decode(enc).oneTimePrekeys).toEqual([])
  })

  it('rejects wrong versions, lengths, flags and counts', () => {
    expect(() => PrekeyBundle.decode(new Uint8Array(0))).toThrow(MalformedError)
    const v2 = bytes.slice()
    v2[0] = 2
    expect(() => PrekeyBundle.decode(v2)).toThrow(UnsupportedVersionError)
    expect(() => PrekeyBundle.decode(bytes.subarray(0, bytes.length - 1))).toThrow(MalformedError)
    expect(() => PrekeyBundle.decode(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    const flags = bytes.slice()
    flags[OFF.flags] = 3
    expect(() => PrekeyBundle.decode(resign(flags))).toThrow(MalformedError)
    // 17 one-time prekeys: count byte 17 and one more record.
    const seventeen = concatBytes(bytes.subarray(0, bytes.length - 64), u32be(99), x25519Public(new Uint8Array(32).fill(9)), new Uint8Array(64))
    seventeen[OFF.count] = 17
    expect(() => PrekeyBundle.decode(seventeen)).toThrow(MalformedError)
    const order = bytes.slice()
    order.set(u32be(1), OFF.otk + 36) // second id equal to the first
    expect(() => PrekeyBundle.decode(resign(order))).toThrow(MalformedError)
    const big = bytes.slice()
    big.set(Uint8Array.of(0x00, 0x20, 0, 0, 0, 0, 0, 0), OFF.seq) // 2^53
    expect(() => PrekeyBundle.decode(resign(big))).toThrow(MalformedError)
    expect(() => PrekeyBundle.decode(new Uint8Array(MAX_BUNDLE_BYTES + 1))).toThrow(MalformedError)
  })

  it('rejects a bad bundle signature or a bundle re-signed by another identity', () => {
    const tampered = bytes.slice()
    tampered[OFF.seq + 7] ^= 1
    expect(() => PrekeyBundle.decode(tampered)).toThrow(SignatureError)
    expect(() => PrekeyBundle.decode(resign(bytes, mallory))).toThrow(SignatureError)
    const sig = bytes.slice()
    sig[sig.length - 1] ^= 0x80
    expect(() => PrekeyBundle.decode(sig)).toThrow(SignatureError)
  })

  it('rejects bad prekey signatures even under a valid bundle signature', () => {
    const spk = bytes.slice()
    spk[OFF.spkSig] ^= 1
    expect(() => PrekeyBundle.decode(resign(spk))).toThrow(SignatureError)
    const spkDate = bytes.slice()
    spkDate[OFF.spkCreated + 7] ^= 1
    expect(() => PrekeyBundle.decode(resign(spkDate))).toThrow(SignatureError)
    const pq = bytes.slice()
    pq[OFF.pqSig + 3] ^= 1
    expect(() => PrekeyBundle.decode(resign(pq))).toThrow(SignatureError)
    const pqKey = bytes.slice()
    pqKey[OFF.pqPub + 1160] ^= 1 // inside the key's 32-byte seed rho (bytes 1152..1183), so still reduced
    expect(() => PrekeyBundle.decode(resign(pqKey))).toThrow(SignatureError)
  })

  it('rejects low-order X25519 prekeys and unreduced ML-KEM keys even when correctly signed', () => {
    const spkLow = bytes.slice()
    spkLow.set(LOW_ORDER, OFF.spkPub)
    const spkMsg = concatBytes(utf8(SIGNED_PREKEY_LABEL), u32be(bundle.signedPrekey.id), u64be(NOW), LOW_ORDER)
    spkLow.set(alice.sign(spkMsg), OFF.spkSig)
    expect(() => PrekeyBundle.decode(resign(spkLow))).toThrow(InvalidKeyError)

    const otkLow = bytes.slice()
    otkLow.set(LOW_ORDER, OFF.otk + 4)
    expect(() => PrekeyBundle.decode(resign(otkLow))).toThrow(InvalidKeyError)

    const pqBad = bytes.slice()
    pqBad.set(Uint8Array.of(0xff, 0xff, 0xff), OFF.pqPub)
    const pqKey = pqBad.subarray(OFF.pqPub, OFF.pqPub + 1184)
    const pqMsg = concatBytes(utf8(PQ_PREKEY_LABEL), u32be(bundle.pqPrekey!.id), u64be(NOW), pqKey)
    pqBad.set(alice.sign(pqMsg), OFF.pqSig)
    expect(() => PrekeyBundle.decode(resign(pqBad))).toThrow(InvalidKeyError)
  })

  it('property: a mutated or truncated bundle never decodes, and fails only with typed errors', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: bytes.length - 1 }),
        fc.integer({ min: 1, max: 255 }),
        fc.boolean(),
        (pos, xor, truncate) => {
          const m = bytes.slice()
          m[pos] ^= xor
          const input = truncate ? bytes.subarray(0, pos) : m
          expect(() => PrekeyBundle.decode(input)).toThrow(CryptoError)
        }
      ),
      { numRuns: 300 }
    )
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2300 }), (junk) => {
        expect(() => PrekeyBundle.decode(junk)).toThrow(CryptoError)
      }),
      { numRuns: 200 }
    )
  })

  it('rejects a bundle whose identity key is itself invalid', () => {
    const id = bytes.slice()
    id[1 + 32 + 32 + 5] ^= 1 // identity's DH-key signature
    expect(() => PrekeyBundle.decode(id)).toThrow(SignatureError)
  })
})

describe('isNewer', () => {
  it('orders by sequence, then creation time, then encoding', () => {
    const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 2 })
    const a = local.bundle(alice, { now: NOW })
    const b = local.bundle(alice, { now: NOW }) // same clock: sequence + 1
    expect(b.sequence).toBe(a.sequence + 1)
    expect(isNewer(b, a)).toBe(true)
    expect(isNewer(a, b)).toBe(false)
    expect(isNewer(a, a)).toBe(false)
    const c = local.bundle(alice, { now: NOW + 10_000 })
    expect(c.sequence).toBe(NOW + 10_000)
    expect(isNewer(c, b)).toBe(true)
  })

  it('refuses to compare bundles of different identities', () => {
    const a = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 0, pq: false }).bundle(alice, { now: NOW })
    const m = LocalPrekeys.generate(mallory, { now: NOW, oneTimeCount: 0, pq: false }).bundle(mallory, { now: NOW })
    expect(() => isNewer(a, m)).toThrow(InvalidArgumentError)
  })
})

describe('LocalPrekeys', () => {
  it('consumes one-time prekeys once and publishes only unconsumed ones', () => {
    const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 3, pq: false })
    expect(local.oneTimeCount).toBe(3)
    const pair = local.oneTimePrekey(2)
    expect(toHex(x25519Public(pair.privateKey))).toBe(toHex(pair.publicKey))
    local.consume(2)
    expect(local.oneTimeCount).toBe(2)
    expect(() => local.oneTimePrekey(2)).toThrow(UnknownPrekeyError)
    expect(() => local.consume(2)).toThrow(UnknownPrekeyError)
    expect(local.bundle(alice, { now: NOW }).oneTimePrekeys.map((k) => k.id)).toEqual([1, 3])
    local.addOneTimePrekeys(2)
    expect(local.bundle(alice, { now: NOW, maxOneTime: 3 }).oneTimePrekeys.map((k) => k.id)).toEqual([1, 3, 4])
  })

  it('keeps the previous three signed and ML-KEM prekeys after rotation, then forgets', () => {
    const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 0 })
    const first = local.signedPrekey(1)
    expect(local.pqSecretKey(1).length).toBe(2400)
    for (let i = 0; i < 3; i++) local.rotate(alice, { now: NOW + i })
    expect(toHex(local.signedPrekey(1).publicKey)).toBe(toHex(first.publicKey))
    expect(local.bundle(alice, { now: NOW }).signedPrekey.id).toBe(4)
    expect(local.bundle(alice, { now: NOW }).pqPrekey?.id).toBe(4)
    local.rotate(alice, { now: NOW + 5 })
    expect(() => local.signedPrekey(1)).toThrow(UnknownPrekeyError)
    expect(() => local.pqSecretKey(1)).toThrow(UnknownPrekeyError)
    expect(local.signedPrekey(2).publicKey.length).toBe(32)
    expect(() => local.rotate(mallory)).toThrow(InvalidArgumentError)
    expect(() => local.bundle(mallory)).toThrow(InvalidArgumentError)
  })

  it('round-trips through serialize and keeps its sequence', () => {
    const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 5 })
    local.consume(3)
    const first = local.bundle(alice, { now: NOW })
    const restored = LocalPrekeys.deserialize(local.serialize())
    expect(toHex(restored.serialize())).toBe(toHex(local.serialize()))
    const next = restored.bundle(alice, { now: NOW })
    expect(next.sequence).toBe(first.sequence + 1)
    expect(toHex(next.signedPrekey.publicKey)).toBe(toHex(first.signedPrekey.publicKey))
    expect(toHex(next.pqPrekey!.publicKey)).toBe(toHex(first.pqPrekey!.publicKey))
    expect(next.oneTimePrekeys.map((k) => k.id)).toEqual([1, 2, 4, 5])
  })

  it('rejects malformed serialized prekeys', () => {
    const bytes = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 1, pq: false }).serialize()
    const v = bytes.slice()
    v[0] = 9
    expect(() => LocalPrekeys.deserialize(v)).toThrow(UnsupportedVersionError)
    expect(() => LocalPrekeys.deserialize(bytes.subarray(0, bytes.length - 1))).toThrow(MalformedError)
    expect(() => LocalPrekeys.deserialize(concatBytes(bytes, Uint8Array.of(1)))).toThrow(MalformedError)
  })

  it('never prints private keys', () => {
    const local = LocalPrekeys.generate(alice, { now: NOW, oneTimeCount: 1, pq: false, random: (n) => new Uint8Array(n).fill(0xab) })
    for (const text of [String(local), JSON.stringify(local), inspect(local, { showHidden: true })]) {
      expect(text).not.toContain('abab')
      expect(text).not.toContain('171, 171')
    }
  })
})

describe('decoding from a Node Buffer view', () => {
  it('decodes a bundle that sits at an offset inside a pooled Buffer (as libp2p hands it over)', () => {
    const identity = IdentityKeyPair.generate()
    const bundle = LocalPrekeys.generate(identity, { oneTimeCount: 4 }).bundle(identity)
    const encoded = bundle.encode()
    const pooled = Buffer.concat([Buffer.from([1, 2, 3]), Buffer.from(encoded)]).subarray(3)
    expect(PrekeyBundle.decode(pooled).encode()).toEqual(encoded)
  })
})

describe('signedPrekeyCreatedAt', () => {
  it('follows the current signed prekey across a rotation', () => {
    const identity = IdentityKeyPair.generate()
    const local = LocalPrekeys.generate(identity, { oneTimeCount: 1, now: 1_000 })
    expect(local.signedPrekeyCreatedAt).toBe(1_000)
    local.rotate(identity, { now: 5_000 })
    expect(local.signedPrekeyCreatedAt).toBe(5_000)
    expect(local.bundle(identity, { now: 6_000 }).signedPrekey.createdAt).toBe(5_000)
  })
})
