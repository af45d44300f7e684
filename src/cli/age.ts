/**
 * Ages as people type them (`90s`, `30m`, `12h`, `7d`, `2w`), for `sotto clear --older-than`, `sotto retention` and
 * the chat screen's `/retention`.
 */
import { clean } from './output.js'

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** The longest age taken: 100 years (36,500 days). */
export const MAX_AGE_MS = 36_500 * UNIT_MS['d']!

/** What an age looks like, for messages about a bad one. */
export const AGE_FORMAT = 'a number with s, m, h, d or w, at most 100 years (e.g. 7d)'

/** The age in milliseconds, or undefined when `value` is not one (or is over MAX_AGE_MS). */
export function parseAge(value: string): number | undefined {
  const match = /^(\d{1,9})([smhdw])$/.exec(value)
  const ms = match === null ? undefined : Number(match[1]) * UNIT_MS[match[2]!]!
  return ms !== undefined && ms <= MAX_AGE_MS ? ms : undefined
}

/** An age in the largest unit that divides it exactly (`7d`, `90m`). */
export function formatAge(ms: number): string {
  for (const [unit, size] of Object.entries(UNIT_MS).reverse()) if (ms % size === 0) return `${ms / size}${unit}`
  return `${ms} ms`
}

/** The line that says a conversation's retention (0: kept). */
export function retentionLine(to: string, retentionMs: number): string {
  return retentionMs === 0 ? `${clean(to)}: messages are kept on this node` : `${clean(to)}: this node deletes messages ${formatAge(retentionMs)} after storing them`
}
