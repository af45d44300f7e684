// Generator of test/vectors/atrest.json (docs/PROTOCOL.md §10, §16). With WRITE_VECTORS=1 it writes the file;
// otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import {
  BLIND_KEY_INFO,
  blindKey,
  RECORD_AD_LABEL,
  SEAL_KEY_INFO,
  sealRecord,
  TEST_ARGON2,
  wrapDatabaseKey
} from '../../src/crypto/atrest.js'
import { argon2id, blake2b, concatBytes, hkdf, toHex, utf8 } from '../../src/crypto/primitives.js'

const FILE = fileURLToPath(new URL('./atrest.json', import.meta.url))

/** Deterministic bytes: B2b(UTF-8("sotto/vectors/atrest/" || label), n). */
function seed(label: string, n: number): Uint8Array {
  return blake2b(utf8(`sotto/vectors/atrest/${label}`), n)
}

type Part = { utf8: string } | { hex: string }

function partBytes(p: Part): Uint8Array {
  return 'utf8' in p ? utf8(p.utf8) : Uint8Array.from(Buffer.from(p.hex, 'hex'))
}

function encodeParts(parts: Part[]): Uint8Array {
  return concatBytes(
    ...parts.flatMap((p) => {
      const b = partBytes(p)
      const len = new Uint8Array(4)
      new DataView(len.buffer).setUint32(0, b.length)
      return [len, b]
    })
  )
}

/** Builds the vector file's JSON text. */
function buildAtrestVectors(): string {
  const dbKey = seed('db-key', 32)
  const salt = seed('salt', 16)
  const wrapNonce = seed('wrap-nonce', 24)
  const passphrase = 'correct horse battery staple'
  const params = { ...TEST_ARGON2 }
  const kek = argon2id(utf8(passphrase), salt, params)
  const wrapped = wrapDatabaseKey(dbKey, passphrase, params, { salt, nonce: wrapNonce })

  const sealKey = hkdf(dbKey, new Uint8Array(0), utf8(SEAL_KEY_INFO), 32)
  const blindSubkey = hkdf(dbKey, new Uint8Array(0), utf8(BLIND_KEY_INFO), 32)

  const recordKey = concatBytes(Uint8Array.of(0x01), utf8('identity'))
  const recordValue = concatBytes(Uint8Array.of(0x00), seed('identity-secret', 64))
  const recordNonce = seed('record-nonce', 24)
  const sealed = sealRecord(dbKey, recordKey, recordValue, { nonce: recordNonce })

  const blindCases: Part[][] = [
    [{ utf8: 'contact-name' }, { utf8: 'alice' }],
    [{ utf8: 'conversation' }, { utf8: 'Zoë' }],
    [{ utf8: 'topic' }, { hex: toHex(seed('topic-id', 32)) }],
    [{ utf8: 'seen' }, { utf8: 'community:1' }, { hex: toHex(seed('message-id', 32)) }]
  ]
  const blinded = blindCases.map((parts) => ({
    parts,
    encoded: toHex(encodeParts(parts)),
    blinded: toHex(blindKey(dbKey, parts.map(partBytes)))
  }))

  const doc = {
    description:
      'At-rest encryption (PROTOCOL.md §10): a wrapped database key, its subkeys, a sealed record and blinded keys. ' +
      'Seeds: B2b(UTF-8("sotto/vectors/atrest/" || label), n). Argon2id limits are the TEST-ONLY minimum.',
    wrap: {
      passphrase,
      opsLimit: params.opsLimit,
      memLimit: params.memLimit,
      salt: toHex(salt),
      nonce: toHex(wrapNonce),
      dbKey: toHex(dbKey),
      kek: toHex(kek),
      header: toHex(wrapped.subarray(0, 49)),
      wrapped: toHex(wrapped)
    },
    subkeys: { sealInfo: SEAL_KEY_INFO, sealKey: toHex(sealKey), blindInfo: BLIND_KEY_INFO, blindKey: toHex(blindSubkey) },
    sealedRecord: {
      recordKey: toHex(recordKey),
      plaintext: toHex(recordValue),
      nonce: toHex(recordNonce),
      ad: toHex(concatBytes(utf8(RECORD_AD_LABEL), recordKey)),
      sealed: toHex(sealed)
    },
    blinded
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('test/vectors/atrest.json', () => {
  it('is reproduced byte for byte by the code', () => {
    const text = buildAtrestVectors()
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
