// BLAKE2b as sotto calls it (primitives.blake2b: envelope ids, message ids, record-key blinding, safety
// numbers) against the BLAKE2 reference's known answers: keyed BLAKE2b-512 of inputs of 0..255 bytes
// (test/vectors/blake2/blake2b-kat.txt, CC0, see test/vectors/SOURCES.md).
import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { blake2b, fromHex, toHex } from '../../src/crypto/primitives.js'

const kat = readFileSync(new URL('../vectors/blake2/blake2b-kat.txt', import.meta.url), 'utf8')
  .split(/\n\s*\n/)
  .map((r) => Object.fromEntries(r.trim().split('\n').map((l) => l.split(':\t') as [string, string])))
  .filter((r) => r.hash !== undefined)

describe('BLAKE2b known answers', () => {
  it('every record of the reference KAT, and a prefix of its output is not a shorter BLAKE2b', () => {
    expect(kat.length).toBe(256)
    for (const r of kat) expect(toHex(blake2b(fromHex(r.in ?? ''), 64, fromHex(r.key!)))).toBe(r.hash)
    // The output length is a parameter of BLAKE2b, not a truncation.
    const r = kat[10]!
    expect(toHex(blake2b(fromHex(r.in!), 32, fromHex(r.key!)))).not.toBe(r.hash!.slice(0, 64))
  })
})
