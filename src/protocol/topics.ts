/**
 * Gossipsub topic names (docs/PROTOCOL.md §14, naming half). Every name is derived, never a user or
 * community name: an observer learns only an opaque hex string per topic.
 */
import { blake2b, concatBytes, ED25519_PUBLIC_BYTES, fromHex, KEY_BYTES, toHex, utf8 } from '../crypto/primitives.js'
import { InvalidArgumentError, MalformedError } from './errors.js'

/** Prefix of every sotto topic; the 1 is the topic naming version. */
export const TOPIC_PREFIX = '/sotto/1/'
/** Label hashed before the identity signing key to name its inbox topic. */
export const INBOX_TOPIC_LABEL = 'sotto/1/inbox'
/** BLAKE2b message (keyed by the session's first root key) naming a 1:1 conversation topic. */
export const DIRECT_TOPIC_LABEL = 'sotto/1/direct-topic'

/** What a sotto topic is for. */
export type TopicKind = 'inbox' | 'direct' | 'community'

const SEGMENT: Record<TopicKind, string> = { inbox: 'inbox', direct: 'd', community: 'c' }

function bytes32(name: string, value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array) || value.length !== 32) throw new InvalidArgumentError(`${name} must be 32 bytes`)
}

/**
 * The inbox topic of an identity (§14.1), where DIRECT_PREKEY envelopes (first messages) to it are
 * published: `"/sotto/1/inbox/" || hex(B2b("sotto/1/inbox" || signingKey, 32))`.
 */
export function inboxTopic(signingKey: Uint8Array): string {
  if (!(signingKey instanceof Uint8Array) || signingKey.length !== ED25519_PUBLIC_BYTES) {
    throw new InvalidArgumentError('signingKey must be a 32-byte Ed25519 public key')
  }
  return `${TOPIC_PREFIX}inbox/${toHex(blake2b(concatBytes(utf8(INBOX_TOPIC_LABEL), signingKey), 32))}`
}

/**
 * The topic of a 1:1 conversation (§14.1): `"/sotto/1/d/" || hex(B2b("sotto/1/direct-topic", 32, key = SK))`
 * where SK is the session's first root key (SessionSecrets.rootKey of §4). Both sides compute it at
 * session set-up, before the first ratchet step changes the root key, and store it with the session.
 */
export function directTopic(rootKey: Uint8Array): string {
  if (!(rootKey instanceof Uint8Array) || rootKey.length !== KEY_BYTES) throw new InvalidArgumentError('rootKey must be 32 bytes')
  return `${TOPIC_PREFIX}d/${toHex(blake2b(utf8(DIRECT_TOPIC_LABEL), 32, rootKey))}`
}

/** The topic of a community epoch (§14.1): `"/sotto/1/c/" || hex(topicId)`, topicId of §8.2. */
export function communityTopic(topicId: Uint8Array): string {
  bytes32('topicId', topicId)
  return `${TOPIC_PREFIX}c/${toHex(topicId)}`
}

/**
 * Parses a sotto topic name: its kind and the 32 bytes it names. Throws MalformedError for anything
 * else (other prefixes, upper-case or short hex, extra segments).
 */
export function parseTopic(topic: string): { kind: TopicKind; id: Uint8Array } {
  const hit = typeof topic === 'string' ? PARSED_TOPICS.get(topic) : undefined
  if (hit !== undefined) return { kind: hit.kind, id: hit.id.slice() }
  const parsed = parseTopicUncached(topic)
  if (PARSED_TOPICS.size >= PARSED_TOPICS_MAX) PARSED_TOPICS.delete(PARSED_TOPICS.keys().next().value!)
  PARSED_TOPICS.set(topic, { kind: parsed.kind, id: parsed.id.slice() })
  return parsed
}

/** Most topic names whose parse parseTopic keeps (a node is on a few dozen topics; the oldest entry goes). */
const PARSED_TOPICS_MAX = 256
// Valid topic names already parsed; callers get fresh copies, so nothing they do reaches the cache.
const PARSED_TOPICS = new Map<string, { kind: TopicKind; id: Uint8Array }>()

function parseTopicUncached(topic: string): { kind: TopicKind; id: Uint8Array } {
  if (typeof topic !== 'string' || topic.length > 128 || !topic.startsWith(TOPIC_PREFIX)) {
    throw new MalformedError('not a sotto topic')
  }
  const rest = topic.slice(TOPIC_PREFIX.length).split('/')
  if (rest.length !== 2) throw new MalformedError('not a sotto topic')
  const kind = (Object.keys(SEGMENT) as TopicKind[]).find((k) => SEGMENT[k] === rest[0])
  if (kind === undefined || !/^[0-9a-f]{64}$/.test(rest[1]!)) throw new MalformedError('not a sotto topic')
  return { kind, id: fromHex(rest[1]!) }
}
