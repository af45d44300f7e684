/**
 * Wycheproof (C2SP/wycheproof, Apache-2.0; see test/vectors/SOURCES.md) run through src/crypto/primitives.ts.
 */
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import {
  aeadDecrypt,
  aeadEncrypt,
  ed25519Verify,
  fromHex,
  hkdf,
  hmacSha256,
  isZero,
  mlkem768Decapsulate,
  mlkem768CheckPublic,
  mlkem768Encapsulate,
  mlkem768FromSeed,
  toHex,
  x25519
} from '../../src/crypto/primitives.js'

interface WycheproofTest {
  tcId: number
  comment: string
  flags: string[]
  result: 'valid' | 'invalid' | 'acceptable'
  [field: string]: unknown
}
interface WycheproofFile {
  numberOfTests: number
  testGroups: Array<{ tests: WycheproofTest[]; [field: string]: unknown }>
}

function load(name: string): WycheproofFile {
  return JSON.parse(readFileSync(new URL(`../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as WycheproofFile
}

/** Every test of a file with its group, after checking the declared count. */
function allTests(file: WycheproofFile): Array<[WycheproofTest, Record<string, unknown>]> {
  const out: Array<[WycheproofTest, Record<string, unknown>]> = []
  for (const group of file.testGroups) for (const t of group.tests) out.push([t, group])
  expect(out.length).toBe(file.numberOfTests)
  return out
}

const hex = (t: WycheproofTest, field: string): Uint8Array => fromHex(t[field] as string)

/** Runs `fn`; returns its value, or the error it threw. */
function attempt<T>(fn: () => T): { ok: true; value: T } | { ok: false } {
  try {
    return { ok: true, value: fn() }
  } catch {
    return { ok: false }
  }
}

describe('Wycheproof X25519', () => {
  it('valid cases match; acceptable ones either match or are refused, and never yield all zeros', () => {
    let valid = 0
    let refusedZero = 0
    for (const [t] of allTests(load('x25519_test.json'))) {
      const r = attempt(() => x25519(hex(t, 'private'), hex(t, 'public')))
      const expected = t['shared'] as string
      if (t.result === 'valid') {
        expect(r.ok, `tcId ${t.tcId}`).toBe(true)
        if (r.ok) expect(toHex(r.value), `tcId ${t.tcId}`).toBe(expected)
        valid++
      } else {
        if (r.ok) {
          expect(isZero(r.value), `tcId ${t.tcId}`).toBe(false)
          expect(toHex(r.value), `tcId ${t.tcId}`).toBe(expected)
        } else if (/^0+$/.test(expected)) refusedZero++
      }
    }
    expect(valid).toBeGreaterThan(200)
    expect(refusedZero).toBeGreaterThan(0)
  })
})

describe('Wycheproof Ed25519', () => {
  it('every valid signature verifies and every invalid one is rejected', () => {
    let count = 0
    for (const [t, group] of allTests(load('ed25519_test.json'))) {
      const pk = fromHex((group['publicKey'] as { pk: string }).pk)
      const ok = ed25519Verify(pk, hex(t, 'msg'), hex(t, 'sig'))
      expect(ok, `tcId ${t.tcId} ${t.comment}`).toBe(t.result === 'valid')
      count++
    }
    expect(count).toBe(151)
  })
})

describe('Wycheproof XChaCha20-Poly1305', () => {
  it('valid cases encrypt and decrypt exactly; invalid ones are refused', () => {
    for (const [t] of allTests(load('xchacha20_poly1305_test.json'))) {
      const key = hex(t, 'key')
      const iv = hex(t, 'iv')
      const aad = hex(t, 'aad')
      const msg = hex(t, 'msg')
      const sealed = fromHex((t['ct'] as string) + (t['tag'] as string))
      const opened = attempt(() => aeadDecrypt(key, iv, sealed, aad))
      if (t.result === 'valid') {
        expect(toHex(aeadEncrypt(key, iv, msg, aad)), `tcId ${t.tcId}`).toBe(toHex(sealed))
        expect(opened.ok && toHex(opened.value), `tcId ${t.tcId}`).toBe(toHex(msg))
      } else {
        expect(opened.ok, `tcId ${t.tcId} ${t.comment}`).toBe(false)
      }
    }
  })
})

describe('Wycheproof HMAC-SHA-256', () => {
  it('valid tags match (full or truncated); modified tags differ', () => {
    for (const [t, group] of allTests(load('hmac_sha256_test.json'))) {
      const tagBytes = (group['tagSize'] as number) / 8
      const tag = toHex(hmacSha256(hex(t, 'key'), hex(t, 'msg')).subarray(0, tagBytes))
      expect(tag === t['tag'], `tcId ${t.tcId}`).toBe(t.result === 'valid')
    }
  })
})

describe('Wycheproof HKDF-SHA-256', () => {
  it('valid outputs match; sizes above 255*32 are refused', () => {
    for (const [t] of allTests(load('hkdf_sha256_test.json'))) {
      const r = attempt(() => hkdf(hex(t, 'ikm'), hex(t, 'salt'), hex(t, 'info'), t['size'] as number))
      if (t.result === 'valid') {
        expect(r.ok && toHex(r.value), `tcId ${t.tcId}`).toBe(t['okm'])
      } else {
        expect(r.ok, `tcId ${t.tcId}`).toBe(false)
      }
    }
  })
})

describe('Wycheproof ML-KEM-768', () => {
  it('key generation from seed and decapsulation (incl. implicit rejection) match; bad lengths are refused', () => {
    for (const [t] of allTests(load('mlkem_768_test.json'))) {
      const r = attempt(() => {
        const kp = mlkem768FromSeed(hex(t, 'seed'))
        return { ek: toHex(kp.publicKey), k: toHex(mlkem768Decapsulate(kp.secretKey, hex(t, 'c'))) }
      })
      if (t.result === 'valid') {
        expect(r.ok && r.value, `tcId ${t.tcId}`).toEqual({ ek: t['ek'], k: t['K'] })
      } else {
        expect(r.ok, `tcId ${t.tcId} ${t.comment}`).toBe(false)
      }
    }
  })

  it('deterministic encapsulation matches; malformed and unreduced keys are refused', () => {
    for (const [t] of allTests(load('mlkem_768_encaps_test.json'))) {
      const r = attempt(() => mlkem768Encapsulate(hex(t, 'ek'), hex(t, 'm')))
      // sotto's own FIPS 203 §7.2 check (used when decoding bundles) agrees with libsodium's.
      expect(attempt(() => mlkem768CheckPublic(hex(t, 'ek'))).ok, `tcId ${t.tcId}`).toBe(t.result === 'valid')
      if (t.result === 'valid') {
        expect(r.ok && { c: toHex(r.value.ciphertext), k: toHex(r.value.sharedSecret) }, `tcId ${t.tcId}`).toEqual({
          c: t['c'],
          k: t['K']
        })
      } else {
        expect(r.ok, `tcId ${t.tcId} ${t.comment}`).toBe(false)
      }
    }
  })

  it('decapsulation with an expanded key: valid cases match, wrong lengths are refused', () => {
    for (const [t] of allTests(load('mlkem_768_semi_expanded_decaps_test.json'))) {
      const r = attempt(() => toHex(mlkem768Decapsulate(hex(t, 'dk'), hex(t, 'c'))))
      if (t.result === 'valid') {
        expect(r.ok && r.value, `tcId ${t.tcId}`).toBe(t['K'])
      } else if (t.flags.includes('InvalidDecapsulationKey')) {
        // FIPS 203 §7.3's hash check of an expanded key is not done by libsodium; sotto never takes an
        // expanded key from outside (it stores 64-byte seeds, §3), so this case is out of scope here.
      } else {
        expect(r.ok, `tcId ${t.tcId} ${t.comment}`).toBe(false)
      }
    }
  })
})
