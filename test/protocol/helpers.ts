// Hand-built protobuf bytes for rejection tests: lets a test write exactly the (malformed) encoding it needs.
import { ENVELOPE_BUCKETS, paddingForGap } from '../../src/protocol/envelope.js'
import { ProtocolError } from '../../src/protocol/errors.js'

export function varint(n: number | bigint): Uint8Array {
  let v = BigInt(n)
  const out: number[] = []
  do {
    let b = Number(v & 0x7fn)
    v >>= 7n
    if (v > 0n) b |= 0x80
    out.push(b)
  } while (v > 0n)
  return Uint8Array.from(out)
}

export function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let o = 0
  for (const p of parts) {
    out.set(p, o)
    o += p.length
  }
  return out
}

/** A varint field. */
export function vf(field: number, value: number | bigint): Uint8Array {
  return cat(varint((field << 3) | 0), varint(value))
}

/** A length-delimited field. */
export function lf(field: number, value: Uint8Array): Uint8Array {
  return cat(varint((field << 3) | 2), varint(value.length), value)
}

/** Appends an all-zero padding field (field 15) so the total is the smallest reachable bucket. */
export function padEnvelope(body: Uint8Array): Uint8Array {
  for (const bucket of ENVELOPE_BUCKETS) {
    if (bucket < body.length) continue
    const k = paddingForGap(bucket - body.length)
    if (k === undefined) continue
    return k === 0 ? body : cat(body, lf(15, new Uint8Array(k)))
  }
  throw new Error('too big')
}

export function bytes(n: number, fill = 1): Uint8Array {
  return new Uint8Array(n).fill(fill)
}

/** Runs fn; returns the error it threw (failing the test if it threw nothing or a non-ProtocolError). */
export function protocolErrorOf(fn: () => unknown): ProtocolError {
  try {
    fn()
  } catch (err) {
    if (err instanceof ProtocolError) return err
    throw new Error(`threw a non-ProtocolError: ${String(err)}`)
  }
  throw new Error('did not throw')
}

/** Number of fast-check runs: a bounded default for `npm test`, more with FUZZ_RUNS. */
export const FUZZ_RUNS = Number(process.env.FUZZ_RUNS ?? 300)
