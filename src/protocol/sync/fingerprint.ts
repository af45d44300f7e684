/**
 * Range fingerprints (docs/PROTOCOL.md §15.4), as Negentropy v1 defines them:
 * `H256(sum || varint(count))[0..16]` where `sum` is the addition modulo 2^256 of the ids of the range's
 * items, each read as a 32-byte little-endian unsigned integer, written back as 32 little-endian bytes.
 */
import { sha256 } from '../../crypto/primitives.js'
import { ID_BYTES } from './items.js'
import { encodeVarint } from './varint.js'

/** Length of a fingerprint in bytes. */
export const FINGERPRINT_BYTES = 16

/** Incremental sum of ids modulo 2^256, kept as eight 32-bit little-endian limbs. */
export class IdAccumulator {
  readonly #limbs = new Uint32Array(8)
  #count = 0

  /** Number of ids added. */
  get count(): number {
    return this.#count
  }

  /** Adds one 32-byte id. */
  add(id: Uint8Array): void {
    let carry = 0
    for (let i = 0; i < 8; i++) {
      const o = i * 4
      const limb = (id[o]! | (id[o + 1]! << 8) | (id[o + 2]! << 16) | (id[o + 3]! << 24)) >>> 0
      const sum = this.#limbs[i]! + limb + carry
      this.#limbs[i] = sum >>> 0
      carry = sum > 0xffffffff ? 1 : 0
    }
    this.#count++
  }

  /** The 32-byte little-endian sum. */
  sum(): Uint8Array {
    const out = new Uint8Array(ID_BYTES)
    const view = new DataView(out.buffer)
    for (let i = 0; i < 8; i++) view.setUint32(i * 4, this.#limbs[i]!, true)
    return out
  }

  /** The 16-byte fingerprint of the ids added so far. */
  fingerprint(): Uint8Array {
    const sum = this.sum()
    const count = encodeVarint(this.#count)
    const input = new Uint8Array(sum.length + count.length)
    input.set(sum)
    input.set(count, sum.length)
    return sha256(input).subarray(0, FINGERPRINT_BYTES)
  }
}

/** The fingerprint of a list of ids. */
export function fingerprintOf(ids: Iterable<Uint8Array>): Uint8Array {
  const acc = new IdAccumulator()
  for (const id of ids) acc.add(id)
  return acc.fingerprint()
}
