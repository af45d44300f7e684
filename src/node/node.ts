/**
 * The sotto node: one libp2p instance (TCP + Noise + yamux, identify, ping, Kademlia DHT, gossipsub,
 * bootstrap, optional mDNS) behind a small service API that speaks plain strings and bytes, so the app
 * layer never sees a libp2p type. Protocol choices are specified in docs/PROTOCOL.md sections 13 and 14.
 */
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { bootstrap } from '@libp2p/bootstrap'
import { generateKeyPair, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { type GossipSub, type GossipsubMessage, gossipsub, StrictNoSign, TopicValidatorResult } from '@libp2p/gossipsub'
import { createPeerScoreParams, type TopicScoreParams } from '@libp2p/gossipsub/score'
import { type Identify, identify } from '@libp2p/identify'
import type { Libp2p, PeerId, PeerInfo, PrivateKey } from '@libp2p/interface'
import { type KadDHT, kadDHT, Record as KadRecord, passthroughMapper, type QueryEvent } from '@libp2p/kad-dht'
import { logger } from '@libp2p/logger'
import { mdns } from '@libp2p/mdns'
import { peerIdFromString } from '@libp2p/peer-id'
import { type Ping, ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { type Multiaddr, multiaddr } from '@multiformats/multiaddr'
import { type Datastore, Key } from 'interface-datastore'
import { createLibp2p, type Libp2pOptions } from 'libp2p'
import { toString as uint8ArrayToString } from 'uint8arrays/to-string'
import { equalBytes, toHex, utf8 } from '../crypto/primitives.js'
import {
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_RECORD_SIZE,
  DHT_PROTOCOL,
  DHT_PROVIDES_PER_PEER,
  DHT_PUTS_PER_PEER,
  DHT_QUOTA_WINDOW_MS,
  LOOPBACK_IPS,
  MAX_PROVIDER_RECORDS,
  MAX_RECORDS_PER_NAMESPACE,
  messageId,
  rendezvousCid,
  sottoTopicScoreParams
} from './config.js'
import { DHT_DATASTORE_PREFIX, type NodeDatastore, openNodeDatastore, PeerQuota } from './dht-store.js'
import {
  InvalidAddressError,
  InvalidRecordKeyError,
  MessageTooLargeError,
  NodeAbortedError,
  NodeNotStartedError,
  RecordRejectedError
} from './errors.js'
import { type GossipsubStreams, keepGossipsubStreams } from './gossipsub-streams.js'
import { decodePeerKey } from './keys.js'

const log = logger('sotto:node')

/** A DHT record type: its validator and selector, registered under the key's first path segment. */
export interface RecordType {
  /** Throws (or rejects) when `value` is not a valid record for `key`: forged, malformed, oversized. */
  validate(key: Uint8Array, value: Uint8Array): Promise<void> | void
  /** Index of the best of several valid `values` for `key` (e.g. the highest sequence number). */
  select(key: Uint8Array, values: Uint8Array[]): number
}

/** What a topic validator decides: deliver and forward, drop and penalise the sender, or drop quietly. */
export type TopicVerdict = 'accept' | 'reject' | 'ignore'

/** Decides, before delivery and forwarding, what to do with a gossipsub message. */
export type TopicValidator = (topic: string, data: Uint8Array) => TopicVerdict | Promise<TopicVerdict>

/** Options of `createSottoNode`. */
export interface SottoNodeInit {
  /** libp2p private key protobuf bytes (from `generatePeerKey` or `exportPeerKey`); new key if absent. */
  peerKey?: Uint8Array
  /** Listen multiaddrs; default `/ip4/0.0.0.0/tcp/0`. */
  listen?: string[]
  /** Bootstrap multiaddrs, each ending in `/p2p/<peer id>`. */
  bootstrap?: string[]
  /** Delay before dialling the bootstrap list, ms; default 100. */
  bootstrapDelayMs?: number
  /** mDNS discovery on the LAN (service tag `_sotto._udp.local`); default false here, the app decides. */
  mdns?: boolean
  /** Kademlia protocol id; default `/sotto/kad/1.0.0`. */
  dhtProtocol?: string
  /** DHT record types by key prefix (the first path segment: `/sotto-prekeys/...` -> `sotto-prekeys`). */
  records?: Record<string, RecordType>
  /** Gossipsub topic validator, run on every message of every subscribed topic; default accepts all. */
  topicValidator?: TopicValidator
  /**
   * Directory of a LevelDB datastore for the peer store (peer ids, addresses, protocols). DHT records and
   * provider records are kept in memory only, never there (PROTOCOL.md 13.10).
   */
  peerStorePath?: string
  /** DHT records kept per record prefix, in memory; default 10 000 (`MAX_RECORDS_PER_NAMESPACE`). */
  maxRecordsPerNamespace?: number
  /** DHT provider entries kept, in memory; default 10 000 (`MAX_PROVIDER_RECORDS`). */
  maxProviderRecords?: number
  /** Inbound `PUT_VALUE` requests accepted per peer per minute; default 64 (`DHT_PUTS_PER_PEER`). */
  dhtPutsPerPeer?: number
  /** Inbound `ADD_PROVIDER` requests accepted per peer per minute; default 64 (`DHT_PROVIDES_PER_PEER`). */
  dhtProvidesPerPeer?: number
  /** Bound on a message's data, bytes; default 64 KiB. */
  maxMessageSize?: number
  /** Bound on a DHT record value, bytes; default 16 KiB. */
  maxRecordSize?: number
  /** Send own messages to all topic peers (gossipsub floodPublish); default false (PROTOCOL.md 14.10). */
  floodPublish?: boolean
  /** On start, dial up to this many peers remembered in the peer store (with `peerStorePath`); default 8. */
  redialKnownPeers?: number
  /** Gossipsub IP-colocation penalty weight (<= 0); default -5, loopback addresses always exempt. */
  ipColocationFactorWeight?: number
}

/** A gossipsub message that passed the topic validator. */
export interface NodeMessage {
  topic: string
  data: Uint8Array
  /** Message id, lowercase hex (PROTOCOL.md 14.11): the same on every node. */
  id: string
  /** Peer id of the neighbour that forwarded it (not necessarily its author). */
  from: string
}

/** Events of a SottoNode, by name. */
export interface NodeEvents {
  'peer:connect': { peerId: string }
  'peer:disconnect': { peerId: string }
  message: NodeMessage
  'subscription-change': { peerId: string; topic: string; subscribed: boolean }
}

/** Result of `publish`. */
export interface PublishResult {
  /** The message id (PROTOCOL.md 14.11), lowercase hex: what receivers see as `NodeMessage.id`. */
  id: string
  /** How many peers the message was sent to (0 when no peer is subscribed yet: nothing was sent). */
  recipients: number
  /** True when the same bytes were already published or seen on this topic recently (not re-sent). */
  duplicate: boolean
}

/** Options of `publish`. */
export interface PublishOptions {
  /** When no topic peer is known, wait up to this long (ms) for one before publishing; default 0. */
  waitForPeersMs?: number
  signal?: AbortSignal
}

/** Options of `findProviders`. */
export interface FindProvidersOptions {
  signal?: AbortSignal
  /** Dial the providers found (default true); only those reached are returned then. */
  connect?: boolean
  /** Stop after this many providers; default 20. */
  limit?: number
  /** Time limit of the lookup, ms; default 10 000. */
  timeoutMs?: number
}

/** Options of DHT operations. */
export interface DhtOptions {
  signal?: AbortSignal
  /** Time limit, ms; default 10 000. On timeout the operation returns what it has. */
  timeoutMs?: number
}

/** Options of `getRecord`. */
export interface GetRecordOptions extends DhtOptions {
  /**
   * Once a valid record has come in, end the query this many ms later and return the best record so far,
   * instead of waiting for the whole query (on a loaded machine it may run until the time limit although
   * the record came in its first second). Default: wait for the query to end.
   */
  settleMs?: number
}

/** The node's service API. Peer ids are base58btc strings, addresses are multiaddr strings. */
export interface SottoNode {
  /** This node's peer id. */
  readonly peerId: string
  /** True between `start()` and `stop()`. */
  readonly started: boolean
  /** Starts listening, discovery (bootstrap, mDNS), the DHT and gossipsub; redials remembered peers. */
  start(): Promise<void>
  /** Stops the node and closes its datastore; `start()` may be called again. */
  stop(): Promise<void>
  /** The peer key's libp2p protobuf bytes, for the app to persist. */
  exportPeerKey(): Uint8Array
  /** Listening addresses, each ending in `/p2p/<peerId>`. */
  addresses(): string[]
  /** Connects to a multiaddr (`/ip4/.../p2p/...`) or a known peer id; returns the remote peer id. */
  dial(target: string, signal?: AbortSignal): Promise<string>
  /** Closes every connection to a peer. */
  hangUp(peerId: string): Promise<void>
  /** Peer ids with an open connection. */
  peers(): string[]
  /** Peer ids in the peer store (persisted with `peerStorePath`), connected or not. */
  knownPeers(): Promise<string[]>
  /** Adds a listener; returns a function that removes it. Listeners may be added before `start()`. */
  on<K extends keyof NodeEvents>(event: K, listener: (detail: NodeEvents[K]) => void): () => void
  /** Removes a listener. */
  off<K extends keyof NodeEvents>(event: K, listener: (detail: NodeEvents[K]) => void): void
  /** Resolves with the next event of that name for which `filter` is true. */
  once<K extends keyof NodeEvents>(
    event: K,
    filter?: (detail: NodeEvents[K]) => boolean,
    signal?: AbortSignal
  ): Promise<NodeEvents[K]>
  /** Replaces the topic validator (applies to messages received from now on). */
  setTopicValidator(validator: TopicValidator | undefined): void
  /** The topic validator in force (undefined: every message is accepted), to wrap it. */
  getTopicValidator(): TopicValidator | undefined
  /** Joins a topic: its messages pass the topic validator and are scored (PROTOCOL.md 14.12, 14.13). */
  subscribe(topic: string): void
  /** Leaves a topic (no-op when the node is stopped). */
  unsubscribe(topic: string): void
  /** Topics this node is subscribed to. */
  topics(): string[]
  /** Publishes; never throws for lack of peers (see PublishResult). Throws MessageTooLargeError. */
  publish(topic: string, data: Uint8Array, options?: PublishOptions): Promise<PublishResult>
  /** Peers known to be subscribed to a topic. */
  topicPeers(topic: string): string[]
  /**
   * Resolves once at least `n` peers are subscribed to the topic and gossipsub has an open stream to each, so
   * that a publish right after can reach them; resolves with those peers. Rejects NodeAbortedError on abort.
   */
  waitForTopicPeers(topic: string, n: number, signal?: AbortSignal): Promise<string[]>
  /** Gossipsub score of a peer (diagnostics; negative after it sent rejected messages). */
  peerScore(peerId: string): number
  /** Scores a peer down (a gossipsub behaviour penalty), e.g. after it broke the sync protocol. */
  penalise(peerId: string): void
  /** Number of peers in the DHT routing table. */
  dhtSize(): number
  /** Number of DHT records this node holds (its own and others') under a record prefix, e.g. `sotto-prekeys`. */
  heldRecords(prefix: string): number
  /** Resolves once the DHT routing table holds at least `n` peers. */
  waitForDhtPeers(n: number, signal?: AbortSignal): Promise<void>
  /** Stores a record locally and on the closest DHT peers; returns how many remote peers accepted it. */
  putRecord(key: Uint8Array | string, value: Uint8Array, options?: DhtOptions): Promise<number>
  /** The best valid record found (local and network) by the key's selector, or undefined. */
  getRecord(key: Uint8Array | string, options?: GetRecordOptions): Promise<Uint8Array | undefined>
  /** Announces this node as a provider of the rendezvous key (PROTOCOL.md 13.11). */
  provide(key: Uint8Array, options?: DhtOptions): Promise<void>
  /** Finds providers of a rendezvous key and, unless `connect: false`, connects to them. */
  findProviders(key: Uint8Array, options?: FindProvidersOptions): Promise<string[]>
  /** Looks a peer up in the DHT; returns its addresses (empty when not found). */
  findPeer(peerId: string, options?: DhtOptions): Promise<string[]>
}

/** libp2p services of a sotto node. */
export type SottoServices = {
  identify: Identify
  ping: Ping
  dht: KadDHT
  pubsub: GossipSub
}

/** The libp2p instance type behind a SottoNode (node-layer modules only; see internal.ts). */
export type SottoLibp2p = Libp2p<SottoServices>

const DEFAULT_TIMEOUT_MS = 10_000
/** Discovered peers (mDNS, DHT queries) are dialled only while the node has fewer connected peers than this. */
const DISCOVERY_DIAL_BELOW = 32

function withTimeout(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const t = AbortSignal.timeout(timeoutMs)
  return signal == null ? t : AbortSignal.any([signal, t])
}

function recordKeyBytes(key: Uint8Array | string): Uint8Array {
  return typeof key === 'string' ? utf8(key) : key
}

/** The record prefix of a key `/<prefix>/<rest>` (kad-dht's rule: the first path segment). */
function recordPrefix(key: Uint8Array): string {
  const parts = new TextDecoder().decode(key).split('/')
  if (parts.length < 3 || parts[0] !== '' || parts[1] === '') {
    throw new InvalidRecordKeyError('key: expected /<prefix>/<rest>')
  }
  return parts[1]
}

/** Where kad-dht keeps a record in the datastore (its default prefix `/dht`, then `/record/<base32 key>`). */
function storedRecordKey(key: Uint8Array): Key {
  return new Key(`${DHT_DATASTORE_PREFIX}/record/${uint8ArrayToString(key, 'base32')}`, false)
}

async function storedRecord(datastore: Datastore, key: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    return KadRecord.deserialize(await datastore.get(storedRecordKey(key))).value
  } catch {
    return undefined
  }
}

/**
 * The record check run by kad-dht on every record it receives or stores, and by the node before sending:
 * a known prefix, the size bound, the injected validator, then no roll-back: a record the selector ranks
 * below the valid one already stored for the key is refused (kad-dht itself would overwrite it).
 */
async function checkRecord(
  types: Record<string, RecordType>,
  datastore: Datastore,
  maxRecordSize: number,
  key: Uint8Array,
  value: Uint8Array
): Promise<void> {
  const prefix = recordPrefix(key)
  const type = types[prefix]
  if (type == null) throw new InvalidRecordKeyError(`key: no record type registered for prefix ${prefix}`)
  if (value.length > maxRecordSize) {
    throw new RecordRejectedError(`value: ${value.length} bytes exceeds maxRecordSize ${maxRecordSize}`)
  }
  await type.validate(key, value)
  const existing = await storedRecord(datastore, key)
  if (existing == null || equalBytes(existing, value)) return
  try {
    await type.validate(key, existing)
  } catch {
    return // the stored one is no longer valid (e.g. expired): anything valid replaces it
  }
  if (type.select(key, [existing, value]) === 0) {
    throw new RecordRejectedError('value: older than (or tied with) the record already stored for this key')
  }
}

type AnyListener = (detail: never) => void

interface GossipsubScoring {
  score: {
    params: { topics: Record<string, TopicScoreParams> }
    scoreCache?: Map<string, unknown>
    score(peerId: string): number
    addPenalty(peerId: string, penalty: number, label: string): void
  }
}

class SottoNodeImpl implements SottoNode {
  readonly libp2p: SottoLibp2p
  readonly peerId: string
  private readonly privateKey: PrivateKey
  private readonly store: NodeDatastore
  private readonly datastore: Datastore
  private readonly records: Record<string, RecordType>
  private readonly maxMessageSize: number
  private readonly maxRecordSize: number
  private readonly listeners = new Map<string, Set<AnyListener>>()
  private topicValidator: TopicValidator | undefined
  private readonly redialLimit: number
  private readonly streams: GossipsubStreams
  private running = false

  constructor(
    libp2p: SottoLibp2p,
    privateKey: PrivateKey,
    store: NodeDatastore,
    records: Record<string, RecordType>,
    streams: GossipsubStreams,
    init: SottoNodeInit
  ) {
    this.libp2p = libp2p
    this.streams = streams
    this.privateKey = privateKey
    this.store = store
    this.datastore = store.datastore
    this.peerId = libp2p.peerId.toString()
    this.records = records
    this.maxMessageSize = init.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
    this.maxRecordSize = init.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE
    this.topicValidator = init.topicValidator
    this.redialLimit = init.redialKnownPeers ?? 8

    libp2p.addEventListener('peer:connect', (e) => this.emit('peer:connect', { peerId: e.detail.toString() }))
    libp2p.addEventListener('peer:disconnect', (e) => this.emit('peer:disconnect', { peerId: e.detail.toString() }))
    // mDNS only reports peers; bootstrap dials by itself. Dial what is discovered and not connected.
    libp2p.addEventListener('peer:discovery', (e) => {
      const id = e.detail.id
      if (!this.running || id.equals(libp2p.peerId) || libp2p.getConnections(id).length > 0) return
      // kad-dht reports every peer its queries meet: seek connections only while the node has few.
      if (libp2p.getPeers().length >= DISCOVERY_DIAL_BELOW) return
      libp2p.dial(id).catch((err: unknown) => log('dial of discovered %p failed: %e', id, err))
    })
    const pubsub = libp2p.services.pubsub
    pubsub.addEventListener('gossipsub:message', (e: CustomEvent<GossipsubMessage>) => {
      const { msg, msgId, propagationSource } = e.detail
      this.emit('message', { topic: msg.topic, data: plainBytes(msg.data), id: msgId, from: propagationSource.toString() })
    })
    pubsub.addEventListener('subscription-change', (e) => {
      const peerId = e.detail.peerId.toString()
      for (const s of e.detail.subscriptions) {
        this.emit('subscription-change', { peerId, topic: s.topic, subscribed: s.subscribe })
      }
    })
  }

  get started(): boolean {
    return this.running
  }

  async start(): Promise<void> {
    if (this.running) return
    const peers = this.store.peers
    if (peers != null && peers.level.db.status !== 'open') await peers.level.open()
    peers?.start()
    await this.libp2p.start()
    this.running = true
    log('started %s on %s', this.peerId, this.addresses().join(' '))
    void this.redialKnownPeers()
  }

  /** After a restart, reconnects to peers remembered in the peer store (in the background). */
  private async redialKnownPeers(): Promise<void> {
    if (this.redialLimit <= 0) return
    const known = await this.libp2p.peerStore.all().catch(() => [])
    const candidates = known.filter((p) => !p.id.equals(this.libp2p.peerId) && p.addresses.length > 0)
    await Promise.all(
      candidates.slice(0, this.redialLimit).map(async (p) => {
        if (!this.running || this.libp2p.getConnections(p.id).length > 0) return
        await this.libp2p.dial(p.id).catch((err: unknown) => log('redial of %p failed: %e', p.id, err))
      })
    )
  }

  async stop(): Promise<void> {
    if (!this.running) return
    this.running = false
    await this.libp2p.stop()
    await this.store.peers?.stop()
    await this.store.peers?.level.close()
    log('stopped %s', this.peerId)
  }

  exportPeerKey(): Uint8Array {
    return privateKeyToProtobuf(this.privateKey)
  }

  addresses(): string[] {
    const suffix = `/p2p/${this.peerId}`
    return this.libp2p.getMultiaddrs().map((ma) => {
      const s = ma.toString()
      return s.endsWith(suffix) ? s : s + suffix
    })
  }

  async dial(target: string, signal?: AbortSignal): Promise<string> {
    this.assertStarted()
    let to: Multiaddr | PeerId
    try {
      to = target.startsWith('/') ? multiaddr(target) : peerIdFromString(target)
    } catch (err) {
      throw new InvalidAddressError(`target: not a multiaddr or peer id: ${target}`, { cause: err })
    }
    const conn = await this.libp2p.dial(to, { signal })
    return conn.remotePeer.toString()
  }

  async hangUp(peerId: string): Promise<void> {
    await this.libp2p.hangUp(this.parsePeerId(peerId))
  }

  peers(): string[] {
    return this.libp2p.getPeers().map((p) => p.toString())
  }

  async knownPeers(): Promise<string[]> {
    const all = await this.libp2p.peerStore.all()
    return all.map((p) => p.id.toString()).filter((id) => id !== this.peerId)
  }

  on<K extends keyof NodeEvents>(event: K, listener: (detail: NodeEvents[K]) => void): () => void {
    let set = this.listeners.get(event)
    if (set == null) {
      set = new Set()
      this.listeners.set(event, set)
    }
    set.add(listener as AnyListener)
    return () => this.off(event, listener)
  }

  off<K extends keyof NodeEvents>(event: K, listener: (detail: NodeEvents[K]) => void): void {
    this.listeners.get(event)?.delete(listener as AnyListener)
  }

  once<K extends keyof NodeEvents>(
    event: K,
    filter?: (detail: NodeEvents[K]) => boolean,
    signal?: AbortSignal
  ): Promise<NodeEvents[K]> {
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) {
        reject(new NodeAbortedError(`aborted waiting for ${event}`))
        return
      }
      const onAbort = (): void => {
        off()
        reject(new NodeAbortedError(`aborted waiting for ${event}`))
      }
      const off = this.on(event, (detail) => {
        if (filter != null && !filter(detail)) return
        off()
        signal?.removeEventListener('abort', onAbort)
        resolve(detail)
      })
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  setTopicValidator(validator: TopicValidator | undefined): void {
    this.topicValidator = validator
  }

  getTopicValidator(): TopicValidator | undefined {
    return this.topicValidator
  }

  subscribe(topic: string): void {
    this.assertStarted()
    const pubsub = this.libp2p.services.pubsub
    const scoreTopics = this.gossipsubScoring.score.params.topics
    if (scoreTopics[topic] == null) scoreTopics[topic] = sottoTopicScoreParams()
    pubsub.topicValidators.set(topic, async (_peer, msg) => this.validateMessage(msg.topic, plainBytes(msg.data)))
    pubsub.subscribe(topic)
  }

  unsubscribe(topic: string): void {
    if (!this.running) return
    const pubsub = this.libp2p.services.pubsub
    pubsub.unsubscribe(topic)
    pubsub.topicValidators.delete(topic)
    // The topic's score parameters stay: peer-score state may still refer to them until it decays.
  }

  topics(): string[] {
    return this.libp2p.services.pubsub.getTopics()
  }

  async publish(topic: string, data: Uint8Array, options: PublishOptions = {}): Promise<PublishResult> {
    this.assertStarted()
    if (data.length > this.maxMessageSize) {
      throw new MessageTooLargeError(`data: ${data.length} bytes exceeds maxMessageSize ${this.maxMessageSize}`)
    }
    const waitMs = options.waitForPeersMs ?? 0
    if (waitMs > 0 && this.reachableTopicPeers(topic).length === 0) {
      try {
        await this.waitForTopicPeers(topic, 1, withTimeout(options.signal, waitMs))
      } catch (err) {
        if (options.signal?.aborted === true) throw err
      }
    }
    const id = toHex(messageId(topic, data))
    try {
      const res = await this.libp2p.services.pubsub.publish(topic, data)
      const recipients = res.recipients.filter((p) => !p.equals(this.libp2p.peerId)).length
      log('published %d bytes on %s to %d peers', data.length, topic, recipients)
      return { id, recipients, duplicate: false }
    } catch (err) {
      const message = err instanceof Error ? err.message : ''
      // Nothing is recorded as seen in this case, so the same bytes can be published again later.
      if (message.includes('NoPeersSubscribedToTopic')) return { id, recipients: 0, duplicate: false }
      if (message.includes('PublishError.Duplicate')) return { id, recipients: 0, duplicate: true }
      throw err
    }
  }

  topicPeers(topic: string): string[] {
    return this.libp2p.services.pubsub.getSubscribers(topic).map((p) => p.toString())
  }

  /** Topic peers gossipsub can send to now: a publish right away reaches them. */
  private reachableTopicPeers(topic: string): string[] {
    return this.topicPeers(topic).filter((p) => this.streams.canSend(p))
  }

  waitForTopicPeers(topic: string, n: number, signal?: AbortSignal): Promise<string[]> {
    const pubsub = this.libp2p.services.pubsub
    return new Promise((resolve, reject) => {
      // A peer's subscription can arrive before this node's own gossipsub stream to it is open (each side
      // opens its own): wait for both, or a publish right after finds no one to send to.
      let offOutbound: () => void = () => undefined
      const cleanup = (): void => {
        pubsub.removeEventListener('subscription-change', check)
        this.libp2p.removeEventListener('peer:identify', check)
        offOutbound()
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        cleanup()
        reject(new NodeAbortedError(`aborted waiting for ${n} peers on a topic`))
      }
      const check = (): void => {
        const peers = this.reachableTopicPeers(topic)
        if (peers.length >= n) {
          cleanup()
          resolve(peers)
        }
      }
      if (signal?.aborted === true) {
        reject(new NodeAbortedError(`aborted waiting for ${n} peers on a topic`))
        return
      }
      pubsub.addEventListener('subscription-change', check)
      this.libp2p.addEventListener('peer:identify', check)
      offOutbound = this.streams.onOutboundStream(check)
      signal?.addEventListener('abort', onAbort, { once: true })
      check()
    })
  }

  penalise(peerId: string): void {
    // A behaviour penalty, as gossipsub itself gives for broken promises: it lowers the peer's score
    // (squared past the threshold), so a peer that keeps misbehaving is pruned from meshes and graylisted.
    this.gossipsubScoring.score.addPenalty(peerId, 1, 'broken_promise')
    this.gossipsubScoring.score.scoreCache?.delete(peerId)
  }

  peerScore(peerId: string): number {
    // Gossipsub caches scores for a heartbeat; drop the entry so the answer reflects what just happened.
    const scorer = this.gossipsubScoring.score
    scorer.scoreCache?.delete(peerId)
    return scorer.score(peerId)
  }

  /** The gossipsub implementation exposes its scorer, though its interface type does not. */
  private get gossipsubScoring(): GossipsubScoring {
    return this.libp2p.services.pubsub as unknown as GossipsubScoring
  }

  private get routingTable(): EventTarget & { size: number } {
    return (this.libp2p.services.dht as unknown as { routingTable: EventTarget & { size: number } }).routingTable
  }

  dhtSize(): number {
    return this.routingTable.size
  }

  heldRecords(prefix: string): number {
    return this.store.dht.recordCount(prefix)
  }

  waitForDhtPeers(n: number, signal?: AbortSignal): Promise<void> {
    const table = this.routingTable
    return new Promise((resolve, reject) => {
      const cleanup = (): void => {
        table.removeEventListener('peer:add', check)
        signal?.removeEventListener('abort', onAbort)
      }
      const onAbort = (): void => {
        cleanup()
        reject(new NodeAbortedError(`aborted waiting for ${n} DHT peers`))
      }
      const check = (): void => {
        if (table.size >= n) {
          cleanup()
          resolve()
        }
      }
      if (signal?.aborted === true) {
        reject(new NodeAbortedError(`aborted waiting for ${n} DHT peers`))
        return
      }
      table.addEventListener('peer:add', check)
      signal?.addEventListener('abort', onAbort, { once: true })
      check()
    })
  }

  async putRecord(key: Uint8Array | string, value: Uint8Array, options: DhtOptions = {}): Promise<number> {
    this.assertStarted()
    const k = recordKeyBytes(key)
    try {
      await this.validateRecord(k, value)
    } catch (err) {
      if (err instanceof InvalidRecordKeyError) throw err
      throw new RecordRejectedError('value: refused by the local validator', { cause: err })
    }
    if (this.dhtSize() === 0) {
      // kad-dht would store it locally and then wait for peers until the time limit: store it and return.
      await this.datastore.put(storedRecordKey(k), new KadRecord(k, value, new Date()).serialize())
      log('putRecord: no DHT peers, record kept locally only')
      return 0
    }
    const accepted = new Set<string>()
    const signal = withTimeout(options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    await this.drainQuery(this.libp2p.services.dht.put(k, value, { signal }), options.signal, (ev) => {
      if (
        ev.name === 'PEER_RESPONSE' &&
        ev.messageName === 'PUT_VALUE' &&
        ev.record != null &&
        equalBytes(ev.record.value, value)
      ) {
        accepted.add(ev.from.toString())
      }
      return true
    })
    log('putRecord accepted by %d peers', accepted.size)
    return accepted.size
  }

  async getRecord(key: Uint8Array | string, options: GetRecordOptions = {}): Promise<Uint8Array | undefined> {
    this.assertStarted()
    const k = recordKeyBytes(key)
    const type = this.recordType(k)
    const found: Uint8Array[] = []
    // settleMs: the first record from the network that passes the check starts a timer that ends the query.
    const settle = new AbortController()
    let settling: ReturnType<typeof setTimeout> | undefined
    let done = false
    const add = (v: Uint8Array, fromNetwork: boolean): void => {
      if (!found.some((f) => equalBytes(f, v))) found.push(v)
      // Also a value equal to the local copy: the network has confirmed it.
      if (!fromNetwork || options.settleMs === undefined || settling !== undefined) return
      void this.validateRecord(k, v).then(
        () => {
          if (!done) settling ??= setTimeout(() => settle.abort(), options.settleMs)
        },
        () => undefined
      )
    }
    // The local copy first: kad-dht yields it only at the end of a network query that may time out.
    const local = await storedRecord(this.datastore, k)
    if (local != null) add(local, false)
    if (this.dhtSize() === 0) return this.bestRecord(type, k, found)
    const signal = withTimeout(AbortSignal.any([settle.signal, ...(options.signal ? [options.signal] : [])]), options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    // Records are collected from the raw responses (already checked by kad-dht) rather than from the
    // final VALUE event alone: kad-dht throws away its answer when sending a correction to a stale peer fails.
    try {
      await this.drainQuery(this.libp2p.services.dht.get(k, { signal }), options.signal, (ev) => {
        if (ev.name === 'PEER_RESPONSE' && ev.record != null && equalBytes(ev.record.key, k)) add(ev.record.value, true)
        if (ev.name === 'VALUE') add(ev.value, true)
        return !settle.signal.aborted
      })
    } finally {
      done = true
      clearTimeout(settling)
    }
    return this.bestRecord(type, k, found)
  }

  /** The best of `found` that passes the record check, by the type's selector. */
  private async bestRecord(type: RecordType, k: Uint8Array, found: Uint8Array[]): Promise<Uint8Array | undefined> {
    const valid: Uint8Array[] = []
    for (const v of found) {
      try {
        await this.validateRecord(k, v)
        valid.push(v)
      } catch (err) {
        log('getRecord: dropped an invalid record: %e', err)
      }
    }
    if (valid.length === 0) return undefined
    const i = valid.length === 1 ? 0 : type.select(k, valid)
    return new Uint8Array(valid[i] ?? valid[0])
  }

  async provide(key: Uint8Array, options: DhtOptions = {}): Promise<void> {
    this.assertStarted()
    const signal = withTimeout(options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    await this.drainQuery(this.libp2p.services.dht.provide(rendezvousCid(key), { signal }), options.signal, () => true)
  }

  async findProviders(key: Uint8Array, options: FindProvidersOptions = {}): Promise<string[]> {
    this.assertStarted()
    const limit = options.limit ?? 20
    const found = new Map<string, PeerInfo>()
    const signal = withTimeout(options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    await this.drainQuery(
      this.libp2p.services.dht.findProviders(rendezvousCid(key), { signal }),
      options.signal,
      (ev) => {
        if (ev.name === 'PROVIDER') {
          for (const p of ev.providers) {
            if (!p.id.equals(this.libp2p.peerId)) found.set(p.id.toString(), p)
          }
        }
        return found.size < limit
      }
    )
    const providers = [...found.values()].slice(0, limit)
    if (options.connect === false) return providers.map((p) => p.id.toString())
    const reached = await Promise.all(
      providers.map(async (p) => {
        try {
          if (p.multiaddrs.length > 0) await this.libp2p.peerStore.merge(p.id, { multiaddrs: p.multiaddrs })
          await this.libp2p.dial(p.id, { signal: options.signal })
          return p.id.toString()
        } catch (err) {
          log('findProviders: could not reach %p: %e', p.id, err)
          return undefined
        }
      })
    )
    return reached.filter((id): id is string => id != null)
  }

  async findPeer(peerId: string, options: DhtOptions = {}): Promise<string[]> {
    this.assertStarted()
    const id = this.parsePeerId(peerId)
    const signal = withTimeout(options.signal, options.timeoutMs ?? DEFAULT_TIMEOUT_MS)
    try {
      const info = await this.libp2p.peerRouting.findPeer(id, { signal })
      return info.multiaddrs.map((ma) => ma.toString())
    } catch (err) {
      if (options.signal?.aborted === true) throw new NodeAbortedError('findPeer aborted', { cause: err })
      log('findPeer %s: %e', peerId, err)
      return []
    }
  }

  /** Runs a DHT query to its end (or until `onEvent` returns false); a timeout ends it quietly. */
  private async drainQuery(
    query: AsyncIterable<QueryEvent>,
    callerSignal: AbortSignal | undefined,
    onEvent: (ev: QueryEvent) => boolean
  ): Promise<void> {
    try {
      for await (const ev of query) {
        if (!onEvent(ev)) break
      }
    } catch (err) {
      if (callerSignal?.aborted === true) throw new NodeAbortedError('DHT operation aborted', { cause: err })
      // Time limit reached, or kad-dht gave up (e.g. a failed correction): keep what was collected.
      log('DHT query ended early: %e', err)
    }
  }

  private recordType(key: Uint8Array): RecordType {
    const prefix = recordPrefix(key)
    const type = this.records[prefix]
    if (type == null) throw new InvalidRecordKeyError(`key: no record type registered for prefix ${prefix}`)
    return type
  }

  private async validateRecord(key: Uint8Array, value: Uint8Array): Promise<void> {
    await checkRecord(this.records, this.datastore, this.maxRecordSize, key, value)
  }

  private async validateMessage(topic: string, data: Uint8Array): Promise<TopicValidatorResult> {
    if (data.length > this.maxMessageSize) return TopicValidatorResult.Reject
    const validator = this.topicValidator
    if (validator == null) return TopicValidatorResult.Accept
    try {
      const verdict = await validator(topic, data)
      if (verdict === 'accept') return TopicValidatorResult.Accept
      if (verdict === 'reject') return TopicValidatorResult.Reject
      return TopicValidatorResult.Ignore
    } catch (err) {
      // A throwing validator is a bug on this side, not proof of a bad sender: drop without penalty.
      log.error('topic validator threw: %e', err)
      return TopicValidatorResult.Ignore
    }
  }

  private parsePeerId(peerId: string): PeerId {
    try {
      return peerIdFromString(peerId)
    } catch (err) {
      throw new InvalidAddressError(`peerId: not a peer id: ${peerId}`, { cause: err })
    }
  }

  private assertStarted(): void {
    if (!this.running) throw new NodeNotStartedError('node is not started')
  }

  private emit<K extends keyof NodeEvents>(event: K, detail: NodeEvents[K]): void {
    const set = this.listeners.get(event)
    if (set == null) return
    for (const listener of [...set]) {
      try {
        ;(listener as (d: NodeEvents[K]) => void)(detail)
      } catch (err) {
        log.error('listener for %s threw: %e', event, err)
      }
    }
  }
}

/**
 * Builds a sotto node (not started: call `start()`). The node key comes from `init.peerKey` or is new;
 * with `peerStorePath` the peer store persists in LevelDB there; DHT records and provider records are kept in
 * memory only, bounded (PROTOCOL.md 13.10).
 */
export async function createSottoNode(init: SottoNodeInit = {}): Promise<SottoNode> {
  const privateKey = init.peerKey != null ? decodePeerKey(init.peerKey) : await generateKeyPair('Ed25519')
  const maxMessageSize = init.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE
  const maxRecordSize = init.maxRecordSize ?? DEFAULT_MAX_RECORD_SIZE

  const store = await openNodeDatastore(init.peerStorePath, {
    maxRecordsPerNamespace: init.maxRecordsPerNamespace ?? MAX_RECORDS_PER_NAMESPACE,
    maxProviderRecords: init.maxProviderRecords ?? MAX_PROVIDER_RECORDS
  })
  try {
    return await buildNode(init, privateKey, store, maxMessageSize, maxRecordSize)
  } catch (err) {
    await store.peers?.level.close().catch(() => undefined)
    throw err
  }
}

async function buildNode(
  init: SottoNodeInit,
  privateKey: PrivateKey,
  store: NodeDatastore,
  maxMessageSize: number,
  maxRecordSize: number
): Promise<SottoNode> {
  const datastore = store.datastore
  const types = { ...(init.records ?? {}) }
  const validators: Record<string, (key: Uint8Array, value: Uint8Array) => Promise<void>> = {}
  const selectors: Record<string, (key: Uint8Array, values: Uint8Array[]) => number> = {}
  const check = (key: Uint8Array, value: Uint8Array): Promise<void> => checkRecord(types, datastore, maxRecordSize, key, value)
  for (const [prefix, type] of Object.entries(types)) {
    validators[prefix] = check
    selectors[prefix] = (key, values) => type.select(key, values)
  }
  // kad-dht adds a validator of its own for `/pk/` records (public keys) unless one is given: sotto has no
  // such records, so the record check refuses them like any other prefix without a record type.
  for (const builtin of KAD_BUILTIN_RECORD_PREFIXES) validators[builtin] ??= check

  const peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']> = []
  if (init.bootstrap != null && init.bootstrap.length > 0) {
    peerDiscovery.push(bootstrap({ list: init.bootstrap, timeout: init.bootstrapDelayMs ?? 100 }))
  }
  if (init.mdns === true) peerDiscovery.push(mdns({ serviceTag: '_sotto._udp.local' }))

  const libp2p = await createLibp2p({
    start: false,
    privateKey,
    datastore,
    addresses: { listen: init.listen ?? ['/ip4/0.0.0.0/tcp/0'] },
    // libp2p refuses more than 5 inbound connections a second from one host. Every node on this machine
    // (a relay, a second user, the tests' and the demo's nodes) shares 127.0.0.1, so a burst of local dials
    // was refused and those nodes stayed cut off. Loopback is exempt; other hosts keep the limits.
    connectionManager: { allow: ['/ip4/127.0.0.0/ipcidr/8', '/ip6/::1/ipcidr/128'] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    peerDiscovery,
    services: {
      identify: identify(),
      // libp2p's connection monitor pings every connection every 10 s on this protocol and aborts the
      // connection when the ping fails. With ping's default of one outbound stream per connection, a ping
      // stream still closing when the next round starts (the answering side holds it up to its 10 s timeout
      // on a busy event loop) made the next ping fail, and a healthy connection was aborted, redialled,
      // re-identified and re-synced: dozens of times a minute with 10 busy nodes. Two allow that overlap;
      // a ping that really fails (times out) still aborts the connection.
      ping: ping({ maxOutboundStreams: 2 }),
      dht: kadDHT({
        protocol: init.dhtProtocol ?? DHT_PROTOCOL,
        clientMode: false,
        peerInfoMapper: passthroughMapper,
        validators,
        selectors
      }),
      pubsub: gossipsub({
        globalSignaturePolicy: StrictNoSign,
        msgIdFn: (msg) => messageId(msg.topic, msg.data),
        msgIdToStrFn: (id) => toHex(id),
        floodPublish: init.floodPublish ?? false,
        emitSelf: false,
        // One RPC frame may carry several messages plus control data; each message is checked on its own.
        maxInboundDataLength: Math.max(1024 * 1024, 4 * maxMessageSize),
        scoreParams: createPeerScoreParams({
          IPColocationFactorWeight: init.ipColocationFactorWeight ?? -5,
          IPColocationFactorWhitelist: new Set(LOOPBACK_IPS)
        })
      })
    }
  })
  const streams = keepGossipsubStreams(libp2p)
  limitInboundDhtRequests(libp2p.services.dht, {
    PUT_VALUE: new PeerQuota(init.dhtPutsPerPeer ?? DHT_PUTS_PER_PEER, DHT_QUOTA_WINDOW_MS),
    ADD_PROVIDER: new PeerQuota(init.dhtProvidesPerPeer ?? DHT_PROVIDES_PER_PEER, DHT_QUOTA_WINDOW_MS)
  })
  return new SottoNodeImpl(libp2p as SottoLibp2p, privateKey, store, types, streams, init)
}

/** The plain Uint8Array views handed out for gossipsub message data (often a Buffer), by that data. */
const plainViews = new WeakMap<Uint8Array, Uint8Array>()

/**
 * A message's data as a plain Uint8Array (a view, no copy): the same object for the topic validator and for
 * the 'message' listeners, so the app can keep what its validator decoded for the listener.
 */
function plainBytes(data: Uint8Array): Uint8Array {
  if (Object.getPrototypeOf(data) === Uint8Array.prototype) return data
  let view = plainViews.get(data)
  if (view === undefined) {
    view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    plainViews.set(data, view)
  }
  return view
}

/** Record prefixes kad-dht validates by itself when no validator is given for them. */
const KAD_BUILTIN_RECORD_PREFIXES = ['pk']

/** A kad-dht request handler, as kad-dht 16 keeps them in `rpc.handlers` by message type name. */
interface KadRequestHandler {
  handle(peerId: PeerId, msg: unknown): Promise<unknown>
}

/**
 * Puts a per-peer quota in front of kad-dht's handlers of the given request types: a request past its
 * sender's quota fails before it is decoded further or validated, and kad-dht then aborts the stream (a
 * `PUT_VALUE` sender sees no echo, so the record counts as not stored). kad-dht has no hook for this, so the
 * handlers are wrapped where kad-dht 16.4 keeps them; if that shape changes, building the node fails rather
 * than running without the quota.
 */
function limitInboundDhtRequests(dht: KadDHT, quotas: Record<string, PeerQuota>): void {
  const handlers = (dht as unknown as { rpc?: { handlers?: Record<string, KadRequestHandler | undefined> } }).rpc?.handlers
  for (const [type, quota] of Object.entries(quotas)) {
    const handler = handlers?.[type]
    if (handler == null || typeof handler.handle !== 'function') {
      throw new Error(`kad-dht: no ${type} request handler found to put the per-peer quota on`)
    }
    const handle = handler.handle.bind(handler)
    handler.handle = async (peerId, msg) => {
      if (!quota.take(peerId.toString())) {
        log('refused %s from %p: over its quota of %d per %d ms', type, peerId, quota.limit, quota.windowMs)
        throw new RecordRejectedError(`${type}: peer over its quota of ${quota.limit} requests per ${quota.windowMs} ms`)
      }
      return handle(peerId, msg)
    }
  }
}

/** The libp2p instance of a node made by `createSottoNode` (for node-layer modules only). */
export function libp2pOfNode(node: SottoNode): SottoLibp2p {
  if (!(node instanceof SottoNodeImpl)) throw new TypeError('node: not made by createSottoNode')
  return node.libp2p
}
