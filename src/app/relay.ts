/**
 * The always-on relay (`sotto relay`, docs/PROTOCOL.md §15.10): a node that keeps the ciphertext
 * envelopes of the topics it serves and hands them to members by sync. It holds no identity and no topic
 * key, so it can read nothing; it checks what it can without secrets (§14.2: the kind of envelope each
 * topic carries, timestamps, and on community topics the router check of §8.5 under the topic id), keeps each
 * topic within count, size and age caps, and serves sync (§15.7) to anyone who asks for a topic it holds.
 *
 * Topics come from the operator (`serve`: community topic ids or full topic names) and, when the relay is
 * `open` or the requester is in `allow`, from users' nodes over `/sotto/relay/1.0.0`: each such topic is
 * leased to the peers that asked for it, renewed by every request, and dropped (with its envelopes) when
 * every lease has expired.
 *
 * At rest: the relay's store is the same sealed LevelDB store as a user's (§10). Its key is wrapped under
 * the operator's passphrase when one is given, else under a random 256-bit secret kept in
 * `<home>/relay.key` (mode 0600). Either way the data directory holds no plaintext: envelopes are
 * end-to-end ciphertext, and they, the topic names and the leases are sealed again under the store key.
 */
import { constants } from 'node:fs'
import { mkdir, open, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { logger } from './log.js'
import type { Argon2idParams } from '../crypto/atrest.js'
import { equalBytes, fromHex, randomBytes, toHex, utf8 } from '../crypto/primitives.js'
import { createSottoNode, generatePeerKey, type SottoNode } from '../node/index.js'
import { RelayTopicStatus, type RelayServer, startRelayServer } from '../node/relay-protocol.js'
import { createSyncService, type EnvelopeVerdict, envelopeStoreSource, type SyncService } from '../node/sync.js'
import {
  communityTopic,
  envelopeId,
  ProtocolError,
  parseTopic,
  validateTopicEnvelope
} from '../protocol/index.js'
import {
  DEFAULT_ARGON2,
  openLevelStore,
  type Store,
  StoreLockedError,
  StoreNotFoundError,
  type StoreObject,
  storeDirectory,
  WrongPassphraseError
} from '../store/index.js'
import { AppError, DataDirLockedError, WrongPassphraseAppError } from './errors.js'
import { sottoRecordTypes } from './dht-records.js'

const log = logger('sotto:relay')

/** Caps of a relay. Count and size caps may be exceeded by at most 1/16 before the topic is pruned back. */
export interface RelayQuotas {
  /** Envelopes kept per topic, newest kept (default 100,000). */
  maxEnvelopesPerTopic: number
  /** Stored bytes per topic, newest kept (default 256 MiB). */
  maxBytesPerTopic: number
  /** Envelopes older than this (by their timestamp) are neither stored nor kept, ms (default 30 days). */
  maxAgeMs: number
  /** Topics served in all, given and requested (default 4,096). */
  maxTopics: number
  /** Topics one peer may have leased at once (default 64). */
  maxTopicsPerPeer: number
  /** Requests one peer may make per minute (default 12). */
  maxRequestsPerMinute: number
  /** How long a requested topic stays served after its last request, ms (default 30 days). */
  leaseMs: number
  /** Period of the retention pass (age caps, expired leases), ms (default 10 minutes). */
  pruneIntervalMs: number
}

/** The default quotas. */
export const DEFAULT_RELAY_QUOTAS: Readonly<RelayQuotas> = Object.freeze({
  maxEnvelopesPerTopic: 100_000,
  maxBytesPerTopic: 256 * 1024 * 1024,
  maxAgeMs: 30 * 24 * 60 * 60 * 1000,
  maxTopics: 4096,
  maxTopicsPerPeer: 64,
  maxRequestsPerMinute: 12,
  leaseMs: 30 * 24 * 60 * 60 * 1000,
  pruneIntervalMs: 10 * 60 * 1000
})

/** Options of `runRelay`. */
export interface RelayOptions {
  /** Data directory (created if missing). */
  home: string
  /** Passphrase of the store; without one, a random key in `<home>/relay.key` (see the module comment). */
  passphrase?: string
  /** libp2p listen multiaddrs; default `/ip4/0.0.0.0/tcp/0`. */
  listen?: string[]
  /** Bootstrap multiaddrs (with /p2p/ peer id). */
  bootstrap?: string[]
  /** mDNS discovery on the LAN; default false (a relay usually runs on a server). */
  mdns?: boolean
  /** Topics to serve: community topic ids (64 hex digits, as `sotto community list` shows) or topic names. */
  serve?: string[]
  /** Accept `/sotto/relay/1.0.0` requests from any peer (default false: only from `allow`). */
  open?: boolean
  /** Peer ids whose requests are accepted even when the relay is not open. */
  allow?: string[]
  quotas?: Partial<RelayQuotas>
  /** Argon2id limits when the store is created under a passphrase (default DEFAULT_ARGON2). */
  argon2?: Argon2idParams
  /** Background sync period with connected peers, ms (default 60,000). */
  syncIntervalMs?: number
}

/** One served topic, as reported by `status()`. */
export interface RelayTopicView {
  topic: string
  /** Envelopes held. */
  envelopes: number
  /** True when the operator named it (`serve`); false when it is only requested. */
  configured: boolean
  /** Peers holding an unexpired lease on it. */
  leases: number
}

/** What a running relay reports. */
export interface RelayStatus {
  peerId: string
  addresses: string[]
  peers: number
  open: boolean
  topics: RelayTopicView[]
  /** Envelopes stored since start (gossip and sync), and envelopes refused as invalid. */
  stored: number
  invalid: number
}

/** A running relay. */
export interface RelayHandle {
  readonly peerId: string
  readonly addresses: string[]
  /** The node underneath (tests, diagnostics). */
  readonly node: SottoNode
  status(): Promise<RelayStatus>
  stop(): Promise<void>
}

/** A relay option that cannot be used (a topic that is neither a topic id nor a sotto topic name). */
export class RelayConfigError extends AppError {
  constructor(message: string) {
    super('BAD_RELAY_OPTION', message)
  }
}

/** The data directory holds a user's identity: a relay must not share it. */
export class NotARelayHomeError extends AppError {
  constructor(home: string) {
    super('NOT_A_RELAY_HOME', `${home} holds a sotto identity; run the relay in its own data directory`)
  }
}

/** File of the random store secret when no passphrase is given. */
export const RELAY_KEY_FILE = 'relay.key'
/**
 * Argon2id limits for a store wrapped under the random 256-bit secret of RELAY_KEY_FILE: stretching
 * protects guessable passphrases; a uniformly random 256-bit secret needs none, so the minimum is used.
 */
const RANDOM_SECRET_ARGON2: Argon2idParams = Object.freeze({ opsLimit: 1, memLimit: 8192 })

/** A topic given to `serve`: a community topic id (64 lowercase or upper-case hex digits) or a topic name. */
export function relayTopicName(topicIdOrName: string): string {
  const s = topicIdOrName.trim()
  if (/^[0-9a-fA-F]{64}$/.test(s)) return communityTopic(fromHex(s.toLowerCase()))
  try {
    parseTopic(s)
    return s
  } catch {
    throw new RelayConfigError(`not a topic id or sotto topic name: ${topicIdOrName}`)
  }
}

interface TopicState {
  key: Uint8Array
  count: number
  addedSincePrune: number
  bytesSincePrune: number
  pruning: Promise<void> | undefined
}

/** Starts a relay in `options.home`; resolves once it listens. */
export async function runRelay(options: RelayOptions): Promise<RelayHandle> {
  const quotas: RelayQuotas = { ...DEFAULT_RELAY_QUOTAS, ...options.quotas }
  const configured = new Set((options.serve ?? []).map(relayTopicName))
  await mkdir(options.home, { recursive: true, mode: 0o700 })
  const store = await openRelayStore(options)
  let node: SottoNode | undefined
  try {
    if ((await store.getIdentity()) !== undefined) throw new NotARelayHomeError(options.home)
    let peerKey = await store.getPeerKey()
    if (peerKey === undefined) {
      peerKey = await generatePeerKey()
      await store.setPeerKey(peerKey)
    }
    node = await createSottoNode({
      peerKey,
      listen: options.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      bootstrap: options.bootstrap ?? [],
      mdns: options.mdns ?? false,
      peerStorePath: join(options.home, 'peers'),
      // Users find each other's prekey bundles and peer records through the DHT; an always-on relay is a good home for them.
      records: sottoRecordTypes()
    })
    await node.start()
    const relay = new Relay(store, node, quotas, configured, options)
    await relay.start()
    return relay
  } catch (err) {
    await node?.stop().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }
}

async function openRelayStore(options: RelayOptions): Promise<Store> {
  const dir = storeDirectory(options.home)
  let passphrase = options.passphrase
  let argon2 = options.argon2 ?? DEFAULT_ARGON2
  if (passphrase === undefined || passphrase === '') {
    passphrase = await relaySecret(options.home)
    argon2 = RANDOM_SECRET_ARGON2
  }
  try {
    return await openLevelStore(dir, passphrase, { create: true, argon2 })
  } catch (err) {
    if (err instanceof WrongPassphraseError) throw new WrongPassphraseAppError()
    if (err instanceof StoreLockedError) throw new DataDirLockedError(options.home)
    if (err instanceof StoreNotFoundError) throw new RelayConfigError(`cannot create a store in ${dir}`)
    throw err
  }
}

/** The random secret of a passphrase-less relay: read, or created once (exclusively, mode 0600). */
async function relaySecret(home: string): Promise<string> {
  const file = join(home, RELAY_KEY_FILE)
  try {
    const text = (await readFile(file, 'utf8')).trim()
    if (!/^[0-9a-f]{64}$/.test(text)) throw new RelayConfigError(`${file} is not a relay key`)
    return text
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const secret = toHex(randomBytes(32))
  const fh = await open(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    await fh.writeFile(`${secret}\n`)
    await fh.sync()
  } finally {
    await fh.close()
  }
  return secret
}

/** Leases: topic -> peer -> expiry (ms). */
type Leases = Map<string, Map<string, number>>

class Relay implements RelayHandle {
  readonly #store: Store
  readonly node: SottoNode
  readonly #quotas: RelayQuotas
  readonly #configured: Set<string>
  readonly #open: boolean
  readonly #allow: Set<string>
  readonly #syncIntervalMs: number
  readonly #served = new Map<string, TopicState>()
  readonly #leases: Leases = new Map()
  readonly #requests = new Map<string, number[]>()
  readonly #pending = new Set<Promise<unknown>>()
  readonly #offNode: Array<() => void> = []
  #sync: SyncService | undefined
  #server: RelayServer | undefined
  #timer: NodeJS.Timeout | undefined
  #syncTimer: NodeJS.Timeout | undefined
  /** Peers with a relay-initiated sync queued or running (one at a time per peer). */
  readonly #syncing = new Set<string>()
  #stopped = false
  #stored = 0
  #invalid = 0

  constructor(store: Store, node: SottoNode, quotas: RelayQuotas, configured: Set<string>, options: RelayOptions) {
    this.#store = store
    this.node = node
    this.#quotas = quotas
    this.#configured = configured
    this.#open = options.open === true
    this.#allow = new Set(options.allow ?? [])
    this.#syncIntervalMs = options.syncIntervalMs ?? 60_000
  }

  get peerId(): string {
    return this.node.peerId
  }

  get addresses(): string[] {
    return this.node.addresses()
  }

  async start(): Promise<void> {
    const settings = (await this.#store.getSettings()) ?? {}
    this.#loadLeases(settings['leases'])
    if (settings['relay'] !== true) await this.#saveLeases()
    this.node.setTopicValidator((topic, data) => this.#validate(topic, data))
    this.#offNode.push(this.node.on('message', (m) => this.#track(this.#accept(m.topic, m.data))))
    const now = Date.now()
    for (const topic of this.#configured) await this.#serve(topic)
    for (const [topic, peers] of this.#leases) if ([...peers.values()].some((t) => t > now)) await this.#serve(topic)
    await this.#expire()
    this.#sync = createSyncService({
      node: this.node,
      topics: () => [...this.#served.keys()],
      source: (topic) => envelopeStoreSource(this.#store, utf8(topic)),
      getEnvelope: async (topic, id) => (this.#served.has(topic) ? (await this.#store.getEnvelope(utf8(topic), id))?.bytes : undefined),
      onEnvelope: (topic, id, bytes) => this.#accept(topic, bytes, id),
      // A relay may serve thousands of topics: it starts sessions only for the topics each peer is
      // subscribed to (below), never for all of its topics with every peer.
      intervalMs: 0,
      syncOnConnect: false,
      onMisbehaviour: (peer) => this.node.penalise(peer)
    })
    await this.#sync.start()
    this.#offNode.push(
      this.node.on('subscription-change', (e) => {
        if (e.subscribed && this.#served.has(e.topic)) this.#syncPeer(e.peerId)
      })
    )
    if (this.#syncIntervalMs > 0) {
      this.#syncTimer = setInterval(() => {
        for (const peer of this.node.peers()) this.#syncPeer(peer)
      }, this.#syncIntervalMs)
      this.#syncTimer.unref()
    }
    this.#server = await startRelayServer({ node: this.node, onRequest: (peer, topics) => this.#onRequest(peer, topics) })
    this.#timer = setInterval(() => this.#track(this.#retention()), this.#quotas.pruneIntervalMs)
    this.#timer.unref()
    log('relay %s serving %d topics on %s', this.peerId, this.#served.size, this.addresses.join(' '))
  }

  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    if (this.#timer !== undefined) clearInterval(this.#timer)
    if (this.#syncTimer !== undefined) clearInterval(this.#syncTimer)
    for (const off of this.#offNode) off()
    await this.#server?.stop()
    await this.#sync?.stop().catch(() => undefined)
    await this.node.stop().catch(() => undefined)
    await Promise.allSettled([...this.#pending])
    await Promise.allSettled([...this.#served.values()].map((s) => s.pruning))
    await this.#store.close()
  }

  async status(): Promise<RelayStatus> {
    const now = Date.now()
    return {
      peerId: this.peerId,
      addresses: this.addresses,
      peers: this.node.peers().length,
      open: this.#open,
      topics: [...this.#served.entries()].map(([topic, s]) => ({
        topic,
        envelopes: s.count,
        configured: this.#configured.has(topic),
        leases: [...(this.#leases.get(topic)?.values() ?? [])].filter((t) => t > now).length
      })),
      stored: this.#stored,
      invalid: this.#invalid
    }
  }

  // --- envelopes -----------------------------------------------------------------------------------

  #validate(topic: string, data: Uint8Array): 'accept' | 'reject' | 'ignore' {
    if (!this.#served.has(topic)) return 'ignore'
    try {
      validateTopicEnvelope(topic, data)
      return 'accept'
    } catch (err) {
      if (err instanceof ProtocolError) return 'reject'
      throw err
    }
  }

  /** Stores a valid envelope of a served topic within its caps (from gossip, or from sync with `id`). */
  async #accept(topic: string, bytes: Uint8Array, id?: Uint8Array): Promise<EnvelopeVerdict> {
    const state = this.#served.get(topic)
    if (this.#stopped || state === undefined) return false
    let timestamp: number
    try {
      timestamp = validateTopicEnvelope(topic, bytes).timestamp
    } catch (err) {
      if (!(err instanceof ProtocolError)) throw err
      this.#invalid++
      return 'invalid'
    }
    const computed = envelopeId(bytes)
    if (id !== undefined && !equalBytes(id, computed)) {
      this.#invalid++
      return 'invalid'
    }
    if (timestamp < Date.now() - this.#quotas.maxAgeMs) return false
    const added = await this.#store.putEnvelope(state.key, computed, timestamp, bytes)
    if (!added) return false
    this.#stored++
    state.count++
    state.addedSincePrune++
    state.bytesSincePrune += bytes.length
    const q = this.#quotas
    const slack = (n: number) => Math.max(1, Math.floor(n / 16))
    if (state.count > q.maxEnvelopesPerTopic + slack(q.maxEnvelopesPerTopic) || state.bytesSincePrune > slack(q.maxBytesPerTopic)) {
      this.#pruneTopic(topic, state)
    }
    return true
  }

  /** Prunes one topic to its caps (one pass at a time per topic), then recounts it. */
  #pruneTopic(topic: string, state: TopicState, limits?: { maxCount?: number }): Promise<void> {
    if (state.pruning !== undefined) return state.pruning
    const q = this.#quotas
    state.pruning = (async () => {
      try {
        state.addedSincePrune = 0
        state.bytesSincePrune = 0
        await this.#store.prune({
          envelopes: { topic: state.key, maxCount: limits?.maxCount ?? q.maxEnvelopesPerTopic, maxBytes: q.maxBytesPerTopic, maxAgeMs: q.maxAgeMs }
        })
        state.count = await this.#store.countEnvelopes(state.key)
      } catch (err) {
        if (!this.#stopped) log.error('prune of %s failed: %s', topic, err)
      } finally {
        state.pruning = undefined
      }
    })()
    return state.pruning
  }

  /** Syncs with a peer the served topics it is subscribed to, unless such a sync is already under way. */
  #syncPeer(peer: string): void {
    if (this.#stopped || this.#syncing.has(peer)) return
    this.#syncing.add(peer)
    // Subscriptions arrive one by one after a connection opens: wait a moment to take them together.
    const run = new Promise((resolve) => setTimeout(resolve, 100).unref())
      .then(() => {
        const topics = [...this.#served.keys()].filter((t) => this.node.topicPeers(t).includes(peer))
        return topics.length > 0 && !this.#stopped ? this.#sync?.syncWith(peer, topics) : undefined
      })
      .finally(() => this.#syncing.delete(peer))
    this.#track(run)
  }

  #track(p: Promise<unknown>): void {
    const t = p.catch((err) => {
      if (!this.#stopped) log.error('relay task failed: %s', err)
    })
    this.#pending.add(t)
    void t.finally(() => this.#pending.delete(t))
  }

  // --- topics and leases ---------------------------------------------------------------------------

  async #serve(topic: string): Promise<void> {
    if (this.#served.has(topic)) return
    const key = utf8(topic)
    const state: TopicState = { key, count: 0, addedSincePrune: 0, bytesSincePrune: 0, pruning: undefined }
    this.#served.set(topic, state)
    this.node.subscribe(topic)
    await this.#pruneTopic(topic, state)
  }

  async #unserve(topic: string): Promise<void> {
    const state = this.#served.get(topic)
    if (state === undefined || this.#configured.has(topic)) return
    this.#served.delete(topic)
    this.node.unsubscribe(topic)
    await state.pruning
    // Retention: what nobody asks the relay to keep any more is deleted.
    await this.#store.prune({ envelopes: { topic: state.key, maxCount: 0 } })
  }

  #onRequest(peer: string, topics: string[]): Promise<RelayTopicStatus[]> {
    const run = (async () => {
      const now = Date.now()
      const recent = (this.#requests.get(peer) ?? []).filter((t) => t > now - 60_000)
      recent.push(now)
      this.#requests.set(peer, recent)
      if (this.#requests.size > 10_000) this.#requests.clear()
      if (recent.length > this.#quotas.maxRequestsPerMinute) return topics.map(() => RelayTopicStatus.OverQuota)
      const allowed = this.#open || this.#allow.has(peer)
      const statuses: RelayTopicStatus[] = []
      let changed = false
      for (const topic of topics) {
        try {
          parseTopic(topic)
        } catch {
          statuses.push(RelayTopicStatus.Refused)
          continue
        }
        if (this.#configured.has(topic)) {
          statuses.push(RelayTopicStatus.Served)
          continue
        }
        if (!allowed) {
          statuses.push(RelayTopicStatus.NotAllowed)
          continue
        }
        const peers = this.#leases.get(topic)
        if (peers?.has(peer) !== true) {
          if (this.#leasesOf(peer, now) >= this.#quotas.maxTopicsPerPeer) {
            statuses.push(RelayTopicStatus.OverQuota)
            continue
          }
          if (!this.#served.has(topic) && this.#served.size >= this.#quotas.maxTopics) {
            statuses.push(RelayTopicStatus.OverQuota)
            continue
          }
        }
        let set = peers
        if (set === undefined) this.#leases.set(topic, (set = new Map()))
        set.set(peer, now + this.#quotas.leaseMs)
        changed = true
        await this.#serve(topic)
        statuses.push(RelayTopicStatus.Served)
      }
      if (changed) await this.#saveLeases()
      log('request from %s: %d topics, %o', peer, topics.length, statuses)
      return statuses
    })()
    this.#track(run)
    return run
  }

  #leasesOf(peer: string, now: number): number {
    let n = 0
    for (const peers of this.#leases.values()) if ((peers.get(peer) ?? 0) > now) n++
    return n
  }

  /** Drops expired leases, and stops serving (and deletes) topics nobody holds a lease on. */
  async #expire(): Promise<void> {
    const now = Date.now()
    let changed = false
    for (const [topic, peers] of this.#leases) {
      for (const [peer, until] of peers) {
        if (until <= now) {
          peers.delete(peer)
          changed = true
        }
      }
      if (peers.size === 0) {
        this.#leases.delete(topic)
        await this.#unserve(topic)
      }
    }
    if (changed) await this.#saveLeases()
  }

  async #retention(): Promise<void> {
    await this.#expire()
    for (const [topic, state] of this.#served) {
      if (this.#stopped) return
      await this.#pruneTopic(topic, state)
    }
  }

  #loadLeases(value: unknown): void {
    if (value === null || typeof value !== 'object') return
    for (const [topic, peers] of Object.entries(value as Record<string, unknown>)) {
      if (peers === null || typeof peers !== 'object') continue
      const m = new Map<string, number>()
      for (const [peer, until] of Object.entries(peers as Record<string, unknown>)) if (typeof until === 'number') m.set(peer, until)
      if (m.size > 0) this.#leases.set(topic, m)
    }
  }

  async #saveLeases(): Promise<void> {
    const leases: StoreObject = {}
    for (const [topic, peers] of this.#leases) leases[topic] = Object.fromEntries(peers)
    await this.#store.setSettings({ relay: true, leases })
  }
}
