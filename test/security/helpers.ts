// Shared helpers of the security tests (test/security/): bit flips, Wycheproof loading, run counts.
import { readFileSync } from 'node:fs'

/** fast-check runs per property: small in `npm test`, FUZZ_RUNS (e.g. `npm run fuzz`) raises it. */
export const FUZZ_RUNS = Math.max(1, Number(process.env['FUZZ_RUNS'] ?? 200))

/** A copy of `bytes` with bit `bit` (0 = lowest bit of byte 0) flipped. */
export function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice()
  out[bit >> 3]! ^= 1 << (bit & 7)
  return out
}

/** Every bit position of `bytes`, or `max` positions spread evenly over it when it is longer. */
export function bitPositions(bytes: Uint8Array, max = Number.POSITIVE_INFINITY): number[] {
  const total = bytes.length * 8
  if (total <= max) return Array.from({ length: total }, (_, i) => i)
  const step = total / max
  return Array.from({ length: max }, (_, i) => Math.floor(i * step))
}

/** A Wycheproof test case (fields vary by file). */
export interface WycheproofCase {
  tcId: number
  comment: string
  flags: string[]
  result: 'valid' | 'invalid' | 'acceptable'
  [field: string]: unknown
}

/** The groups and cases of a Wycheproof file in test/vectors/wycheproof/. */
export function wycheproof(name: string): Array<{ group: Record<string, unknown>; test: WycheproofCase }> {
  const file = JSON.parse(readFileSync(new URL(`../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as {
    testGroups: Array<{ tests: WycheproofCase[]; [k: string]: unknown }>
  }
  return file.testGroups.flatMap((group) => group.tests.map((test) => ({ group, test })))
}

/** True when `needle` occurs in `haystack`. */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(haystack.buffer, haystack.byteOffset, haystack.byteLength).includes(Buffer.from(needle))
}

/** Resolves when `check` returns true, polling on the event loop (for state with no event to await). */
export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 20))
  }
}
