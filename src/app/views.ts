/**
 * Conversions from stored records to what the user sees (src/app/api.ts), and checks of user-given names.
 */
import type { CommunityRecord, ContactRecord, MemberRecord, MessageRecord } from '../store/index.js'
import type { CommunityView, ContactView, MemberView, MessageView } from './api.js'
import { BadNameError } from './errors.js'

/** Longest local name of a contact or community, in characters. */
export const MAX_NAME_CHARS = 64

/** Throws BadNameError unless `name` is a usable local name: 1..64 printable characters, no '#' first, no spaces at the ends. */
export function checkName(name: string, what: string): string {
  if (typeof name !== 'string') throw new BadNameError(`${what} name must be text`)
  const trimmed = name.trim()
  if (trimmed.length === 0) throw new BadNameError(`${what} name must not be empty`)
  if (trimmed.length > MAX_NAME_CHARS) throw new BadNameError(`${what} name must be at most ${MAX_NAME_CHARS} characters`)
  if (trimmed.startsWith('#')) throw new BadNameError(`${what} name must not start with '#'`)
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(trimmed)) throw new BadNameError(`${what} name must not contain control characters`)
  return trimmed
}

/** Short fingerprint shown beside names: the first 16 hex digits of the identity signing key. */
export function shortFingerprint(identityKeyHex: string): string {
  return identityKeyHex.slice(0, 16)
}

/** A contact as listed. */
export function contactView(c: ContactRecord): ContactView {
  return {
    name: c.name,
    fingerprint: shortFingerprint(c.identityKey),
    state: c.state,
    verified: c.verified,
    identityChanged: c.identityChanged,
    ...(c.peerId !== undefined ? { peerId: c.peerId } : {})
  }
}

/** A community as listed. */
export function communityView(c: CommunityRecord, topicIdHex: string, members: number): CommunityView {
  return { name: c.name, topicId: topicIdHex, epoch: c.epoch, role: c.role, members }
}

/** A member as listed. */
export function memberView(m: MemberRecord): MemberView {
  return {
    name: m.name ?? shortFingerprint(m.id),
    fingerprint: shortFingerprint(m.id),
    role: m.role,
    ...(m.lastSeen !== undefined ? { lastSeen: m.lastSeen } : {})
  }
}

/** A message as shown; `conversationName` is the contact name or `#community`, `fromName` 'me' or a name. */
export function messageView(m: MessageRecord, conversationName: string, fromName: string): MessageView {
  return {
    id: m.id,
    conversation: conversationName,
    from: fromName,
    text: m.text,
    sentAt: m.sentAt,
    receivedAt: m.receivedAt,
    status: m.status
  }
}

/** Orders messages for display: by sender time, then storage order (so each sender's messages stay in order). */
export function byDisplayOrder(a: MessageRecord, b: MessageRecord): number {
  return a.sentAt - b.sentAt || a.seq - b.seq
}
