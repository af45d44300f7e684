/**
 * Constants and pure helpers of the node layer: protocol names, size bounds, the gossipsub message id,
 * the rendezvous CID and sotto's peer-score parameters. Specified in docs/PROTOCOL.md sections 13 and 14.
 */
import { createTopicScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { CID } from 'multiformats/cid'
import { create as createDigest } from 'multiformats/hashes/digest'
import { blake2b, concatBytes, sha256, utf8 } from '../crypto/primitives.js'

/** sotto's private Kademlia protocol id: keeps sotto's DHT apart from the public IPFS one. */
export const DHT_PROTOCOL = '/sotto/kad/1.0.0'

/** Default bound on one gossipsub message's data (bytes); larger messages are rejected and never sent. */
export const DEFAULT_MAX_MESSAGE_SIZE = 64 * 1024

/** Default bound on one DHT record value (bytes), checked before the injected validator runs. */
export const DEFAULT_MAX_RECORD_SIZE = 16 * 1024

/**
 * DHT records kept per record prefix (`sotto-prekeys`, `sotto-peers`), in memory; past it the record stored
 * longest ago is evicted (PROTOCOL.md 13.10). Memory bound: this times the prefix's largest valid record.
 */
export const MAX_RECORDS_PER_NAMESPACE = 10_000

/** Provider entries (rendezvous CID, provider) kept, in memory; past it the oldest is evicted (PROTOCOL.md 13.10). */
export const MAX_PROVIDER_RECORDS = 10_000

/** Inbound `PUT_VALUE` requests accepted from one peer per `DHT_QUOTA_WINDOW_MS`; more are refused. */
export const DHT_PUTS_PER_PEER = 64

/** Inbound `ADD_PROVIDER` requests accepted from one peer per `DHT_QUOTA_WINDOW_MS`; more are ignored. */
export const DHT_PROVIDES_PER_PEER = 64

/** The window of the per-peer DHT quotas, ms. */
export const DHT_QUOTA_WINDOW_MS = 60_000

/** Multicodec `raw` (CID content type of rendezvous CIDs). */
export const CODEC_RAW = 0x55
/** Multicodec `sha2-256` (multihash function of rendezvous CIDs). */
export const MULTIHASH_SHA2_256 = 0x12

/**
 * Gossipsub message id (PROTOCOL.md 14.11): BLAKE2b-256(u32be(len(topic)) || topic || data), topic as UTF-8.
 * The topic is inside the hash so that a copy of a message injected into another topic (and rejected
 * there) cannot poison the seen-cache entry of the genuine one.
 */
export function messageId(topic: string, data: Uint8Array): Uint8Array {
  const t = utf8(topic)
  const len = new Uint8Array(4)
  new DataView(len.buffer).setUint32(0, t.length, false)
  return blake2b(concatBytes(len, t, data), 32)
}

/**
 * Rendezvous CID of a key (PROTOCOL.md 13.11): CIDv1, codec raw, multihash sha2-256 of the key bytes.
 * Its binary form is 0x01 0x55 0x12 0x20 || SHA-256(key).
 */
export function rendezvousCid(key: Uint8Array): CID {
  return CID.createV1(CODEC_RAW, createDigest(MULTIHASH_SHA2_256, sha256(key)))
}

/**
 * Per-topic peer-score parameters for sotto's topics (PROTOCOL.md 14.13). Chat traffic is sparse and
 * bursty, so mesh-delivery-rate penalties (P3, P3b) are off: a quiet topic must not push honest peers out.
 * Invalid messages (P4) are what is penalised: one rejected message costs -10 (at the gossip threshold),
 * three cost -90 (below the graylist threshold, -80); the counter decays by 1% per second.
 */
export function sottoTopicScoreParams(): TopicScoreParams {
  return createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0.001,
    timeInMeshQuantum: 1000,
    timeInMeshCap: 3600,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.99,
    firstMessageDeliveriesCap: 5,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -10,
    invalidMessageDeliveriesDecay: 0.99
  })
}

/** Loopback IPs are exempt from the IP-colocation penalty: peers on the same host are local processes. */
export const LOOPBACK_IPS = ['127.0.0.1', '::1']
