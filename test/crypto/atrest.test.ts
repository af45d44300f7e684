import { hkdfSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { inspect } from 'node:util'
import { describe, expect, it } from 'vitest'
import {
  BLIND_KEY_INFO,
  blindKey,
  DatabaseKey,
  DEFAULT_ARGON2,
  openRecord,
  SEAL_KEY_INFO,
  sealRecord,
  TEST_ARGON2,
  unwrapDatabaseKey,
  WRAPPED_KEY_BYTES,
  wrapDatabaseKey,
  wrappedKeyParams
} from '../../src/crypto/atrest.js'
import {
  DecryptionError,
  InvalidArgumentError,
  MalformedError,
  UnsupportedVersionError,
  WrongPassphraseError
} from '../../src/crypto/errors.js'
import { fromHex, toHex, utf8 } from '../../src/crypto/primitives.js'

// Argon2id limits in these tests are TEST_ARGON2 (opsLimit 1, memLimit 8 KiB): a test-only setting.
const vectors = JSON.parse(readFileSync(new URL('../vectors/atrest.json', import.meta.url), 'utf8'))

describe('wrapDatabaseKey / unwrapDatabaseKey', () => {
  it('round-trips and stores the Argon2id limits in the header', () => {
    const key = DatabaseKey.generate()
    const wrapped = wrapDatabaseKey(key, 'pass phrase', TEST_ARGON2)
    expect(wrapped.length).toBe(WRAPPED_KEY_BYTES)
    expect(wrappedKeyParams(wrapped)).toEqual(TEST_ARGON2)
    expect(unwrapDatabaseKey(wrapped, 'pass phrase').exportBytes()).toEqual(key.exportBytes())
  })

  it('rejects a wrong passphrase with WrongPassphraseError', () => {
    const wrapped = wrapDatabaseKey(DatabaseKey.generate(), 'right', TEST_ARGON2)
    expect(() => unwrapDatabaseKey(wrapped, 'wrong')).toThrow(WrongPassphraseError)
  })

  it('normalises the passphrase to NFC', () => {
    const key = DatabaseKey.generate()
    const wrapped = wrapDatabaseKey(key, 'Zo\u00eb', TEST_ARGON2)
    expect(unwrapDatabaseKey(wrapped, 'Zoe\u0308').exportBytes()).toEqual(key.exportBytes())
  })

  it('detects any altered header or ciphertext byte', () => {
    const wrapped = wrapDatabaseKey(DatabaseKey.generate(), 'p', TEST_ARGON2)
    for (const index of [9, 20, 30, 48, 49, 70, WRAPPED_KEY_BYTES - 1]) {
      const bad = Uint8Array.from(wrapped)
      bad[index] = (bad[index] as number) ^ 0x01
      expect(() => unwrapDatabaseKey(bad, 'p'), `byte ${index}`).toThrow(WrongPassphraseError)
    }
    const opsChanged = Uint8Array.from(wrapped)
    opsChanged[4] = 2 // opsLimit 1 -> 2: a different KEK and a different AD
    expect(() => unwrapDatabaseKey(opsChanged, 'p')).toThrow(WrongPassphraseError)
  })

  it('rejects unknown versions, wrong lengths and absurd limits', () => {
    const wrapped = wrapDatabaseKey(DatabaseKey.generate(), 'p', TEST_ARGON2)
    const v2 = Uint8Array.from(wrapped)
    v2[0] = 2
    expect(() => unwrapDatabaseKey(v2, 'p')).toThrow(UnsupportedVersionError)
    expect(() => unwrapDatabaseKey(wrapped.subarray(0, 60), 'p')).toThrow(MalformedError)
    const hugeOps = Uint8Array.from(wrapped)
    hugeOps[1] = 0xff
    expect(() => unwrapDatabaseKey(hugeOps, 'p')).toThrow(MalformedError)
    expect(() => wrapDatabaseKey(DatabaseKey.generate(), 'p', { opsLimit: 0, memLimit: 8192 })).toThrow(InvalidArgumentError)
  })

  it('states its default limits (interactive to moderate)', () => {
    expect(DEFAULT_ARGON2).toEqual({ opsLimit: 3, memLimit: 128 * 1024 * 1024 })
    expect(TEST_ARGON2).toEqual({ opsLimit: 1, memLimit: 8192 })
  })
})

describe('DatabaseKey', () => {
  it('never prints its bytes', () => {
    const key = DatabaseKey.fromBytes(fromHex(vectors.wrap.dbKey))
    const hex = vectors.wrap.dbKey as string
    for (const text of [String(key), JSON.stringify({ key }), inspect(key), inspect({ key }, { depth: 5 })]) {
      expect(text).not.toContain(hex)
      expect(text).toContain('redacted')
    }
  })

  it('rejects a key of the wrong length, naming the argument', () => {
    expect(() => DatabaseKey.fromBytes(new Uint8Array(31))).toThrow(/dbKey must be 32 bytes/)
  })
})

describe('sealRecord / openRecord', () => {
  const key = DatabaseKey.generate()
  const rk = utf8('record-key')

  it('round-trips, with a fresh nonce each time', () => {
    const a = sealRecord(key, rk, utf8('hello'))
    const b = sealRecord(key, rk, utf8('hello'))
    expect(toHex(a)).not.toBe(toHex(b))
    expect(openRecord(key, rk, a)).toEqual(utf8('hello'))
  })

  it('fails for a value moved to another record key', () => {
    const sealed = sealRecord(key, rk, utf8('hello'))
    expect(() => openRecord(key, utf8('record-kez'), sealed)).toThrow(DecryptionError)
  })

  it('fails for any flipped bit', () => {
    const sealed = sealRecord(key, rk, utf8('hello world'))
    for (let i = 1; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed)
      bad[i] = (bad[i] as number) ^ (1 << (i % 8))
      expect(() => openRecord(key, rk, bad)).toThrow(DecryptionError)
    }
    const badVersion = Uint8Array.from(sealed)
    badVersion[0] = 9
    expect(() => openRecord(key, rk, badVersion)).toThrow(UnsupportedVersionError)
    expect(() => openRecord(key, rk, sealed.subarray(0, 20))).toThrow(MalformedError)
  })

  it('fails under another database key', () => {
    const sealed = sealRecord(key, rk, utf8('x'))
    expect(() => openRecord(DatabaseKey.generate(), rk, sealed)).toThrow(DecryptionError)
  })
})

describe('blindKey', () => {
  const key = DatabaseKey.generate()

  it('is deterministic, keyed and unambiguous over its parts', () => {
    expect(blindKey(key, ['contact-name', 'alice'])).toEqual(blindKey(key, ['contact-name', 'alice']))
    expect(blindKey(key, ['ab', 'c'])).not.toEqual(blindKey(key, ['a', 'bc']))
    expect(blindKey(key, ['contact-name', 'alice'])).not.toEqual(blindKey(DatabaseKey.generate(), ['contact-name', 'alice']))
    expect(blindKey(key, ['x']).length).toBe(32)
  })
})

describe('test/vectors/atrest.json', () => {
  it('unwraps the vector key and reproduces the wrapped bytes', () => {
    const w = vectors.wrap
    const params = { opsLimit: w.opsLimit, memLimit: w.memLimit }
    const wrapped = wrapDatabaseKey(fromHex(w.dbKey), w.passphrase, params, { salt: fromHex(w.salt), nonce: fromHex(w.nonce) })
    expect(toHex(wrapped)).toBe(w.wrapped)
    expect(toHex(unwrapDatabaseKey(fromHex(w.wrapped), w.passphrase).exportBytes())).toBe(w.dbKey)
    expect(() => unwrapDatabaseKey(fromHex(w.wrapped), `${w.passphrase}!`)).toThrow(WrongPassphraseError)
  })

  it('subkeys match an independent HKDF-SHA-256 (node:crypto)', () => {
    const ikm = Buffer.from(vectors.wrap.dbKey, 'hex')
    const seal = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), SEAL_KEY_INFO, 32)).toString('hex')
    const blind = Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), BLIND_KEY_INFO, 32)).toString('hex')
    expect(seal).toBe(vectors.subkeys.sealKey)
    expect(blind).toBe(vectors.subkeys.blindKey)
  })

  it('reproduces the sealed record and opens it', () => {
    const r = vectors.sealedRecord
    const dbKey = fromHex(vectors.wrap.dbKey)
    expect(toHex(sealRecord(dbKey, fromHex(r.recordKey), fromHex(r.plaintext), { nonce: fromHex(r.nonce) }))).toBe(r.sealed)
    expect(toHex(openRecord(dbKey, fromHex(r.recordKey), fromHex(r.sealed)))).toBe(r.plaintext)
  })

  it('reproduces the blinded keys', () => {
    const dbKey = fromHex(vectors.wrap.dbKey)
    for (const c of vectors.blinded as Array<{ parts: Array<{ utf8?: string; hex?: string }>; blinded: string }>) {
      const parts = c.parts.map((p) => (p.utf8 !== undefined ? p.utf8 : fromHex(p.hex as string)))
      expect(toHex(blindKey(dbKey, parts))).toBe(c.blinded)
    }
  })
})
