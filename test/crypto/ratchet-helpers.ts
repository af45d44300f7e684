// Test helpers of the ratchet tests: fixed session secrets, the counter DRBG of the vectors (PROTOCOL.md §16),
// and an independent reader of the state layout of PROTOCOL.md §6 (so tests can look inside a state).
import { blake2b, fromHex, hmacSha256, sha256, utf8, x25519Public } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import type { RandomSource, SessionSecrets, X25519KeyPair } from '../../src/crypto/types.js'

/** SessionSecrets from fixed bytes (stand-in for X3DH output): each key = SHA-256(label). */
export function fixedSecrets(tag = ''): SessionSecrets {
  return {
    rootKey: sha256(utf8(`sotto test SK${tag}`)),
    headerKeyA: sha256(utf8(`sotto test shared_hka${tag}`)),
    nextHeaderKeyB: sha256(utf8(`sotto test shared_nhkb${tag}`)),
    associatedData: new Uint8Array([...sha256(utf8(`identity A${tag}`)), ...sha256(utf8(`identity B${tag}`))])
  }
}

/**
 * The counter DRBG of the ratchet vector: the i-th call (i = 0, 1, ...) with length L (16..64) returns
 * BLAKE2b(u64be(i), L, key = seed).
 */
export function counterDrbg(seed: Uint8Array): RandomSource {
  let counter = 0n
  return (length: number): Uint8Array => {
    const block = new Uint8Array(8)
    new DataView(block.buffer).setBigUint64(0, counter++)
    return blake2b(block, length, seed)
  }
}

/** A deterministic X25519 key pair from a label. */
export function fixedKeyPair(label: string): X25519KeyPair {
  const privateKey = sha256(utf8(label))
  return { privateKey, publicKey: x25519Public(privateKey) }
}

/** A fresh Alice/Bob pair over fixed secrets; deterministic when seeds are given. */
export function makePair(seedA?: string, seedB?: string): { alice: RatchetSession; bob: RatchetSession } {
  const secrets = fixedSecrets()
  const bobKey = fixedKeyPair('bob ratchet key')
  const alice = RatchetSession.initAlice(
    secrets,
    bobKey.publicKey,
    seedA === undefined ? {} : { random: counterDrbg(sha256(utf8(seedA))) }
  )
  const bob = RatchetSession.initBob(secrets, bobKey, seedB === undefined ? {} : { random: counterDrbg(sha256(utf8(seedB))) })
  return { alice, bob }
}

/** The fields of a serialised state, read independently of src/ following PROTOCOL.md §6. */
export interface ParsedState {
  dhsPrivate: Uint8Array
  dhsPublic: Uint8Array
  dhr: Uint8Array | null
  rk: Uint8Array
  cks: Uint8Array | null
  hks: Uint8Array | null
  ckr: Uint8Array | null
  hkr: Uint8Array | null
  nhks: Uint8Array
  nhkr: Uint8Array
  ns: number
  nr: number
  pn: number
  ad: Uint8Array
  chains: Array<{ headerKey: Uint8Array | null; end: number; evictedBelow: number; skipped: Array<[number, Uint8Array]> }>
}

/** Parses the §6 layout (no validation beyond what reading needs). */
export function parseState(bytes: Uint8Array): ParsedState {
  let o = 0
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const take = (n: number): Uint8Array => bytes.slice(o, (o += n))
  const u8 = (): number => bytes[o++]!
  const u16 = (): number => {
    o += 2
    return view.getUint16(o - 2)
  }
  const u32 = (): number => {
    o += 4
    return view.getUint32(o - 4)
  }
  const skippedList = (): { evictedBelow: number; skipped: Array<[number, Uint8Array]> } => {
    const evictedBelow = u32()
    const count = u16()
    const skipped: Array<[number, Uint8Array]> = []
    for (let i = 0; i < count; i++) skipped.push([u32(), take(32)])
    return { evictedBelow, skipped }
  }
  if (u8() !== 1) throw new Error('version')
  const flags = u8()
  const dhsPrivate = take(32)
  const dhsPublic = take(32)
  const dhr = flags & 1 ? take(32) : null
  const rk = take(32)
  const cks = flags & 2 ? take(32) : null
  const hks = flags & 2 ? take(32) : null
  const ckr = flags & 4 ? take(32) : null
  const hkr = flags & 4 ? take(32) : null
  const nhks = take(32)
  const nhkr = take(32)
  const ns = u32()
  const nr = u32()
  const pn = u32()
  const ad = take(u16())
  const current = skippedList()
  const chains: ParsedState['chains'] = []
  const count = u8()
  for (let i = 0; i < count; i++) {
    const headerKey = take(32)
    const end = u32()
    chains.push({ headerKey, end, ...skippedList() })
  }
  chains.push({ headerKey: hkr, end: nr, ...current })
  if (o !== bytes.length) throw new Error('trailing')
  return { dhsPrivate, dhsPublic, dhr, rk, cks, hks, ckr, hkr, nhks, nhkr, ns, nr, pn, ad, chains }
}

/** KDF_CK as in PROTOCOL.md §5.3, written out independently. */
export function chainStep(ck: Uint8Array): { messageKey: Uint8Array; chainKey: Uint8Array } {
  return { messageKey: hmacSha256(ck, Uint8Array.of(1)), chainKey: hmacSha256(ck, Uint8Array.of(2)) }
}

/** True when `needle` occurs in `haystack` at any offset. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return true
  }
  return false
}

export { fromHex }
