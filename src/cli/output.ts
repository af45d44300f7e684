/**
 * Human and JSON output. Every `--json` output is newline-delimited JSON: one object per line, a listing
 * one line per item (nothing for an empty listing), a stream one line per event.
 */
import type { MessageStatus, MessageView } from '../app/api.js'

/** Where commands write. */
export interface Out {
  write(text: string): unknown
}

/** Writes values as JSON lines. */
export function printJsonLines(out: Out, values: readonly unknown[]): void {
  for (const value of values) out.write(JSON.stringify(value) + '\n')
}

/** Display width of a string: code points, not UTF-16 units (enough for names and marks). */
export function width(text: string): number {
  return [...text].length
}

/** Pads `text` to `n` columns. */
export function pad(text: string, n: number): string {
  return text + ' '.repeat(Math.max(0, n - width(text)))
}

/** Lays out rows as aligned columns separated by two spaces; the last column is not padded. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = []
  for (const row of rows) {
    row.forEach((cell, i) => {
      widths[i] = Math.max(widths[i] ?? 0, width(cell))
    })
  }
  return rows
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : pad(cell, widths[i]!)))
        .join('  ')
        .trimEnd()
    )
    .map((line) => line + '\n')
    .join('')
}

/** Key/value lines with aligned keys; an array value continues on the following lines. */
export function fields(entries: readonly [string, string | readonly string[]][]): string {
  const keyWidth = Math.max(...entries.map(([k]) => width(k)))
  let text = ''
  for (const [key, value] of entries) {
    const values = typeof value === 'string' ? [value] : value.length === 0 ? ['-'] : value
    values.forEach((v, i) => {
      text += `${pad(i === 0 ? key : '', keyWidth)}  ${v}\n`
    })
  }
  return text
}

const STATUS_RANK: Record<MessageStatus, number> = { queued: 0, received: 0, failed: 1, sent: 2, delivered: 3, read: 4 }

/**
 * Where a status stands in a message's life (queued < sent < delivered < read; received < read).
 * Updates arrive from two sources (a command's own result and the subscription), so a late, older one
 * must not overwrite a newer one: keep the status with the higher rank.
 */
export function statusRank(status: MessageStatus): number {
  return STATUS_RANK[status] ?? 0
}

/**
 * The delivery mark of a message the user sent: ✓ sent, ✓✓ delivered or read, … queued, ✗ failed. None on a message
 * received, read or not: the marks tell the sender how far their message got.
 */
export function mark(m: Pick<MessageView, 'from' | 'status'>): string {
  if (m.from !== 'me') return ''
  switch (m.status) {
    case 'queued':
      return '…'
    case 'sent':
      return '✓'
    case 'delivered':
    case 'read':
      return '✓✓'
    case 'failed':
      return '✗'
    default:
      return ''
  }
}

/** A timestamp as local `HH:MM` today, else `YYYY-MM-DD HH:MM`. */
export function formatTime(ms: number, now = Date.now()): string {
  const d = new Date(ms)
  const two = (n: number): string => String(n).padStart(2, '0')
  const hm = `${two(d.getHours())}:${two(d.getMinutes())}`
  if (new Date(now).toDateString() === d.toDateString()) return hm
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${hm}`
}

/**
 * Makes text from other people safe to print on a terminal: control characters (including ESC, which
 * starts terminal escape sequences, and C1 controls) become spaces, so a message cannot move the cursor,
 * retitle the window or hide text.
 */
export function clean(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, ' ')
}

/** One message as a human line: time, [conversation,] sender, text, mark. */
export function messageLine(m: MessageView, withConversation: boolean, now = Date.now()): string {
  const parts = [formatTime(m.sentAt, now)]
  if (withConversation) parts.push(`[${clean(m.conversation)}]`)
  const tail = mark(m)
  parts.push(`${clean(m.from)}: ${clean(m.text)}${tail ? ' ' + tail : ''}`)
  return parts.join('  ')
}
