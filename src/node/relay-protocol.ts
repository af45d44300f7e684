/**
 * The relay request protocol `/sotto/relay/1.0.0` (docs/PROTOCOL.md §15.10): a user's node asks a relay
 * to keep and serve some topics (its inbox and 1:1 topics). One request and one reply per stream, each a
 * length-prefixed frame; both are bounded in size and time. What a relay accepts is the relay's policy
 * (src/app/relay.ts); this module is only the wire and the stream handling.
 */
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { lpStream } from '@libp2p/utils'
import { NodeError } from './errors.js'
import { libp2pOf } from './internal.js'
import type { SottoNode } from './node.js'

const log = logger('sotto:relay')

/** The libp2p protocol id of relay requests, version 1. */
export const RELAY_PROTOCOL = '/sotto/relay/1.0.0'
/** Version byte that starts every frame. */
export const RELAY_PROTOCOL_VERSION = 1
/** Most topics in one request. */
export const MAX_RELAY_REQUEST_TOPICS = 64
/** Longest topic name in a request, bytes of UTF-8 (sotto topic names are at most 128 characters). */
export const MAX_RELAY_TOPIC_BYTES = 128
/** Largest request frame: version, count, then each topic as a length byte and its bytes. */
export const MAX_RELAY_REQUEST_BYTES = 2 + MAX_RELAY_REQUEST_TOPICS * (1 + MAX_RELAY_TOPIC_BYTES)
/** Largest reply frame. */
export const MAX_RELAY_REPLY_BYTES = 2 + MAX_RELAY_REQUEST_TOPICS
/** Time each side has for its frame, ms. */
export const RELAY_FRAME_TIMEOUT_MS = 10_000

/** What the relay says about each requested topic (one byte each in the reply). */
export const RelayTopicStatus = {
  /** The relay keeps and serves the topic (now, or already did). */
  Served: 0,
  /** The relay serves only topics it was told to, or only allowed peers: this requester is not one. */
  NotAllowed: 1,
  /** Not a sotto topic name (§14.1). */
  Refused: 2,
  /** A quota is reached (topics per peer, topics in all, or requests per minute). */
  OverQuota: 3
} as const

/** One of RelayTopicStatus. */
export type RelayTopicStatus = (typeof RelayTopicStatus)[keyof typeof RelayTopicStatus]

/** A relay request or reply that breaks §15.10. */
export class RelayProtocolError extends NodeError {}

const encoder = new TextEncoder()
const decoder = new TextDecoder('utf-8', { fatal: true })

/** Encodes a request: `u8(1) || u8(n) || (u8(len) || topic)*n`, 1 <= n <= 64, 1 <= len <= 128. */
export function encodeRelayRequest(topics: readonly string[]): Uint8Array {
  if (!Array.isArray(topics) || topics.length < 1 || topics.length > MAX_RELAY_REQUEST_TOPICS) {
    throw new RelayProtocolError(`topics: 1..${MAX_RELAY_REQUEST_TOPICS} expected`)
  }
  const parts = topics.map((t) => encoder.encode(t))
  const out = new Uint8Array(2 + parts.reduce((s, p) => s + 1 + p.length, 0))
  out[0] = RELAY_PROTOCOL_VERSION
  out[1] = parts.length
  let at = 2
  for (const p of parts) {
    if (p.length < 1 || p.length > MAX_RELAY_TOPIC_BYTES) throw new RelayProtocolError(`topic: 1..${MAX_RELAY_TOPIC_BYTES} bytes expected`)
    out[at++] = p.length
    out.set(p, at)
    at += p.length
  }
  return out
}

/** Decodes a request (strict: exact length, bounded counts, valid UTF-8). */
export function decodeRelayRequest(bytes: Uint8Array): string[] {
  if (bytes.length < 2 || bytes.length > MAX_RELAY_REQUEST_BYTES) throw new RelayProtocolError('request: bad length')
  if (bytes[0] !== RELAY_PROTOCOL_VERSION) throw new RelayProtocolError(`request: unknown version ${bytes[0]}`)
  const n = bytes[1]!
  if (n < 1 || n > MAX_RELAY_REQUEST_TOPICS) throw new RelayProtocolError('request: bad topic count')
  const topics: string[] = []
  let at = 2
  for (let i = 0; i < n; i++) {
    const len = bytes[at++]
    if (len === undefined || len < 1 || len > MAX_RELAY_TOPIC_BYTES || at + len > bytes.length) {
      throw new RelayProtocolError('request: bad topic length')
    }
    try {
      topics.push(decoder.decode(bytes.subarray(at, at + len)))
    } catch {
      throw new RelayProtocolError('request: topic is not UTF-8')
    }
    at += len
  }
  if (at !== bytes.length) throw new RelayProtocolError('request: trailing bytes')
  return topics
}

/** Encodes a reply: `u8(1) || u8(n) || u8(status)*n`. */
export function encodeRelayReply(statuses: readonly RelayTopicStatus[]): Uint8Array {
  if (statuses.length < 1 || statuses.length > MAX_RELAY_REQUEST_TOPICS) throw new RelayProtocolError('reply: bad count')
  return Uint8Array.of(RELAY_PROTOCOL_VERSION, statuses.length, ...statuses)
}

/** Decodes a reply to a request of `expected` topics. Unknown status bytes are an error. */
export function decodeRelayReply(bytes: Uint8Array, expected: number): RelayTopicStatus[] {
  if (bytes.length !== 2 + expected || bytes[0] !== RELAY_PROTOCOL_VERSION || bytes[1] !== expected) {
    throw new RelayProtocolError('reply: does not match the request')
  }
  const out: RelayTopicStatus[] = []
  for (const b of bytes.subarray(2)) {
    if (b > RelayTopicStatus.OverQuota) throw new RelayProtocolError(`reply: unknown status ${b}`)
    out.push(b as RelayTopicStatus)
  }
  return out
}

/** Options of `startRelayServer`. */
export interface RelayServerInit {
  node: SottoNode
  /** Decides on a request from `peer`; one status per topic, in order. */
  onRequest(peer: string, topics: string[]): RelayTopicStatus[] | Promise<RelayTopicStatus[]>
  /** Most concurrent request streams per connection (default 2). */
  maxInboundStreams?: number
}

/** A running handler of `/sotto/relay/1.0.0`. */
export interface RelayServer {
  stop(): Promise<void>
}

function frameSignal(signal?: AbortSignal): AbortSignal {
  const t = AbortSignal.timeout(RELAY_FRAME_TIMEOUT_MS)
  return signal === undefined ? t : AbortSignal.any([signal, t])
}

/** Registers the relay side of the protocol on a started node. */
export async function startRelayServer(init: RelayServerInit): Promise<RelayServer> {
  const p2p: Libp2p = libp2pOf(init.node)
  const handler = async (stream: Stream, connection: Connection): Promise<void> => {
    const peer = connection.remotePeer.toString()
    const lp = lpStream(stream, { maxDataLength: MAX_RELAY_REQUEST_BYTES, maxBufferSize: MAX_RELAY_REQUEST_BYTES + 16 })
    try {
      const topics = decodeRelayRequest((await lp.read({ signal: frameSignal() })).subarray())
      const statuses = await init.onRequest(peer, topics)
      if (statuses.length !== topics.length) throw new RelayProtocolError('onRequest: one status per topic expected')
      await lp.write(encodeRelayReply(statuses), { signal: frameSignal() })
      await stream.close({ signal: frameSignal() })
    } catch (err) {
      log('relay request from %s failed: %s', peer, err)
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }
  await p2p.handle(RELAY_PROTOCOL, handler, { maxInboundStreams: init.maxInboundStreams ?? 2 })
  return {
    async stop() {
      try {
        await p2p.unhandle(RELAY_PROTOCOL)
      } catch {
        // the node may already be stopped
      }
    }
  }
}

/**
 * Asks a connected (or dialable) relay to keep and serve `topics` (at most 64; more are sent in several
 * requests). Resolves with one status per topic, in order. Throws RelayProtocolError on a malformed
 * reply, or the stream's error when the relay does not speak the protocol or does not answer in time.
 */
export async function requestRelayService(
  node: SottoNode,
  peer: string,
  topics: readonly string[],
  signal?: AbortSignal
): Promise<RelayTopicStatus[]> {
  const p2p: Libp2p = libp2pOf(node)
  const out: RelayTopicStatus[] = []
  for (let i = 0; i < topics.length; i += MAX_RELAY_REQUEST_TOPICS) {
    const chunk = topics.slice(i, i + MAX_RELAY_REQUEST_TOPICS)
    const stream = await p2p.dialProtocol(peerIdFromString(peer), RELAY_PROTOCOL, { signal: frameSignal(signal) })
    const lp = lpStream(stream, { maxDataLength: MAX_RELAY_REPLY_BYTES, maxBufferSize: MAX_RELAY_REPLY_BYTES + 16 })
    try {
      await lp.write(encodeRelayRequest(chunk), { signal: frameSignal(signal) })
      out.push(...decodeRelayReply((await lp.read({ signal: frameSignal(signal) })).subarray(), chunk.length))
      await stream.close({ signal: frameSignal(signal) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      throw err
    }
  }
  return out
}
