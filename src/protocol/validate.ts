/**
 * The envelope check a topic validator runs (docs/PROTOCOL.md §14.2): everything a router or relay can
 * verify without any secret. The node calls it from its gossipsub topic validator and on envelopes that
 * arrive by sync; a ProtocolError means "reject", a return means "accept".
 */
import { verifyCommunityEnvelope } from '../crypto/community.js'
import { decodeEnvelope, type Envelope, type EnvelopeKind } from './envelope.js'
import { InvalidArgumentError, TimestampError, TopicSignatureError, WrongTopicError } from './errors.js'
import { parseTopic, type TopicKind } from './topics.js'

/** Largest accepted distance of an envelope timestamp ahead of the receiver's clock (§14.2): 15 minutes. */
export const MAX_FUTURE_SKEW_MS = 15 * 60 * 1000

/** The one envelope kind each topic kind carries (§14.2). */
export const KIND_OF_TOPIC: Readonly<Record<TopicKind, EnvelopeKind>> = Object.freeze({
  inbox: 'direct-prekey',
  direct: 'direct',
  community: 'community'
})

/** Options of {@link validateTopicEnvelope}. */
export interface TopicCheckOptions {
  /** The receiver's clock, Unix ms (default Date.now()). */
  now?: number
  /** Allowed skew into the future (default MAX_FUTURE_SKEW_MS). */
  maxFutureSkewMs?: number
}

/**
 * Checks `data` received on `topic` (§14.2): the topic is a sotto topic; the data is a valid envelope
 * (§11); its kind is the one of the topic; its timestamp is not more than the skew ahead of `now`; for a
 * community topic, the sealed message passes the router check (§8.5) under the topic id named by the topic.
 * Returns the decoded envelope; throws only ProtocolError subclasses.
 */
export function validateTopicEnvelope(topic: string, data: Uint8Array, options: TopicCheckOptions = {}): Envelope {
  const now = options.now ?? Date.now()
  const skew = options.maxFutureSkewMs ?? MAX_FUTURE_SKEW_MS
  if (!Number.isFinite(now) || !Number.isFinite(skew) || skew < 0) throw new InvalidArgumentError('bad clock options')
  const { kind, id } = parseTopic(topic)
  const envelope = decodeEnvelope(data)
  if (envelope.kind !== KIND_OF_TOPIC[kind]) {
    throw new WrongTopicError(`a ${envelope.kind} envelope does not belong on a ${kind} topic`)
  }
  if (envelope.timestamp > now + skew) throw new TimestampError('envelope timestamp is too far in the future')
  if (envelope.kind === 'community' && !verifyCommunityEnvelope(id, envelope.sealed)) {
    throw new TopicSignatureError('sender certificate or signature does not verify under the topic id')
  }
  return envelope
}
