/**
 * Generator and check of test/vectors/hkdf_kdf.json: the HKDF-SHA-256 steps of identity derivation (§2) and
 * of the session set-up KDF (§4), with PRK and OKM. `WRITE_VECTORS=1` rewrites the file; otherwise the code
 * must reproduce it byte for byte.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { IDENTITY_ED25519_INFO, IDENTITY_X25519_INFO, IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, ed25519FromSeed, hkdf, hkdfExpand, hkdfExtract, sha256, toHex, utf8, x25519Public } from '../../src/crypto/primitives.js'
import { deriveSetupKeys, PQXDH_INFO, X3DH_INFO } from '../../src/crypto/x3dh.js'

const fixed = (label: string) => sha256(utf8(`sotto test vector: ${label}`))

function writeOrCheck(name: string, value: unknown): void {
  const url = new URL(`./${name}`, import.meta.url)
  const text = `${JSON.stringify(value, null, 2)}\n`
  if (process.env['WRITE_VECTORS'] === '1') writeFileSync(url, text)
  expect(readFileSync(url, 'utf8')).toBe(text)
}

function step(ikm: Uint8Array, salt: Uint8Array, info: string, length: number) {
  const prk = hkdfExtract(salt, ikm)
  const okm = hkdfExpand(prk, utf8(info), length)
  expect(toHex(hkdf(ikm, salt, utf8(info), length))).toBe(toHex(okm))
  return { ikm: toHex(ikm), salt: toHex(salt), info, length, prk: toHex(prk), okm: toHex(okm) }
}

function build() {
  const identity = [1, 2].map((n) => {
    const seed = fixed(`hkdf identity seed ${n}`)
    const ed = step(seed, new Uint8Array(0), IDENTITY_ED25519_INFO, 32)
    const x = step(seed, new Uint8Array(0), IDENTITY_X25519_INFO, 32)
    const pair = IdentityKeyPair.fromSeed(seed)
    expect(toHex(ed25519FromSeed(hkdf(seed, new Uint8Array(0), utf8(IDENTITY_ED25519_INFO), 32)).publicKey)).toBe(
      toHex(pair.publicKey.signingKey)
    )
    expect(toHex(x25519Public(hkdf(seed, new Uint8Array(0), utf8(IDENTITY_X25519_INFO), 32)))).toBe(toHex(pair.publicKey.dhKey))
    return { seed: toHex(seed), ed25519Seed: ed, x25519PrivateKey: x, signingKey: toHex(pair.publicKey.signingKey), dhKey: toHex(pair.publicKey.dhKey) }
  })

  const cases: Array<[string, number, boolean]> = [
    ['X3DH, no one-time prekey', 3, false],
    ['X3DH, with one-time prekey', 4, false],
    ['PQXDH, no one-time prekey', 3, true],
    ['PQXDH, with one-time prekey', 4, true]
  ]
  const setup = cases.map(([name, n, pq]) => {
    const dhs = Array.from({ length: n }, (_, i) => fixed(`${name} dh${i + 1}`))
    const kem = pq ? fixed(`${name} kem shared secret`) : undefined
    const ikm = concatBytes(new Uint8Array(32).fill(0xff), ...dhs, ...(kem ? [kem] : []))
    const s = step(ikm, new Uint8Array(32), pq ? PQXDH_INFO : X3DH_INFO, 96)
    const keys = deriveSetupKeys(dhs, kem)
    expect(toHex(concatBytes(keys.rootKey, keys.headerKeyA, keys.nextHeaderKeyB))).toBe(s.okm)
    return {
      name,
      dhs: dhs.map(toHex),
      ...(kem ? { kemSharedSecret: toHex(kem) } : {}),
      ...s,
      rootKey: toHex(keys.rootKey),
      headerKeyA: toHex(keys.headerKeyA),
      nextHeaderKeyB: toHex(keys.nextHeaderKeyB)
    }
  })
  return {
    description:
      'HKDF-SHA-256 (RFC 5869) steps of sotto session set-up: identity derivation (docs/PROTOCOL.md §2, empty salt = 32 zero bytes) and the X3DH/PQXDH KDF (§4). prk = HMAC(salt, ikm); okm = HKDF-Expand(prk, info, length).',
    identity,
    setup
  }
}

describe('HKDF/KDF vectors', () => {
  it('hkdf_kdf.json is reproduced byte for byte', () => {
    writeOrCheck('hkdf_kdf.json', build())
  })
})
