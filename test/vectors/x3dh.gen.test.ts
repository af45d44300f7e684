/**
 * Generator and check of test/vectors/x3dh.json and pqxdh.json (docs/PROTOCOL.md §4, §16).
 * `WRITE_VECTORS=1 npx vitest run test/vectors/x3dh.gen.test.ts` rewrites them; otherwise the code must
 * reproduce them byte for byte. Every private input is listed in the file, so an implementation needs
 * nothing else; the intermediate values (set-up KDF and the initial header's seal) are recomputed here
 * independently of x3dh.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import {
  aeadDecrypt,
  aeadEncrypt,
  concatBytes,
  ed25519FromSeed,
  hkdf,
  hkdfExpand,
  hkdfExtract,
  mlkem768Decapsulate,
  mlkem768FromSeed,
  sha256,
  sha512,
  toHex,
  utf8,
  x25519,
  x25519Public
} from '../../src/crypto/primitives.js'
import type { RandomSource } from '../../src/crypto/types.js'
import { HEADER_SEAL_INFO, initiateSession, openInitialHeader, PQXDH_INFO, respondSession, X3DH_INFO } from '../../src/crypto/x3dh.js'

/** A fixed test input: SHA-256 (or SHA-512 for 64 bytes) of a label. */
function fixed(label: string, length: 32 | 64 = 32): Uint8Array {
  return length === 32 ? sha256(utf8(`sotto test vector: ${label}`)) : sha512(utf8(`sotto test vector: ${label}`))
}

/** A RandomSource that hands out `values` in order and checks each requested length. */
function queue(values: Uint8Array[]): RandomSource {
  let i = 0
  return (n: number) => {
    const v = values[i++]
    if (v === undefined || v.length !== n) throw new Error(`vector random source: unexpected request ${i} of ${n} bytes`)
    return v.slice()
  }
}

function writeOrCheck(name: string, value: unknown): void {
  const url = new URL(`./${name}`, import.meta.url)
  const text = `${JSON.stringify(value, null, 2)}\n`
  if (process.env['WRITE_VECTORS'] === '1') writeFileSync(url, text)
  expect(readFileSync(url, 'utf8')).toBe(text)
}

function identityVector(seed: Uint8Array) {
  const id = IdentityKeyPair.fromSeed(seed)
  const edSeed = hkdf(seed, new Uint8Array(0), utf8('sotto/v1/identity/ed25519'), 32)
  const dhPrivate = hkdf(seed, new Uint8Array(0), utf8('sotto/v1/identity/x25519'), 32)
  expect(toHex(ed25519FromSeed(edSeed).publicKey)).toBe(toHex(id.publicKey.signingKey))
  expect(toHex(x25519Public(dhPrivate))).toBe(toHex(id.publicKey.dhKey))
  return {
    id,
    dhPrivate,
    json: {
      seed: toHex(seed),
      ed25519Seed: toHex(edSeed),
      signingKey: toHex(id.publicKey.signingKey),
      dhPrivateKey: toHex(dhPrivate),
      dhKey: toHex(id.publicKey.dhKey),
      dhKeySignature: toHex(id.publicKey.dhKeySignature),
      encoded: toHex(id.publicKey.serialize())
    }
  }
}

function buildVector(pq: boolean) {
  const name = pq ? 'pqxdh' : 'x3dh'
  const now = 1_767_225_600_000 // 2026-01-01T00:00:00Z in ms
  const alice = identityVector(fixed(`${name} alice identity seed`))
  const bob = identityVector(fixed(`${name} bob identity seed`))
  const spkPrivate = fixed(`${name} bob signed prekey`)
  const pqSeed = fixed(`${name} bob ml-kem prekey seed`, 64)
  const otkPrivates = [fixed(`${name} bob one-time prekey 1`), fixed(`${name} bob one-time prekey 2`)]
  const ephemeralPrivate = fixed(`${name} alice ephemeral`)
  const kemRandomness = fixed(`${name} alice ml-kem encapsulation randomness`)

  const local = LocalPrekeys.generate(bob.id, {
    now,
    pq,
    oneTimeCount: 2,
    random: queue(pq ? [spkPrivate, pqSeed, ...otkPrivates] : [spkPrivate, ...otkPrivates])
  })
  const bundle = local.bundle(bob.id, { now })
  const usedOneTime = 2
  const a = initiateSession(alice.id, bundle.encode(), {
    oneTimePrekeyId: usedOneTime,
    random: queue(pq ? [ephemeralPrivate, kemRandomness] : [ephemeralPrivate])
  })
  const b = respondSession(bob.id, local, a.initialHeader.encode())

  // Independent recomputation of every step (PROTOCOL.md §4).
  const spkPublic = x25519Public(spkPrivate)
  const otkPublic = x25519Public(otkPrivates[usedOneTime - 1]!)
  const ephemeralPublic = x25519Public(ephemeralPrivate)
  const dh1 = x25519(alice.dhPrivate, spkPublic)
  const dh2 = x25519(ephemeralPrivate, bob.id.publicKey.dhKey)
  const dh3 = x25519(ephemeralPrivate, spkPublic)
  const dh4 = x25519(ephemeralPrivate, otkPublic)
  expect(toHex(x25519(spkPrivate, alice.id.publicKey.dhKey))).toBe(toHex(dh1))
  const kem = pq ? mlkem768FromSeed(pqSeed) : undefined
  const ciphertext = a.initialHeader.kemCiphertext
  const kemShared = kem && ciphertext ? mlkem768Decapsulate(kem.secretKey, ciphertext) : undefined
  const ikm = concatBytes(new Uint8Array(32).fill(0xff), dh1, dh2, dh3, dh4, ...(kemShared ? [kemShared] : []))
  const salt = new Uint8Array(32)
  const info = pq ? PQXDH_INFO : X3DH_INFO
  const prk = hkdfExtract(salt, ikm)
  const okm = hkdfExpand(prk, utf8(info), 96)
  expect(toHex(a.secrets.rootKey)).toBe(toHex(okm.subarray(0, 32)))
  expect(toHex(a.secrets.headerKeyA)).toBe(toHex(okm.subarray(32, 64)))
  expect(toHex(a.secrets.nextHeaderKeyB)).toBe(toHex(okm.subarray(64, 96)))
  for (const k of ['rootKey', 'headerKeyA', 'nextHeaderKeyB', 'associatedData'] as const) {
    expect(toHex(b.secrets[k])).toBe(toHex(a.secrets[k]))
  }
  expect(b.consumedOneTimePrekeyId).toBe(usedOneTime)
  expect(toHex(a.initialHeader.ephemeralKey)).toBe(toHex(ephemeralPublic))

  // The sealed initial header (PROTOCOL.md §4, "Initial header"), recomputed from the primitives.
  const u32 = (v: number) => Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff)
  const sealInfo = 'sotto/v1/x3dh initial header XChaCha20-Poly1305'
  expect(HEADER_SEAL_INFO).toBe(sealInfo)
  const sealIkm = concatBytes(dh3, ephemeralPublic, spkPublic)
  const sealPrk = hkdfExtract(salt, sealIkm)
  const sealOkm = hkdfExpand(sealPrk, utf8(sealInfo), 56)
  const sealKey = sealOkm.subarray(0, 32)
  const sealNonce = sealOkm.subarray(32, 56)
  const clear = concatBytes(Uint8Array.of(2), ephemeralPublic, u32(bundle.signedPrekey.id))
  const flags = pq ? 0x03 : 0x01
  const inner = concatBytes(
    Uint8Array.of(flags),
    alice.id.publicKey.serialize(),
    u32(usedOneTime),
    ...(pq && ciphertext ? [u32(bundle.pqPrekey!.id), ciphertext] : [])
  )
  const sealed = aeadEncrypt(sealKey, sealNonce, inner, clear)
  const headerBytes = a.initialHeader.encode()
  expect(toHex(headerBytes)).toBe(toHex(concatBytes(clear, sealed)))
  expect(toHex(aeadDecrypt(sealKey, sealNonce, sealed, clear))).toBe(toHex(inner))
  expect(openInitialHeader(bob.id, local, headerBytes).initiator.equals(alice.id.publicKey)).toBe(true)

  return {
    description: `sotto ${pq ? 'PQXDH' : 'X3DH'} session set-up, docs/PROTOCOL.md §2-§4. Alice initiates to Bob's bundle using one-time prekey ${usedOneTime}.`,
    alice: alice.json,
    bob: bob.json,
    bobPrekeys: {
      now,
      signedPrekey: {
        id: bundle.signedPrekey.id,
        createdAt: bundle.signedPrekey.createdAt,
        privateKey: toHex(spkPrivate),
        publicKey: toHex(spkPublic),
        signature: toHex(bundle.signedPrekey.signature)
      },
      ...(pq && kem
        ? {
            pqPrekey: {
              id: bundle.pqPrekey!.id,
              createdAt: bundle.pqPrekey!.createdAt,
              seed: toHex(pqSeed),
              publicKey: toHex(kem.publicKey),
              signature: toHex(bundle.pqPrekey!.signature)
            }
          }
        : {}),
      oneTimePrekeys: otkPrivates.map((p, i) => ({ id: i + 1, privateKey: toHex(p), publicKey: toHex(x25519Public(p)) }))
    },
    bundle: {
      sequence: bundle.sequence,
      createdAt: bundle.createdAt,
      signature: toHex(bundle.signature),
      encoded: toHex(bundle.encode())
    },
    initiator: {
      oneTimePrekeyId: usedOneTime,
      ephemeralPrivateKey: toHex(ephemeralPrivate),
      ephemeralPublicKey: toHex(ephemeralPublic),
      ...(pq ? { kemRandomness: toHex(kemRandomness) } : {})
    },
    dh1: toHex(dh1),
    dh2: toHex(dh2),
    dh3: toHex(dh3),
    dh4: toHex(dh4),
    ...(pq && ciphertext && kemShared ? { kemCiphertext: toHex(ciphertext), kemSharedSecret: toHex(kemShared) } : {}),
    kdf: {
      ikm: toHex(ikm),
      salt: toHex(salt),
      info,
      prk: toHex(prk),
      okm: toHex(okm)
    },
    secrets: {
      rootKey: toHex(a.secrets.rootKey),
      headerKeyA: toHex(a.secrets.headerKeyA),
      nextHeaderKeyB: toHex(a.secrets.nextHeaderKeyB),
      associatedData: toHex(a.secrets.associatedData)
    },
    initiatorRatchetKey: toHex(a.theirRatchetKey),
    initialHeaderSeal: {
      ikm: toHex(sealIkm),
      salt: toHex(salt),
      info: sealInfo,
      prk: toHex(sealPrk),
      okm: toHex(sealOkm),
      key: toHex(sealKey),
      nonce: toHex(sealNonce)
    },
    initialHeaderClear: toHex(clear),
    initialHeaderInner: toHex(inner),
    initialHeaderSealed: toHex(sealed),
    initialHeader: toHex(headerBytes)
  }
}

describe('session set-up vectors', () => {
  it('x3dh.json is reproduced byte for byte', () => {
    writeOrCheck('x3dh.json', buildVector(false))
  })
  it('pqxdh.json is reproduced byte for byte', () => {
    writeOrCheck('pqxdh.json', buildVector(true))
  })
})
