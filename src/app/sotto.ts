/**
 * The use cases of one user's node: contacts, 1:1 conversations, communities, the outbox, history.
 * Composes the crypto layer (sessions, community keys), the protocol layer (envelopes, content, invites),
 * the store (everything persisted, in atomic batches) and the node (libp2p). Holds no wire details itself.
 *
 * Every state change of a conversation runs through one serial queue, so that two envelopes that arrive
 * together never both start from the same ratchet state. A message is stored, with the new session or
 * chain state and its seen id, in one batch before it is acknowledged or shown.
 */

import {
  CommunityEpoch,
  CommunityReceiverState,
  openCommunityMessage,
  SenderChainState, sealCommunityMessage 
} from '../crypto/community.js'
import {
  type ControlStatement,
  createAdminAddStatement,
  createRotationStatement,
  decodeControlStatement,
  encodeControlStatement,
  encodeEpochKeyGrant,
  openEpochKeyGrant,
  verifyControlStatement
} from '../crypto/community-control.js'
import { CryptoError, DuplicateMessageError } from '../crypto/errors.js'
import type { IdentityKeyPair } from '../crypto/identity.js'
import { pad, unpad } from '../crypto/padding.js'
import { type LocalPrekeys, PrekeyBundle } from '../crypto/prekeys.js'
import { blake2b, equalBytes, fromHex, randomBytes, toHex, utf8 } from '../crypto/primitives.js'
import { RatchetSession } from '../crypto/ratchet.js'
import { formatSafetyNumber, ownFingerprintDigits, safetyNumber } from '../crypto/safety.js'
import { initiateSession, openInitialHeader, respondSession } from '../crypto/x3dh.js'
import type { SottoNode } from '../node/index.js'
import { multiaddrFromBytes, multiaddrToBytes, peerIdFromBytes, peerIdToBytes } from '../node/index.js'
import { RelayTopicStatus, requestRelayService } from '../node/relay-protocol.js'
import { createSyncService, envelopeStoreSource, type SyncService } from '../node/sync.js'
import {
  type Content,
  coarseTimestamp,
  communityTopic,
  decodeContent,
  decodeEnvelope,
  decodePeerRecord,
  decodePrekeyRecord,
  directTopic,
  type Envelope,
  encodeContent,
  encodeEnvelope,
  encodePeerRecord,
  encodePrekeyRecord,
  envelopeId,
  formatCommunityInvite,
  formatContactInvite,
  inboxTopic,
  MAX_TEXT_BYTES,
  MESSAGE_ID_BYTES,
  ProtocolError,
  parseInvite,
  peerRecordKey,
  prekeyRecordKey,
  rendezvousKey,
  validateTopicEnvelope
} from '../protocol/index.js'
import type { CommunityRecord, ContactRecord, MemberRecord, MessageRecord, OutboxEntry, Store, StoreBatch, StoreObject } from '../store/index.js'
import type {
  CommunityView,
  ContactView,
  IdView,
  MemberView,
  MessageView,
  SottoApp,
  StatusView,
  SyncProgress,
  VerifyView
} from './api.js'
import {
  BadArgumentError,
  BadInviteError,
  BadMessageError,
  BadNameError,
  BadRelayAddressError,
  IdentityChangedError,
  NotAllowedError,
  UnknownCommunityError,
  UnknownContactError
} from './errors.js'
import { logger } from './log.js'
import { byDisplayOrder, checkName, communityView, contactView, memberView, messageView, shortFingerprint } from './views.js'

const log = logger('sotto:app')

/** Where an incoming envelope on a topic belongs. */
type Route =
  | { kind: 'inbox' }
  | { kind: 'direct'; contactId: string }
  | {
      kind: 'community'
      communityId: string
      epoch: number
      /** That epoch, opened (its topic id is the one the gossip validator checks envelopes under, §8.5). */
      keys: CommunityEpoch
    }

/**
 * Community messages received together and committed in one batch (Sotto#commitGroup): the batch, each
 * chain's latest receiver state, each member record as last seen (and whether it must be written), the
 * display names of the communities, and whether a control statement asks for a commit at once.
 */
interface CommunityGroup {
  b: StoreBatch
  states: Map<string, ReceiverStateInGroup>
  members: Map<string, { communityId: string; record: MemberRecord; write: boolean }>
  names: Map<string, string>
  flushNow: boolean
}

/**
 * A community epoch's receiver state advanced by the messages of a group, and what to write of it: the chain
 * entries written or deleted since the state committed last, whether its skipped keys changed, and `whole` when it
 * was read from a whole-state record (written before states were stored in parts), which the commit replaces.
 */
interface ReceiverStateInGroup {
  communityId: string
  epoch: number
  states: CommunityReceiverState
  chains: Map<string, 'write' | 'delete'>
  skipped: boolean
  whole: boolean
}

/** Chain id of this node's sender chain in an epoch (§10.6). */
const senderChain = (epoch: number): string => `send:${epoch}`
/** Chain id of an epoch's whole receiver state (before states were stored in parts; read, then replaced). */
const wholeReceiverChain = (epoch: number): string => `recv:${epoch}`
/** Chain id of one sender chain's entry in an epoch's receiver state (§10.6). */
const receiverChainPart = (epoch: number, senderKeyHex: string): string => `recv:${epoch}:${senderKeyHex}`
/** Chain id of an epoch's skipped receiver keys (§10.6). */
const receiverSkippedPart = (epoch: number): string => `recv:${epoch}:skipped`
/** The epoch of a community chain id (`send:<e>`, `recv:<e>`, `recv:<e>:...`), or undefined. */
function epochOfChain(chainId: string): number | undefined {
  const e = Number(chainId.split(':')[1])
  return Number.isSafeInteger(e) && e >= 0 ? e : undefined
}

/**
 * The epoch a community left at its last rotation, while its messages are still taken (PROTOCOL.md §8.6): until
 * `until` (Unix ms), from any sender but the identity keys in `removed` (hex), whom that rotation removed.
 * Stored in the community record's extra as `previousEpoch`.
 */
interface PreviousEpoch {
  epoch: number
  until: number
  removed: string[]
}

/** A community's previous epoch (PreviousEpoch), or undefined: none, or not well formed (read from disk). */
function previousEpochOf(c: CommunityRecord): PreviousEpoch | undefined {
  const p = c.extra?.['previousEpoch']
  if (p === null || typeof p !== 'object' || Array.isArray(p) || p instanceof Uint8Array) return undefined
  const { epoch, until, removed } = p
  if (typeof epoch !== 'number' || !Number.isSafeInteger(epoch) || epoch < 0 || epoch >= c.epoch) return undefined
  if (typeof until !== 'number' || !Number.isFinite(until)) return undefined
  if (!Array.isArray(removed) || !removed.every((r) => typeof r === 'string')) return undefined
  return { epoch, until, removed: removed as string[] }
}

/** Sender chains advanced by the posts of one batch, by `${communityId}:${chainId}` (see Sotto#sealPost). */
type SealedChains = Map<string, { communityId: string; chainId: string; state: SenderChainState }>

/** A community text waiting to be sent (Sotto#drainSends), and how to settle its `send` call. */
interface QueuedSend {
  name: string
  text: string
  resolve: (view: MessageView) => void
  reject: (err: unknown) => void
}

/** What the outbox holds per entry, beside the payload (kept in OutboxEntry.extra). */
interface OutboxMeta {
  /** 'envelope': payload is an encoded envelope for `topic`; 'content': a Content waiting for a session. */
  kind: 'envelope' | 'content'
  topic: string
  /** 'direct' entries wait for a delivery receipt; 'community' ones only for a first recipient. */
  scope: 'direct' | 'community'
  /** Set on an epoch-key grant's entry (see GrantMeta). */
  grant?: GrantMeta
}

/**
 * An epoch-key grant in the outbox. A publication only says that a peer took the envelope, not that the
 * member opened it, and a grant lost on the way is not repaired by sync (the admin does not serve the
 * member's inbox topic). So once published, the entry stays: when it is due again it is dropped if the
 * member's node is seen subscribed to the granted epoch's topic (or the community has moved on), else the
 * grant is encrypted and sent again, at most GRANT_RESENDS times.
 */
interface GrantMeta {
  communityId: string
  epoch: number
  /** The grant (§8.6), to encrypt again. */
  grant: Uint8Array
  /** True once the current envelope was published: the next due time checks instead of publishing. */
  published: boolean
  /** How many times the grant was encrypted again. */
  resends: number
}

/** Tunables of the app (tests shorten the timers). */
export interface SottoTimings {
  /** Outbox pass period, ms. */
  outboxIntervalMs: number
  /** First retry delay of an undelivered 1:1 envelope, ms (doubles up to outboxMaxBackoffMs). */
  outboxBackoffMs: number
  outboxMaxBackoffMs: number
  /** Prekey bundle re-publication period, ms. */
  republishMs: number
  /** Background sync period, ms. */
  syncIntervalMs: number
  /**
   * Longest a community send stays only in the operating system's cache, ms: sends are published before they are
   * synced to the disk (PROTOCOL.md §10.8), and one flush this long after the first of them syncs them all.
   */
  historyFlushMs: number
  /**
   * After a key rotation, how long the previous epoch's messages are still taken, from members the rotation did not
   * remove, ms (PROTOCOL.md §8.6): a member sends in the epoch it holds until its grant arrives.
   */
  epochGraceMs: number
  /** How often the history of conversations with a retention (`retention`) is pruned, ms. */
  retentionCheckMs: number
}

/** Default timings for real use. */
export const DEFAULT_TIMINGS: SottoTimings = Object.freeze({
  outboxIntervalMs: 1_000,
  outboxBackoffMs: 2_000,
  outboxMaxBackoffMs: 60_000,
  republishMs: 6 * 60 * 60 * 1000,
  syncIntervalMs: 30_000,
  historyFlushMs: 1_000,
  epochGraceMs: 7 * 24 * 60 * 60 * 1000,
  retentionCheckMs: 60_000
})

/** A conversation's retention (ms; 0 = keep everything), from its contact or community record (`extra.retentionMs`). */
function retentionOf(record: { extra?: StoreObject }): number {
  const v = record.extra?.['retentionMs']
  return typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : 0
}

/** Throws BadArgumentError unless `ageMs` is absent or a whole number of ms, 0 or more. */
function checkAge(ageMs: number | undefined): void {
  if (ageMs !== undefined && (!Number.isSafeInteger(ageMs) || ageMs < 0)) {
    throw new BadArgumentError('the age must be a whole number of milliseconds, 0 or more')
  }
}

/** `extra` with the retention set (0 removes it). */
function withRetention(extra: StoreObject | undefined, ageMs: number): StoreObject {
  const { retentionMs: _, ...rest } = extra ?? {}
  return ageMs > 0 ? { ...rest, retentionMs: ageMs } : rest
}

/** Below this many one-time prekeys left, a fresh batch is generated and the bundle re-published. */
const MIN_ONE_TIME_PREKEYS = 8
const ONE_TIME_PREKEY_BATCH = 32
/** Signed prekeys are replaced weekly (the previous ones stay usable for messages in flight). */
const SIGNED_PREKEY_MAX_AGE_MS = 7 * 24 * 60 * 60 * 1000
const SEEN_SCOPE = 'env'
/** Longest a publication outcome waits for the next post's batch before it gets a batch of its own, ms. */
const OUTCOME_DELAY_MS = 100
/** Outbox conversations published side by side in one pass, and content entries sealed side by side. */
const OUTBOX_LANES = 8
/**
 * Content entries sealed at a time, each after a DHT look-up. Few: on a CPU-starved machine look-ups side by
 * side (and what their messages set off at the recipients: a new bundle put, a rendezvous announce) each take
 * longer than alone, run out of time together and are tried again together (with 8 at once, no look-up of a
 * 10-node test finished within its limit).
 */
const MAX_SEALING = 2
/** Time limit of a bundle look-up in the DHT; doubled per failed attempt of the same entry, up to the max. */
const BUNDLE_LOOKUP_MS = 5_000
const MAX_BUNDLE_LOOKUP_MS = 20_000
/** A bundle look-up ends this long after the first valid bundle came in (the newest of those is used). */
const BUNDLE_SETTLE_MS = 500
/** How many times a published epoch-key grant is encrypted and sent again while its member is not seen holding the epoch. */
const GRANT_RESENDS = 3
/** Member records kept in memory per community (see Sotto#members). */
const MAX_CACHED_MEMBERS = 4096

/** Everything `Sotto` needs, opened by src/app/index.ts. */
export interface SottoParts {
  home: string
  store: Store
  node: SottoNode
  identity: IdentityKeyPair
  prekeys: LocalPrekeys
  name: string
  timings?: Partial<SottoTimings>
}

/** One user's running node. Make it with `openSotto` (src/app/index.ts). */
export class Sotto implements SottoApp {
  readonly #store: Store
  readonly #node: SottoNode
  readonly #identity: IdentityKeyPair
  readonly #prekeys: LocalPrekeys
  readonly #myKey: string
  readonly #name: string
  readonly #timings: SottoTimings
  readonly #routes = new Map<string, Route>()
  readonly #listeners = new Set<(m: MessageView) => void>()
  readonly #timers: NodeJS.Timeout[] = []
  readonly #offNode: Array<() => void> = []
  #sync: SyncService | undefined
  #syncProgress: SyncProgress = { envelopesToFetch: 0, envelopesFetched: 0, bytesToFetch: 0, bytesFetched: 0 }
  #queue: Promise<unknown> = Promise.resolve()
  #stopped = false
  #outboxRunning = false
  /** How many DHT peers accepted the last bundle publication (undefined: not yet published). */
  #bundleReach: number | undefined
  #bundleWait: AbortController | undefined
  /** Opened community epochs by `${communityId}:${epoch}` (see #epochOf). */
  readonly #epochCache = new Map<string, CommunityEpoch>()
  /** Committed receiver chain states by `${communityId}:recv:${epoch}`; only #receiveCommunity writes them. */
  readonly #receiverCache = new Map<string, CommunityReceiverState>()
  /**
   * Sender chains (`${communityId}:send:${epoch}`) whose stored state this session wrote, with that state (the
   * next send seals from it without reading and opening it again). Only these are resumed; any other starts anew
   * (PROTOCOL.md §8.5): a state stored by an earlier session may be behind what it published (a crash or power cut
   * lost its last write, or an older copy of the data directory was put back). A chain whose batch failed after
   * its envelopes were published leaves the map (#sendTogether).
   */
  readonly #resumableChains = new Map<string, SenderChainState>()
  /** The store's flush after community sends (#flushSoon), while one is scheduled or running. */
  #flushTimer: ReturnType<typeof setTimeout> | undefined
  /**
   * Community records by id, community ids by local name, and members by community then member id
   * (undefined: known to be absent), as last read from the store or committed to it: every message sent or
   * received needs its community, every message received its sender's member record. Every path that writes
   * a community or a member drops them after its commit (#forgetCommunities), except #receiveCommunity,
   * which puts the member record it committed.
   */
  readonly #communities = new Map<string, CommunityRecord>()
  readonly #communityIds = new Map<string, string>()
  readonly #members = new Map<string, Map<string, MemberRecord | undefined>>()
  /** Bumped by #forgetCommunities: a read that started before must not fill the caches after it. */
  #communityGeneration = 0
  #relays: string[] = []
  /** True once sync runs: from then on, new 1:1 topics are asked of the relays as they appear. */
  #relaysReady = false
  /** Last sentAt given to an own message: strictly increasing, so a sender's messages sort in sending order. */
  #lastSentAt = 0

  constructor(parts: SottoParts) {
    this.#store = parts.store
    this.#node = parts.node
    this.#identity = parts.identity
    this.#prekeys = parts.prekeys
    this.#myKey = toHex(parts.identity.publicKey.signingKey)
    this.#name = parts.name
    this.#timings = { ...DEFAULT_TIMINGS, ...parts.timings }
  }

  /** The node underneath (for the daemon's status and for tests). */
  get node(): SottoNode {
    return this.#node
  }

  /** The store underneath (tests and tools). */
  get store(): Store {
    return this.#store
  }

  // --- lifecycle ------------------------------------------------------------------------------------

  /** Subscribes the topics, publishes the prekey bundle, starts the outbox and sync. The node is started. */
  async start(): Promise<void> {
    this.#node.setTopicValidator((topic, data) => this.#validate(topic, data))
    this.#offNode.push(
      this.#node.on('message', (m) => {
        this.#onGossip(m.topic, m.data)
      }),
      this.#node.on('subscription-change', (e) => {
        if (e.subscribed && this.#routes.has(e.topic)) this.#kickOutbox()
      }),
      this.#node.on('peer:connect', (e) => {
        this.#kickOutbox()
        this.#onRelayConnect(e.peerId)
      })
    )
    const settings = (await this.#store.getSettings()) ?? {}
    this.#relays = Array.isArray(settings['relays']) ? (settings['relays'] as string[]) : []
    this.#route(inboxTopic(this.#identity.publicKey.signingKey), { kind: 'inbox' })
    for (const c of await this.#store.listContacts()) {
      const topic = c.extra?.['directTopic']
      if (typeof topic === 'string') this.#route(topic, { kind: 'direct', contactId: c.id })
    }
    for (const c of await this.#store.listCommunities()) {
      const epoch = await this.#epochOf(c.id, c.epoch)
      if (epoch !== undefined) this.#route(communityTopic(epoch.topicId), { kind: 'community', communityId: c.id, epoch: c.epoch, keys: epoch })
      // The epoch left at the last rotation, while its grace period lasts (§8.6); #endGraces ends the others.
      const keys = await this.#graceEpochOf(c)
      if (keys !== undefined) this.#route(communityTopic(keys.topicId), { kind: 'community', communityId: c.id, epoch: keys.epoch, keys })
    }
    this.#sync = createSyncService({
      node: this.#node,
      topics: () => this.#syncTopics(),
      source: (topic) => envelopeStoreSource(this.#store, utf8(topic)),
      getEnvelope: async (topic, id) => (await this.#store.getEnvelope(utf8(topic), id))?.bytes,
      onEnvelope: (topic, _id, bytes) => this.#serial(() => this.#receive(topic, bytes)),
      // The sync service already disconnected and banned it for a while; its gossip score goes down too.
      onMisbehaviour: (peer) => this.#node.penalise(peer),
      intervalMs: this.#timings.syncIntervalMs,
      onProgress: (e) => {
        this.#syncProgress = {
          envelopesToFetch: e.total.envelopesToFetch,
          envelopesFetched: e.total.envelopesFetched,
          bytesToFetch: e.total.bytesToFetch,
          bytesFetched: e.total.bytesFetched
        }
      }
    })
    await this.#sync.start()
    this.#relaysReady = true
    for (const r of this.#relays) void this.#useRelay(r)
    await this.#ensurePrekeys()
    void this.#publishBundle()
    for (const c of await this.#store.listCommunities()) void this.#announceCommunity(c.id)
    await this.#serial(() => this.#endGraces())
    await this.#serial(() => this.#applyRetention(true))
    this.#timers.push(setInterval(() => this.#kickOutbox(), this.#timings.outboxIntervalMs))
    this.#timers.push(
      setInterval(() => void this.#serial(() => this.#applyRetention(false)).catch((err) => log.error('pruning history failed: %s', err)), this.#timings.retentionCheckMs)
    )
    this.#timers.push(
      setInterval(() => {
        void this.#serial(() => this.#ensurePrekeys()).then(() => this.#publishBundle())
        void this.#serial(() => this.#endGraces()).catch((err) => log.error('ending a grace period failed: %s', err))
      }, this.#timings.republishMs)
    )
    for (const t of this.#timers) t.unref()
    this.#kickOutbox()
  }

  /** Stops timers, sync and the node, then closes the store. */
  async stop(): Promise<void> {
    if (this.#stopped) return
    this.#stopped = true
    for (const t of this.#timers) clearInterval(t)
    this.#bundleWait?.abort()
    for (const off of this.#offNode) off()
    await this.#sync?.stop().catch(() => undefined)
    // Publication outcomes not recorded yet are recorded now, after whatever the queue holds.
    clearTimeout(this.#outcomeTimer)
    this.#outcomeTimer = undefined
    // The store's close() below syncs every write; no separate flush.
    clearTimeout(this.#flushTimer)
    await this.#serial(() => this.#recordOutcomes()).catch((err) => log.error('outbox update failed: %s', err))
    await this.#queue.catch(() => undefined)
    await this.#node.stop().catch(() => undefined)
    await this.#store.close()
  }

  // --- identity and status -------------------------------------------------------------------------

  async id(): Promise<IdView> {
    const addresses = this.#node.addresses()
    const invite = formatContactInvite({
      identity: this.#identity.publicKey,
      displayName: this.#name,
      peerId: peerIdToBytes(this.#node.peerId),
      addresses: addresses.slice(0, 8).map((a) => multiaddrToBytes(withoutPeer(a))),
      relays: this.#relays.slice(0, 8).map((a) => multiaddrToBytes(a))
    })
    return {
      name: this.#name,
      invite,
      peerId: this.#node.peerId,
      addresses,
      safetyNumber: ownFingerprintDigits(this.#identity.publicKey.signingKey),
      fingerprint: shortFingerprint(this.#myKey)
    }
  }

  async status(): Promise<StatusView> {
    return {
      peerId: this.#node.peerId,
      addresses: this.#node.addresses(),
      peers: this.#node.peers().length,
      topics: this.#node.topics().length,
      outbox: (await this.#store.listOutbox()).length,
      sync: { ...this.#syncProgress },
      relays: [...this.#relays]
    }
  }

  async relayUse(address: string): Promise<string[]> {
    try {
      multiaddrToBytes(address)
      if (peerOfAddress(address) === undefined) throw new Error('no /p2p/ peer id')
    } catch {
      throw new BadRelayAddressError(address)
    }
    if (!this.#relays.includes(address)) this.#relays.push(address)
    const settings = (await this.#store.getSettings()) ?? {}
    await this.#store.setSettings({ ...settings, relays: this.#relays })
    void this.#useRelay(address)
    return [...this.#relays]
  }

  // --- contacts ------------------------------------------------------------------------------------

  async contactAdd(invite: string, name?: string): Promise<ContactView> {
    let parsed: ReturnType<typeof parseInvite>
    try {
      parsed = parseInvite(invite.trim())
    } catch (err) {
      throw new BadInviteError(err instanceof Error ? err.message : 'unreadable')
    }
    if (parsed.type !== 'contact') throw new BadInviteError('this is a community invite: use `sotto community join`')
    const inv = parsed.invite
    const key = toHex(inv.identity.signingKey)
    if (key === this.#myKey) throw new BadInviteError('this is your own invite')
    const localName = checkName(name ?? inv.displayName ?? '', 'contact')
    const peerId = inv.peerId !== undefined ? peerIdFromBytes(inv.peerId) : undefined
    const addresses = inv.addresses.map((a) => multiaddrFromBytes(a))
    return this.#serial(async () => {
      const now = Date.now()
      const byName = await this.#store.getContactByName(localName)
      const byKey = await this.#store.getContactByIdentityKey(key)
      let contact: ContactRecord
      if (byKey !== undefined) {
        if (byName !== undefined && byName.id !== byKey.id) throw new BadNameError(`a contact named "${localName}" exists`)
        contact = { ...byKey, name: localName, state: 'accepted' }
      } else if (byName !== undefined) {
        // The same name with another key: the contact's identity changed. Loud, and nothing is sent until accepted.
        contact = {
          ...byName,
          identityKey: key,
          verified: false,
          identityChanged: true,
          identityHistory: [...byName.identityHistory, { identityKey: key, seenAt: now }],
          prekeyBundle: undefined,
          prekeyBundleFetchedAt: undefined
        }
        await this.#store.deleteSession(byName.id)
      } else {
        contact = {
          id: key,
          name: localName,
          state: 'accepted',
          identityKey: key,
          verified: false,
          identityChanged: false,
          identityHistory: [{ identityKey: key, seenAt: now }],
          createdAt: now
        }
      }
      contact = {
        ...contact,
        extra: {
          ...contact.extra,
          identity: inv.identity.serialize(),
          hidden: false,
          ...(inv.relays.length > 0 ? { relays: addressesOf(inv.relays) } : {})
        },
        ...(peerId !== undefined ? { peerId } : {}),
        ...(addresses.length > 0 ? { addresses: addresses.map((a) => (peerId ? `${a}/p2p/${peerId}` : a)) } : {})
      }
      await this.#store.putContact(contact)
      void this.#reach(contact)
      return contactView(contact)
    })
  }

  async contactList(): Promise<ContactView[]> {
    const all = await this.#store.listContacts()
    return all.filter((c) => c.extra?.['hidden'] !== true).sort((a, b) => a.name.localeCompare(b.name)).map(contactView)
  }

  async contactAccept(name: string): Promise<ContactView> {
    return this.#serial(async () => {
      const c = await this.#contactByName(name)
      const updated: ContactRecord = { ...c, state: 'accepted', extra: { ...c.extra, hidden: false } }
      await this.#store.putContact(updated)
      return contactView(updated)
    })
  }

  async contactVerify(name: string, confirm: boolean): Promise<VerifyView> {
    return this.#serial(async () => {
      const c = await this.#contactByName(name)
      const digits = safetyNumber(this.#identity.publicKey.signingKey, fromHex(c.identityKey))
      let contact = c
      if (confirm) {
        contact = { ...c, verified: true, identityChanged: false }
        await this.#store.putContact(contact)
        this.#kickOutbox()
      }
      return { name: c.name, safetyNumber: formatSafetyNumber(digits), verified: contact.verified, identityChanged: contact.identityChanged }
    })
  }

  async contactRemove(name: string): Promise<void> {
    await this.#serial(async () => {
      const c = await this.#contactByName(name)
      const topic = c.extra?.['directTopic']
      const b = this.#store.batch().deleteContact(c.id).deleteSession(c.id)
      for (const e of await this.#store.listOutbox()) if (e.conversation === c.id) b.deleteOutbox(e.id)
      await b.commit()
      if (typeof topic === 'string') this.#unroute(topic)
    })
  }

  // --- messages ------------------------------------------------------------------------------------

  async send(to: string, text: string): Promise<MessageView> {
    if (typeof text !== 'string' || text.length === 0) throw new BadMessageError('the message is empty')
    if (utf8(text).length > MAX_TEXT_BYTES) throw new BadMessageError(`the message is longer than ${MAX_TEXT_BYTES} bytes`)
    if (to.startsWith('#')) return this.#queueCommunitySend(to.slice(1), text)
    let view: MessageView
    try {
      view = await this.#serial(() => this.#sendDirect(to, text))
    } catch (err) {
      this.#fresh.length = 0
      throw err
    }
    this.#publishFresh()
    return view
  }

  async read(to?: string, limit = 50): Promise<MessageView[]> {
    const n = Math.max(1, Math.min(Math.floor(limit), 10_000))
    const conversations = to === undefined ? await this.#store.listConversations() : [await this.#conversationId(to)]
    const records: MessageRecord[] = []
    for (const id of conversations) records.push(...(await this.#store.listMessages(id, { limit: n })))
    records.sort(byDisplayOrder)
    const names = new Map<string, string>()
    const views: MessageView[] = []
    for (const r of records.slice(-n)) views.push(await this.#view(r, names))
    return views
  }

  async markRead(to: string): Promise<void> {
    await this.#serial(async () => {
      const id = await this.#conversationId(to)
      const b = this.#store.batch()
      for (const m of await this.#store.listMessages(id, { limit: 10_000 })) {
        if (m.direction === 'in' && m.status === 'received') b.setMessageStatus(m.id, 'read')
      }
      if (b.length > 0) await b.commit()
    })
  }

  async clear(to: string, olderThanMs?: number): Promise<number> {
    checkAge(olderThanMs)
    return this.#serial(async () => {
      const conversation = await this.#conversationId(to)
      // Age counts from when this node stored a message (receivedAt); maxCount 0 is every message.
      const limits = olderThanMs === undefined ? { maxCount: 0 } : { maxAgeMs: olderThanMs }
      return (await this.#store.prune({ messages: { conversation, ...limits } })).messages
    })
  }

  async retention(to: string, ageMs?: number): Promise<number> {
    checkAge(ageMs)
    return this.#serial(async () => {
      const community = to.startsWith('#') ? await this.#communityByName(to) : undefined
      const record = community ?? (await this.#contactByName(to))
      if (ageMs === undefined) return retentionOf(record)
      const extra = withRetention(record.extra, ageMs)
      const b = this.#store.batch()
      if (community !== undefined) b.putCommunity({ ...community, extra })
      else b.putContact({ ...(record as ContactRecord), extra })
      await b.commit()
      if (community !== undefined) this.#forgetCommunities()
      await this.#pruneConversation(record.id, ageMs, true)
      return ageMs
    })
  }

  /**
   * Deletes the messages of every conversation with a retention that were stored longer ago than it. `full`: every
   * message is read (when the node starts); else each conversation's oldest only, up to the first within the age (the
   * periodic pass: it reads what it deletes, however long the history kept).
   */
  async #applyRetention(full: boolean): Promise<void> {
    for (const c of [...(await this.#store.listContacts()), ...(await this.#store.listCommunities())]) {
      await this.#pruneConversation(c.id, retentionOf(c), full)
    }
  }

  async #pruneConversation(conversation: string, ageMs: number, full: boolean): Promise<void> {
    if (ageMs > 0) await this.#store.prune({ messages: { conversation, maxAgeMs: ageMs, oldestFirst: !full } })
  }

  subscribe(listener: (message: MessageView) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }

  // --- communities ---------------------------------------------------------------------------------

  async communityCreate(name: string): Promise<CommunityView> {
    const localName = checkName(name, 'community')
    return this.#serial(async () => {
      if (await this.#store.getCommunityByName(localName)) throw new BadNameError(`a community named "${localName}" exists`)
      const epoch = CommunityEpoch.create()
      const id = toHex(epoch.communityId)
      const now = Date.now()
      const record: CommunityRecord = { id, name: localName, role: 'admin', epoch: epoch.epoch, createdAt: now, extra: { admins: [this.#myKey] } }
      await this.#store
        .batch()
        .putCommunity(record)
        .setEpochKey(id, epoch.epoch, epoch.serialize())
        .putMember(id, { id: this.#myKey, name: this.#name, role: 'admin', joinedAt: now, lastSeen: now })
        .commit()
      this.#forgetCommunities()
      this.#route(communityTopic(epoch.topicId), { kind: 'community', communityId: id, epoch: epoch.epoch, keys: epoch })
      void this.#announceCommunity(id)
      return communityView(record, epoch.topicIdHex, 1)
    })
  }

  async communityInvite(name: string): Promise<string> {
    const c = await this.#communityByName(name)
    const epoch = await this.#currentEpoch(c)
    return formatCommunityInvite({
      communityId: epoch.communityId,
      name: c.name,
      epoch: epoch.epoch,
      epochKey: epoch.exportEpochKey(),
      adminKeys: this.#admins(c).map((k) => fromHex(k)),
      addresses: this.#node
        .addresses()
        .slice(0, 8)
        .map((a) => multiaddrToBytes(a))
    })
  }

  async communityJoin(invite: string, name?: string): Promise<CommunityView> {
    let parsed: ReturnType<typeof parseInvite>
    try {
      parsed = parseInvite(invite.trim())
    } catch (err) {
      throw new BadInviteError(err instanceof Error ? err.message : 'unreadable')
    }
    if (parsed.type !== 'community') throw new BadInviteError('this is a contact invite: use `sotto contact add`')
    const inv = parsed.invite
    const localName = checkName(name ?? inv.name, 'community')
    const epoch = CommunityEpoch.fromEpochKey(inv.communityId, inv.epoch, inv.epochKey)
    const id = toHex(inv.communityId)
    const view = await this.#serial(async () => {
      const existing = await this.#store.getCommunity(id)
      if (existing !== undefined) return communityView(existing, (await this.#currentEpoch(existing)).topicIdHex, (await this.#store.listMembers(id)).length)
      if (await this.#store.getCommunityByName(localName)) throw new BadNameError(`a community named "${localName}" exists`)
      const now = Date.now()
      const admins = inv.adminKeys.map((k) => toHex(k))
      const record: CommunityRecord = { id, name: localName, role: 'member', epoch: epoch.epoch, createdAt: now, extra: { admins } }
      const b = this.#store
        .batch()
        .putCommunity(record)
        .setEpochKey(id, epoch.epoch, epoch.serialize())
        .putMember(id, { id: this.#myKey, name: this.#name, role: 'member', joinedAt: now, lastSeen: now })
      for (const a of admins) if (a !== this.#myKey) b.putMember(id, { id: a, role: 'admin' })
      await b.commit()
      this.#forgetCommunities()
      this.#route(communityTopic(epoch.topicId), { kind: 'community', communityId: id, epoch: epoch.epoch, keys: epoch })
      return communityView(record, epoch.topicIdHex, admins.length + 1)
    })
    for (const a of inv.addresses) void this.#node.dial(multiaddrFromBytes(a)).catch(() => undefined)
    void this.#announceCommunity(id)
    // Tell the members who we are: a profile message, so they list us by name.
    await this.#serial(() => this.#introduce(id))
    this.#kickOutbox()
    return view
  }

  async communityList(): Promise<CommunityView[]> {
    const out: CommunityView[] = []
    for (const c of await this.#store.listCommunities()) {
      const epoch = await this.#currentEpoch(c)
      out.push(communityView(c, epoch.topicIdHex, (await this.#store.listMembers(c.id)).length))
    }
    return out.sort((a, b) => a.name.localeCompare(b.name))
  }

  async communityMembers(name: string): Promise<MemberView[]> {
    const c = await this.#communityByName(name)
    const members = await this.#store.listMembers(c.id)
    return members.map(memberView).sort((a, b) => a.name.localeCompare(b.name))
  }

  async communityLeave(name: string): Promise<void> {
    await this.#serial(async () => {
      const c = await this.#communityByName(name)
      const b = this.#store.batch().deleteCommunity(c.id)
      for (const e of await this.#store.listOutbox()) if (e.conversation === c.id) b.deleteOutbox(e.id)
      await b.commit()
      this.#forgetCommunities()
      for (const cache of [this.#epochCache, this.#receiverCache, this.#resumableChains]) {
        for (const key of [...cache.keys()]) if (key.startsWith(`${c.id}:`)) cache.delete(key)
      }
      this.#unrouteCommunity(c.id, Number.POSITIVE_INFINITY)
    })
  }

  async communityRotate(name: string, remove?: string): Promise<CommunityView> {
    const view = await this.#serial(async () => {
      const c = await this.#communityByName(name)
      if (!this.#admins(c).includes(this.#myKey)) throw new NotAllowedError(`only an admin of #${c.name} can rotate its key`)
      const members = await this.#store.listMembers(c.id)
      let removed: MemberRecord | undefined
      if (remove !== undefined) {
        removed = members.find((m) => m.name === remove || m.id === remove || m.id.startsWith(remove))
        if (removed === undefined) throw new UnknownContactError(remove)
        if (removed.id === this.#myKey) throw new NotAllowedError('you cannot remove yourself; use `sotto community leave`')
      }
      const current = await this.#currentEpoch(c)
      const next = current.next()
      const now = Date.now()
      const statement = createRotationStatement(current, next, this.#identity, now, removed ? [fromHex(removed.id)] : [])
      const grant = encodeEpochKeyGrant({ epoch: next, statement })
      const previousEpoch: PreviousEpoch = { epoch: current.epoch, until: now + this.#timings.epochGraceMs, removed: removed ? [removed.id] : [] }
      const updated: CommunityRecord = {
        ...c,
        epoch: next.epoch,
        extra: { ...c.extra, admins: this.#admins(c).filter((a) => a !== removed?.id), previousEpoch: { ...previousEpoch } }
      }
      const b = this.#store.batch().putCommunity(updated).setEpochKey(c.id, next.epoch, next.serialize())
      if (removed) b.deleteMember(c.id, removed.id)
      await this.#dropEpochsBelow(b, c.id, current.epoch)
      await b.commit()
      this.#forgetCommunities()
      this.#moveCommunityTopic(c.id, current, next)
      await this.#introduce(c.id)
      // The new key goes only to the remaining members, each over a 1:1 session. No network wait in this
      // serial step: a member without a session gets the grant queued, and the outbox looks up the bundles
      // of all of them at once (one DHT look-up each, seconds on a loaded machine) and seals them then.
      const meta = { communityId: c.id, epoch: next.epoch, grant, published: false, resends: 0 }
      for (const m of members) {
        if (m.id === this.#myKey || m.id === removed?.id) continue
        await this.#sendDirectContentTo(m.id, m.name, { type: 'epoch-key-grant', grant }, { prefetched: { bundle: undefined }, grant: meta })
      }
      void this.#announceCommunity(c.id)
      return communityView(updated, next.topicIdHex, members.length - (removed ? 1 : 0))
    })
    this.#publishFresh()
    this.#kickOutbox()
    return view
  }

  async communityPromote(name: string, member: string): Promise<MemberView> {
    return this.#serial(async () => {
      const c = await this.#communityByName(name)
      if (!this.#admins(c).includes(this.#myKey)) throw new NotAllowedError(`only an admin of #${c.name} can make admins`)
      const members = await this.#store.listMembers(c.id)
      const m = members.find((x) => x.name === member || x.id === member || x.id.startsWith(member))
      if (m === undefined) throw new UnknownContactError(member)
      const epoch = await this.#currentEpoch(c)
      const statement = createAdminAddStatement(epoch, [fromHex(m.id)], this.#identity, Date.now())
      await this.#applyControl(c, statement)
      await this.#postCommunityContent(c.id, { type: 'control-statement', statement: encodeControlStatement(statement) })
      return memberView({ ...m, role: 'admin' })
    })
  }

  // --- sending -------------------------------------------------------------------------------------

  async #sendDirect(name: string, text: string): Promise<MessageView> {
    const contact = await this.#contactByName(name)
    if (contact.identityChanged) throw new IdentityChangedError(contact.name)
    const messageId = randomBytes(MESSAGE_ID_BYTES)
    const now = this.#sendClock()
    const content: Content = { type: 'text', body: text, sentAt: now, messageId }
    const record = {
      id: toHex(messageId),
      conversation: contact.id,
      direction: 'out' as const,
      sender: this.#myKey,
      text,
      sentAt: now,
      receivedAt: now,
      status: 'queued' as const
    }
    const b = this.#store.batch().putMessage(record)
    await this.#queueDirectContent(contact, content, toHex(messageId), b)
    const { messages } = await b.commit()
    const stored = messages[0]!
    const view = messageView(stored, contact.name, 'me')
    this.#emit(view)
    return view
  }

  /**
   * Encrypts `content` for a contact if a session exists (or can be set up now from a cached bundle) and
   * adds the envelope to the outbox; otherwise queues the content itself until a bundle is found.
   * `prefetched` replaces the bundle look-up (see #encryptDirect); `grant` marks an epoch-key grant entry.
   */
  async #queueDirectContent(
    contact: ContactRecord,
    content: Content,
    entryId: string,
    b: StoreBatch,
    options: { prefetched?: { bundle: PrekeyBundle | undefined }; grant?: GrantMeta } = {}
  ): Promise<void> {
    const now = Date.now()
    const sealed = await this.#encryptDirect(contact, content, b, options.prefetched)
    const grant = options.grant === undefined ? {} : { grant: options.grant }
    const entry: OutboxEntry = sealed
      ? {
          id: entryId,
          conversation: contact.id,
          messageId: content.type === 'text' ? entryId : undefined,
          payload: sealed.envelope,
          attempts: 0,
          nextAttemptAt: now,
          createdAt: now,
          extra: { kind: 'envelope', topic: sealed.topic, scope: 'direct', ...grant } satisfies OutboxMeta as unknown as Record<string, string>
        }
      : {
          id: entryId,
          conversation: contact.id,
          messageId: content.type === 'text' ? entryId : undefined,
          payload: encodeContent(content),
          attempts: 0,
          nextAttemptAt: now,
          createdAt: now,
          extra: { kind: 'content', topic: '', scope: 'direct', ...grant } satisfies OutboxMeta as unknown as Record<string, string>
        }
    if (entry.messageId === undefined) delete entry.messageId
    b.putOutbox(entry)
    // Published once the batch is committed (the caller's serial step ends; see #publishFresh).
    this.#fresh.push(entry)
  }

  /**
   * Encrypts one content for a contact with its session, setting one up from the prekey bundle if needed.
   * Adds the new session state (and the envelope, for sync) to `b`. Returns undefined when no session
   * can be set up yet (no bundle known): the caller queues the plaintext. With `prefetched`, a missing session
   * is set up from that bundle (looked up before the serial step) and the network is not used here.
   */
  async #encryptDirect(
    contact: ContactRecord,
    content: Content,
    b: StoreBatch,
    prefetched?: { bundle: PrekeyBundle | undefined }
  ): Promise<{ envelope: Uint8Array; topic: string } | undefined> {
    let sessionBytes = await this.#pendingSession(contact.id)
    let pendingHeader = contact.extra?.['pendingHeader'] as Uint8Array | undefined
    let updated = contact
    if (sessionBytes === undefined) {
      const bundle = prefetched !== undefined ? prefetched.bundle : await this.#bundleOf(contact)
      if (bundle === undefined) return undefined
      const setup = initiateSession(this.#identity, bundle, { expectedIdentity: bundle.identity })
      const session = RatchetSession.initAlice(setup.secrets, setup.theirRatchetKey)
      const topic = directTopic(setup.secrets.rootKey)
      pendingHeader = setup.initialHeader.encode()
      sessionBytes = session.serialize()
      updated = { ...contact, extra: { ...contact.extra, directTopic: topic, pendingHeader, sessionHeader: toHex(blake2b(pendingHeader, 32)) } }
      this.#route(topic, { kind: 'direct', contactId: contact.id })
      // A new session announces who we are first, so the other side names us.
      const profile = RatchetSession.deserialize(sessionBytes).encrypt(pad(encodeContent({ type: 'profile', displayName: this.#name, relays: this.#relayBytes() })))
      sessionBytes = profile.session.serialize()
      const profileTimestamp = coarseTimestamp()
      const profileEnv = encodeEnvelope({
        kind: 'direct-prekey',
        timestamp: profileTimestamp,
        prekeyHeader: pendingHeader,
        ratchetHeader: profile.message.header,
        ciphertext: profile.message.ciphertext
      })
      const inbox = inboxTopic(fromHex(contact.identityKey))
      const now = Date.now()
      const profileEntry: OutboxEntry = {
        id: toHex(envelopeId(profileEnv)),
        conversation: contact.id,
        payload: profileEnv,
        attempts: 0,
        // Due just before the message that caused it, so the other side learns our name first.
        nextAttemptAt: now - 1,
        createdAt: now,
        extra: { kind: 'envelope', topic: inbox, scope: 'direct' } satisfies OutboxMeta as unknown as Record<string, string>
      }
      b.putOutbox(profileEntry)
      this.#fresh.push(profileEntry)
      b.putEnvelope(utf8(inbox), envelopeId(profileEnv), profileTimestamp, profileEnv)
      this.#pendingSessions.set(contact.id, sessionBytes)
    }
    const session = RatchetSession.deserialize(sessionBytes)
    const { session: next, message } = session.encrypt(pad(encodeContent(content)))
    const timestamp = coarseTimestamp()
    let envelope: Uint8Array
    let topic: string
    if (pendingHeader !== undefined) {
      envelope = encodeEnvelope({ kind: 'direct-prekey', timestamp, prekeyHeader: pendingHeader, ratchetHeader: message.header, ciphertext: message.ciphertext })
      topic = inboxTopic(fromHex(contact.identityKey))
    } else {
      envelope = encodeEnvelope({ kind: 'direct', timestamp, ratchetHeader: message.header, ciphertext: message.ciphertext })
      topic = updated.extra?.['directTopic'] as string
    }
    const nextBytes = next.serialize()
    this.#pendingSessions.set(contact.id, nextBytes)
    b.setSession(contact.id, nextBytes)
    if (updated !== contact) b.putContact(updated)
    b.putEnvelope(utf8(topic), envelopeId(envelope), timestamp, envelope)
    return { envelope, topic }
  }

  /**
   * Session states written by batches that are still being assembled in this serial step: several
   * contents encrypted in one step (a profile, then a text) must chain their states.
   */
  readonly #pendingSessions = new Map<string, Uint8Array>()

  async #pendingSession(contactId: string): Promise<Uint8Array | undefined> {
    return this.#pendingSessions.get(contactId) ?? (await this.#store.getSession(contactId))
  }

  /** Sends a control content (grant, statement) to an identity that may not be a contact yet. */
  async #sendDirectContentTo(
    identityKey: string,
    name: string | undefined,
    content: Content,
    options: { prefetched?: { bundle: PrekeyBundle | undefined }; grant?: GrantMeta } = {}
  ): Promise<void> {
    let contact = await this.#store.getContactByIdentityKey(identityKey)
    if (contact === undefined) {
      const now = Date.now()
      // The record with this id may be a contact whose key changed to one not accepted yet: keep it (its
      // warning and new key) and give this identity a record of its own (SECURITY.md, attack 5).
      const taken = (await this.#store.getContact(identityKey)) !== undefined
      contact = {
        id: taken ? `${identityKey}-member` : identityKey,
        name: await this.#freeName(name ?? `member-${identityKey.slice(0, 8)}`),
        state: 'accepted',
        identityKey,
        verified: false,
        identityChanged: false,
        identityHistory: [{ identityKey, seenAt: now }],
        createdAt: now,
        extra: { hidden: true }
      }
      await this.#store.putContact(contact)
    }
    const b = this.#store.batch()
    await this.#queueDirectContent(contact, content, toHex(randomBytes(16)), b, options)
    await b.commit()
    this.#pendingSessions.clear()
  }

  /**
   * Community texts waiting for the serial step that sends them (#drainSends): texts sent while an earlier
   * one is still being stored are sealed, stored in one batch and published together.
   */
  readonly #sendQueue: QueuedSend[] = []

  #queueCommunitySend(name: string, text: string): Promise<MessageView> {
    return new Promise((resolve, reject) => {
      this.#sendQueue.push({ name, text, resolve, reject })
      if (this.#sendQueue.length === 1) void this.#serial(() => this.#drainSends())
    })
  }

  async #drainSends(): Promise<void> {
    const items = this.#sendQueue.splice(0)
    // Every item's promise is settled by #sendTogether; this only guards against a bug leaving one pending.
    await this.#sendTogether(items).catch((err) => {
      for (const { reject } of items) reject(err)
    })
  }

  /**
   * Sends queued community texts: each is sealed in turn (its chain state carried in memory from one to
   * the next), all are stored in one batch, then shown and published. A text that cannot be sealed (unknown
   * community) fails alone and adds nothing to the batch; a failed commit fails them all and stores none.
   */
  async #sendTogether(items: QueuedSend[]): Promise<void> {
    const b = this.#store.batch()
    const chains: SealedChains = new Map()
    const sealed: Array<{ item: QueuedSend; entry: OutboxEntry; label: string }> = []
    for (const item of items) {
      try {
        const c = await this.#communityByName(item.name)
        const messageId = randomBytes(MESSAGE_ID_BYTES)
        const content: Content = { type: 'text', body: item.text, sentAt: this.#sendClock(), messageId }
        sealed.push({ item, entry: await this.#sealPost(c, content, item.text, b, chains), label: `#${c.name}` })
      } catch (err) {
        item.reject(err)
      }
    }
    if (sealed.length === 0) return
    // Published as soon as the batch is written, before the commit completes (§8.5): nothing depends on its
    // completion, as the batch is not synced anyway and no later session resumes these chains.
    let published = false
    const publish = (): void => {
      published = true
      for (const { entry } of sealed) this.#fresh.push(entry)
      this.#publishFresh()
    }
    let messages: MessageRecord[]
    try {
      messages = await this.#commitPosts(b, chains, publish)
    } catch (err) {
      // Published, but the stored states are behind: those chains must not be sealed from again (§8.5).
      if (published) for (const key of chains.keys()) this.#resumableChains.delete(key)
      for (const { item } of sealed) item.reject(err)
      return
    }
    const byId = new Map(messages.map((m) => [m.id, m]))
    for (const { item, entry, label } of sealed) {
      const view = messageView(byId.get(entry.messageId!)!, label, 'me')
      this.#emit(view)
      item.resolve(view)
    }
  }

  /** Seals a content into the community's current epoch, stores it (and the message, for text) and queues it. */
  async #postCommunityContent(communityId: string, content: Content, text?: string): Promise<MessageRecord | undefined> {
    const c = await this.#community(communityId)
    if (c === undefined) throw new UnknownCommunityError(communityId)
    const b = this.#store.batch()
    const chains: SealedChains = new Map()
    const entry = await this.#sealPost(c, content, text, b, chains)
    const messages = await this.#commitPosts(b, chains)
    this.#fresh.push(entry)
    return messages.find((m) => m.id === entry.messageId)
  }

  /**
   * Commits a batch of sealed posts: each sender chain they advanced, once, at its last state; the earlier posts'
   * publication outcomes in the same batch (see #outcomes). Shows those outcomes; returns the messages written.
   */
  async #commitPosts(b: StoreBatch, chains: SealedChains, onWrite?: () => void): Promise<MessageRecord[]> {
    for (const { communityId, chainId, state } of chains.values()) b.setChainState(communityId, chainId, state.serialize())
    const outcomes = await this.#recordOutcomes(b)
    const { messages } = await b.commit({ onWrite })
    for (const [key, { state }] of chains) this.#resumableChains.set(key, state)
    // Sends are not synced before publishing (no later session resumes their chains); the
    // history is made durable shortly after, off the path to the network.
    this.#flushSoon()
    for (const v of outcomes) this.#emit(v)
    return messages
  }

  /**
   * Makes the store's writes durable within historyFlushMs (Store.flush): one flush for every send in that time.
   * Not at once: each flush is an fsync, which on a shared disk also holds up other writers (measured: the other
   * nodes' LevelDB writes in the end-to-end benchmark), and one per second bounds them under sustained sending.
   */
  #flushSoon(): void {
    if (this.#flushTimer !== undefined || this.#stopped) return
    this.#flushTimer = setTimeout(() => {
      void this.#store
        .flush()
        .catch((err) => {
          if (!this.#stopped) log.error('store flush failed: %s', err)
        })
        .finally(() => {
          this.#flushTimer = undefined
        })
    }, this.#timings.historyFlushMs)
    this.#flushTimer.unref?.()
  }

  /**
   * Seals a content into the community's current epoch and adds to `b` the envelope, its outbox entry and (for
   * a text) the message. The new sender state goes into `chains` (which #commitPosts stores with the batch):
   * the next post of that chain in the same batch continues from it.
   */
  async #sealPost(c: CommunityRecord, content: Content, text: string | undefined, b: StoreBatch, chains: SealedChains): Promise<OutboxEntry> {
    const epoch = await this.#currentEpoch(c)
    const chainId = senderChain(epoch.epoch)
    const chainKey = `${c.id}:${chainId}`
    let state = chains.get(chainKey)?.state
    if (state === undefined) {
      // A state from an earlier session may be behind what was published: each session starts a new chain (§8.5),
      // and so does a chain whose last batch failed after its envelopes were published (#sendTogether).
      state = this.#resumableChains.get(chainKey) ?? SenderChainState.create(epoch, this.#identity)
    }
    const now = Date.now()
    // The signed timestamp of a text is its (strictly increasing) sentAt: receivers order a sender's messages by it.
    const signedAt = content.type === 'text' ? content.sentAt : now
    const { state: next, sealed } = sealCommunityMessage(epoch, state, this.#identity, encodeContent(content), signedAt)
    chains.set(chainKey, { communityId: c.id, chainId, state: next })
    const timestamp = coarseTimestamp()
    const envelope = encodeEnvelope({ kind: 'community', timestamp, sealed })
    const id = envelopeId(envelope)
    const topic = communityTopic(epoch.topicId)
    const entry: OutboxEntry = {
      id: toHex(id),
      conversation: c.id,
      ...(content.type === 'text' ? { messageId: toHex(content.messageId) } : {}),
      payload: envelope,
      attempts: 0,
      nextAttemptAt: now,
      createdAt: now,
      extra: { kind: 'envelope', topic, scope: 'community' } satisfies OutboxMeta as unknown as Record<string, string>
    }
    // Not synced before publishing: no later session resumes this chain (#resumableChains).
    b.putEnvelope(utf8(topic), id, timestamp, envelope).putOutbox(entry, { sync: false })
    if (content.type === 'text') {
      b.putMessage({
        id: toHex(content.messageId),
        conversation: c.id,
        direction: 'out',
        sender: this.#myKey,
        text: text ?? content.body,
        sentAt: content.sentAt,
        receivedAt: now,
        status: 'queued'
      })
    }
    return entry
  }

  // --- receiving -----------------------------------------------------------------------------------

  /**
   * Envelopes #validate accepted, decoded, by the bytes object it checked (the node hands the validator and
   * the message listener the same object): #receive decodes each envelope once. Entries go with the bytes.
   */
  readonly #accepted = new WeakMap<Uint8Array, Envelope>()

  /**
   * Gossipsub validator, also run by #receive on envelopes from sync: cheap structural checks; community
   * envelopes must pass the router check (§8.5: the sender key's certificate and signature). Every envelope
   * #receive handles passed it in this process, so openCommunityMessage does not run it again.
   */
  #validate(topic: string, data: Uint8Array): 'accept' | 'reject' | 'ignore' {
    const route = this.#routes.get(topic)
    if (route === undefined) return 'ignore'
    try {
      // Kind must match the topic, the clock must be sane; a community envelope must pass the router check
      // under the topic's id, which is the epoch's topic id.
      const env = validateTopicEnvelope(topic, data)
      this.#accepted.set(data, env)
      return 'accept'
    } catch {
      return 'reject'
    }
  }

  /**
   * Handles one envelope from gossip or sync. Returns true when it was new, valid and stored; false when
   * it was a duplicate or not for us; 'invalid' when it is malformed or forged. Never throws for bad input.
   */
  async #receive(topic: string, bytes: Uint8Array, validated = false, group?: CommunityGroup): Promise<boolean | 'invalid'> {
    if (this.#stopped) return false
    const route = this.#routes.get(topic)
    if (route === undefined) return false
    if (!validated && this.#validate(topic, bytes) !== 'accept') return 'invalid'
    const id = envelopeId(bytes)
    // A community envelope needs no seen-id read: its epoch's receiver state, committed with every message,
    // refuses a (sender, index) opened before (DuplicateMessageError, §8.5), whatever the envelope's bytes.
    if (route.kind !== 'community' && (await this.#store.hasSeen(SEEN_SCOPE, id))) return false
    const env = this.#accepted.get(bytes) ?? decodeEnvelope(bytes)
    try {
      if (env.kind === 'community' && route.kind === 'community') {
        if (group !== undefined) return await this.#receiveCommunity(group, topic, route, id, env.timestamp, env.sealed, bytes)
        const alone = this.#newGroup()
        const received = await this.#receiveCommunity(alone, topic, route, id, env.timestamp, env.sealed, bytes)
        if (received === true) await this.#commitGroup(alone)
        return received
      }
      if (env.kind === 'direct-prekey' && route.kind === 'inbox') return await this.#receivePrekey(topic, id, env, bytes)
      if (env.kind === 'direct' && route.kind === 'direct') return await this.#receiveDirect(topic, route.contactId, id, env, bytes)
      return 'invalid'
    } catch (err) {
      if (err instanceof DuplicateMessageError) return false
      if (err instanceof CryptoError || err instanceof ProtocolError) {
        // It passed the topic check, so it may be genuine but not for us (an epoch we never had, a
        // session we lost): not counted against the peer that forwarded it.
        log('dropped envelope on %s: %s', topic, err.message)
        return false
      }
      throw err
    } finally {
      this.#pendingSessions.clear()
    }
  }

  async #receivePrekey(
    topic: string,
    id: Uint8Array,
    env: Extract<Envelope, { kind: 'direct-prekey' }>,
    bytes: Uint8Array
  ): Promise<boolean | 'invalid'> {
    // The initiator's identity is sealed to our signed prekey (§4): opening it needs our prekeys.
    const header = openInitialHeader(this.#identity, this.#prekeys, env.prekeyHeader)
    const senderKey = toHex(header.initiator.signingKey)
    if (senderKey === this.#myKey) return 'invalid'
    let contact = await this.#store.getContactByIdentityKey(senderKey)
    const headerHash = toHex(blake2b(env.prekeyHeader, 32))
    const now = Date.now()
    let session: RatchetSession
    let newSession = false
    let consumed: number | undefined
    let reroute: (() => void) | undefined
    const existing = contact !== undefined ? await this.#store.getSession(contact.id) : undefined
    if (contact !== undefined && existing !== undefined && contact.extra?.['sessionHeader'] === headerHash) {
      session = RatchetSession.deserialize(existing)
    } else {
      const setup = respondSession(this.#identity, this.#prekeys, header)
      session = RatchetSession.initBob(setup.secrets, setup.ourRatchetKeyPair)
      consumed = setup.consumedOneTimePrekeyId
      newSession = true
      const dTopic = directTopic(setup.secrets.rootKey)
      if (contact === undefined) {
        contact = {
          id: senderKey,
          name: await this.#freeName(`request-${senderKey.slice(0, 8)}`),
          state: 'request',
          identityKey: senderKey,
          verified: false,
          identityChanged: false,
          identityHistory: [{ identityKey: senderKey, seenAt: now }],
          createdAt: now
        }
      }
      // Both sides set up a session at once: the one set up by the lower identity key wins on both sides.
      const ourPending = contact.extra?.['pendingHeader'] !== undefined && existing !== undefined
      const keepOurs = ourPending && this.#myKey < senderKey
      if (!keepOurs) {
        const oldTopic = contact.extra?.['directTopic']
        const contactId = contact.id
        // Applied only once the message decrypted: a forged first message (anyone can run respondSession's
        // inputs) must not move us off the real conversation topic (SECURITY.md, attack 4).
        reroute = () => {
          if (typeof oldTopic === 'string' && oldTopic !== dTopic) this.#unroute(oldTopic)
          this.#route(dTopic, { kind: 'direct', contactId })
        }
        contact = {
          ...contact,
          extra: { ...contact.extra, identity: header.initiator.serialize(), directTopic: dTopic, sessionHeader: headerHash, pendingHeader: undefined }
        }
      } else {
        newSession = false
      }
    }
    const { session: next, plaintext } = session.decrypt({ header: env.ratchetHeader, ciphertext: env.ciphertext })
    const content = decodeContent(unpad(plaintext))
    reroute?.()
    const b = this.#store.batch().markSeen(SEEN_SCOPE, id).putEnvelope(utf8(topic), id, env.timestamp, bytes)
    if (newSession || contact.extra?.['sessionHeader'] === headerHash) b.setSession(contact.id, next.serialize())
    if (consumed !== undefined) {
      this.#prekeys.consume(consumed)
      b.setPrekeys(this.#prekeys.serialize())
    }
    await this.#applyDirectContent(contact, content, b)
    if (consumed !== undefined) void this.#ensurePrekeys().then(() => this.#publishBundle())
    return true
  }

  async #receiveDirect(
    topic: string,
    contactId: string,
    id: Uint8Array,
    env: Extract<Envelope, { kind: 'direct' }>,
    bytes: Uint8Array
  ): Promise<boolean | 'invalid'> {
    let contact = await this.#store.getContact(contactId)
    const stateBytes = await this.#store.getSession(contactId)
    if (contact === undefined || stateBytes === undefined) return false
    const { session: next, plaintext } = RatchetSession.deserialize(stateBytes).decrypt({ header: env.ratchetHeader, ciphertext: env.ciphertext })
    const content = decodeContent(unpad(plaintext))
    if (contact.extra?.['pendingHeader'] !== undefined) {
      // The other side answered: it has the session, so later messages need no prekey header.
      contact = { ...contact, extra: { ...contact.extra, pendingHeader: undefined } }
    }
    const b = this.#store.batch().markSeen(SEEN_SCOPE, id).putEnvelope(utf8(topic), id, env.timestamp, bytes).setSession(contactId, next.serialize())
    await this.#applyDirectContent(contact, content, b)
    return true
  }

  /** Applies a decrypted 1:1 content: adds its writes to `b`, commits, then acknowledges and notifies. */
  async #applyDirectContent(contact: ContactRecord, content: Content, b: StoreBatch): Promise<void> {
    const now = Date.now()
    let ack: Uint8Array | undefined
    const notify: MessageRecord[] = []
    let moved: string | undefined
    switch (content.type) {
      case 'text': {
        const id = toHex(content.messageId)
        if (contact.extra?.['hidden'] === true) contact = { ...contact, extra: { ...contact.extra, hidden: false } }
        // A message id already stored keeps its record (ifNew) and is not acknowledged again (see below).
        b.putMessage(
          {
            id,
            conversation: contact.id,
            direction: 'in',
            sender: contact.identityKey,
            text: content.body,
            sentAt: content.sentAt,
            receivedAt: now,
            status: 'received'
          },
          { ifNew: true }
        )
        ack = content.messageId
        break
      }
      case 'receipt': {
        const status = content.receipt === 'read' ? 'read' : 'delivered'
        for (const mid of content.messageIds) {
          const hex = toHex(mid)
          const m = await this.#store.getMessage(hex)
          if (m !== undefined && m.conversation === contact.id && m.direction === 'out') {
            b.setMessageStatus(hex, status)
            notify.push({ ...m, status })
          }
          b.deleteOutbox(hex)
        }
        break
      }
      case 'profile': {
        if (contact.state === 'request' && contact.name.startsWith('request-') && content.displayName.length > 0) {
          const wanted = await this.#freeName(content.displayName)
          contact = { ...contact, name: wanted }
        }
        if (content.relays.length > 0) contact = { ...contact, extra: { ...contact.extra, relays: addressesOf(content.relays) } }
        break
      }
      case 'epoch-key-grant':
        moved = await this.#applyGrant(contact, content.grant, b)
        // An admin we never talked to: keep the session, but do not list them as a contact request.
        if (contact.state === 'request' && contact.extra?.['hidden'] === undefined) contact = { ...contact, extra: { ...contact.extra, hidden: true } }
        break
      case 'control-statement':
        break
    }
    b.putContact(contact)
    const { messages } = await b.commit()
    // A grant may have moved a community to its next epoch and removed members.
    if (content.type === 'epoch-key-grant') this.#forgetCommunities()
    if (moved !== undefined) {
      // The grant is installed whatever becomes of this post: a failure here is logged, not the message's.
      await this.#introduce(moved).catch((err) => log.error('posting the profile in a new epoch failed: %s', err))
      this.#publishFresh()
    }
    if (ack !== undefined && !messages.some((m) => m.direction === 'in')) ack = undefined
    for (const m of messages) this.#emit(messageView(m, contact.name, m.direction === 'out' ? 'me' : contact.name))
    for (const m of notify) this.#emit(messageView(m, contact.name, 'me'))
    // No receipt to an identity key the user has not accepted yet (SECURITY.md, attack 5): nothing is sent to it.
    if (ack !== undefined && !contact.identityChanged) {
      const rb = this.#store.batch()
      const sealed = await this.#encryptDirect(contact, { type: 'receipt', receipt: 'delivered', messageIds: [ack] }, rb)
      if (sealed !== undefined) {
        await rb.commit()
        void this.#node.publish(sealed.topic, sealed.envelope).catch(() => undefined)
      }
      this.#pendingSessions.clear()
    }
  }

  /**
   * A new epoch key from an admin, over 1:1: checked against the community's admins, then installed. Returns the
   * community it moved, if any.
   */
  async #applyGrant(from: ContactRecord, grantBytes: Uint8Array, b: StoreBatch): Promise<string | undefined> {
    for (const c of await this.#store.listCommunities()) {
      const admins = new Set(this.#admins(c))
      if (!admins.has(from.identityKey)) continue
      let grant: ReturnType<typeof openEpochKeyGrant>
      try {
        grant = openEpochKeyGrant(grantBytes, admins)
      } catch {
        continue
      }
      if (toHex(grant.epoch.communityId) !== c.id || grant.epoch.epoch <= c.epoch) continue
      const current = await this.#currentEpoch(c)
      const removed = (grant.statement?.removed ?? []).map((k) => toHex(k))
      // The epoch left stays readable for a while (§8.6), unless the grant skips epochs: who was removed at the
      // rotations in between is not known here, and they held this node's epoch.
      const previousEpoch: PreviousEpoch | undefined =
        grant.epoch.epoch === c.epoch + 1 ? { epoch: c.epoch, until: Date.now() + this.#timings.epochGraceMs, removed } : undefined
      const extra: StoreObject = { ...c.extra, admins: [...admins].filter((a) => !removed.includes(a)) }
      if (previousEpoch !== undefined) extra['previousEpoch'] = { ...previousEpoch }
      else delete extra['previousEpoch']
      b.putCommunity({ ...c, epoch: grant.epoch.epoch, extra })
      b.setEpochKey(c.id, grant.epoch.epoch, grant.epoch.serialize())
      for (const r of removed) b.deleteMember(c.id, r)
      await this.#dropEpochsBelow(b, c.id, previousEpoch?.epoch ?? grant.epoch.epoch)
      this.#moveCommunityTopic(c.id, current, grant.epoch, previousEpoch !== undefined)
      void this.#announceCommunity(c.id)
      return c.id
    }
    return undefined
  }

  /**
   * Posts this node's profile in the community's current epoch: on joining, and in every epoch it moves to (§8.6).
   * Then everyone who holds an epoch has posted in it, so a member who joined later (an admin among them, who grants
   * the next key to the members it knows) knows every member from the epoch's own history, silent ones included.
   */
  async #introduce(communityId: string): Promise<void> {
    await this.#postCommunityContent(communityId, { type: 'profile', displayName: this.#name, relays: [] })
  }

  /**
   * Receives one community envelope into `group` (see CommunityGroup): everything it needs is read and checked
   * first, then its writes are added to the group's batch, so a message that fails adds nothing. The caller
   * commits the group (#commitGroup); a control statement asks for that at once (`flushNow`), since it
   * changes the community record the next message is checked against.
   */
  async #receiveCommunity(
    group: CommunityGroup,
    topic: string,
    route: Extract<Route, { kind: 'community' }>,
    id: Uint8Array,
    timestamp: number,
    sealed: Uint8Array,
    bytes: Uint8Array
  ): Promise<boolean | 'invalid'> {
    const c = await this.#community(route.communityId)
    if (c === undefined) return false
    // The epoch whose topic id the envelope was checked under (#validate): the community's current one, or the one
    // it left at its last rotation while that epoch's grace period lasts (§8.6).
    const epoch = route.keys
    let previous: PreviousEpoch | undefined
    if (c.epoch !== route.epoch) {
      previous = previousEpochOf(c)
      if (previous === undefined || previous.epoch !== route.epoch) return false
      if (previous.until <= Date.now()) {
        void this.#serial(() => this.#endGrace(c.id)).catch((err) => log.error('ending a grace period failed: %s', err))
        return false
      }
    }
    const cacheKey = `${c.id}:${wholeReceiverChain(epoch.epoch)}`
    const inGroup = group.states.get(cacheKey)
    let states = inGroup?.states ?? this.#receiverCache.get(cacheKey)
    let whole = inGroup?.whole ?? false
    if (states === undefined) ({ states, whole } = await this.#loadReceiverState(c.id, epoch))
    // #receive ran #validate (or gossipsub did, before delivering): the router check of these bytes ran in
    // this process under this epoch's topic id.
    const opened = openCommunityMessage(epoch, states, sealed, { envelopeChecked: true })
    const sender = toHex(opened.senderKey)
    if (sender === this.#myKey) return false
    const content = decodeContent(opened.body)
    const now = Date.now()
    const memberKey = `${c.id}:${sender}`
    const pending = group.members.get(memberKey)
    const member = pending !== undefined ? pending.record : await this.#member(c.id, sender)
    // In the previous epoch, only members this node knew (whoever else holds that epoch's key, a leaked invite for
    // one, is what the rotation cut off), none the rotation removed, and no control statement: the community's
    // admins and members are those of the current epoch now.
    if (previous !== undefined && (member === undefined || previous.removed.includes(sender) || content.type === 'control-statement')) return false
    const admins = this.#admins(c)
    let memberRecord: MemberRecord = member ?? { id: sender, role: admins.includes(sender) ? 'admin' : 'member', joinedAt: now }
    memberRecord = { ...memberRecord, lastSeen: now }
    let control: { community: CommunityRecord; members: MemberRecord[] } | undefined
    if (content.type === 'profile' && content.displayName.length > 0) memberRecord = { ...memberRecord, name: content.displayName }
    if (content.type === 'control-statement') {
      const statement = decodeControlStatement(content.statement)
      verifyControlStatement(statement, new Set(admins), { communityId: epoch.communityId, epoch: epoch.epoch })
      const added = statement.kind === 'admin-add' ? statement.added.map((k) => toHex(k)) : []
      const members: MemberRecord[] = []
      for (const a of added) {
        const m = group.members.get(`${c.id}:${a}`)?.record ?? (await this.#store.getMember(c.id, a))
        members.push({ ...(m ?? { id: a }), role: 'admin' })
      }
      const community: CommunityRecord = {
        ...c,
        role: added.includes(this.#myKey) ? 'admin' : c.role,
        extra: { ...c.extra, admins: [...new Set([...admins, ...added])] }
      }
      control = { community, members }
    }
    // Checked and read: from here on nothing throws, and the message's writes go into the group's batch.
    group.b.putEnvelope(utf8(topic), id, timestamp, bytes)
    if (content.type === 'text') {
      // ifNew: a message id already stored (anyone's) is not replaced.
      group.b.putMessage(
        {
          id: toHex(content.messageId),
          conversation: c.id,
          direction: 'in',
          sender,
          text: content.body,
          sentAt: opened.timestamp,
          receivedAt: now,
          status: 'received'
        },
        { ifNew: true }
      )
    }
    const entry = inGroup ?? { communityId: c.id, epoch: epoch.epoch, states, chains: new Map(), skipped: false, whole }
    const change = opened.states.change
    if (change !== undefined) {
      for (const k of change.written) entry.chains.set(k, 'write')
      for (const k of change.deleted) entry.chains.set(k, 'delete')
      entry.skipped ||= change.skipped
    }
    entry.states = opened.states
    group.states.set(cacheKey, entry)
    group.names.set(c.id, `#${c.name}`)
    // A known member's lastSeen is refreshed at most once a minute: one write less per message.
    const stale = member === undefined || member.lastSeen === undefined || now - member.lastSeen > 60_000
    const write = pending?.write === true || stale || memberRecord.name !== member?.name
    group.members.set(memberKey, { communityId: c.id, record: write ? memberRecord : (member ?? memberRecord), write })
    if (control !== undefined) {
      group.b.putCommunity(control.community)
      for (const m of control.members) group.members.set(`${c.id}:${m.id}`, { communityId: c.id, record: m, write: true })
      group.flushNow = true
    }
    return true
  }

  /**
   * An epoch's committed receiver state: from its parts (§10.6), else from a whole-state record written before
   * states were stored in parts (`whole`: the next commit writes it in parts and deletes that record), else new.
   */
  async #loadReceiverState(communityId: string, epoch: CommunityEpoch): Promise<{ states: CommunityReceiverState; whole: boolean }> {
    const wholeBytes = await this.#store.getChainState(communityId, wholeReceiverChain(epoch.epoch))
    if (wholeBytes !== undefined) return { states: CommunityReceiverState.deserialize(wholeBytes), whole: true }
    const prefix = `${wholeReceiverChain(epoch.epoch)}:`
    const skippedId = receiverSkippedPart(epoch.epoch)
    const entries: Uint8Array[] = []
    let skipped: Uint8Array | undefined
    for (const { chainId, state } of await this.#store.listChainStates(communityId)) {
      if (chainId === skippedId) skipped = state
      else if (chainId.startsWith(prefix)) entries.push(state)
    }
    if (entries.length === 0 && skipped === undefined) return { states: CommunityReceiverState.create(epoch), whole: false }
    return { states: CommunityReceiverState.fromParts(epoch.communityId, epoch.epoch, entries, skipped ?? new Uint8Array(4)), whole: false }
  }

  /** Adds to `b` the parts of a receiver state that its group changed (all of them, for one read whole). */
  #writeReceiverState(b: StoreBatch, g: ReceiverStateInGroup): void {
    const { communityId, epoch, states } = g
    if (g.whole) {
      b.deleteChainState(communityId, wholeReceiverChain(epoch))
      for (const k of states.senderKeys()) b.setChainState(communityId, receiverChainPart(epoch, k), states.chainEntry(k)!)
      b.setChainState(communityId, receiverSkippedPart(epoch), states.skippedSection())
      return
    }
    for (const [k, op] of g.chains) {
      const entry = op === 'write' ? states.chainEntry(k) : undefined
      if (entry === undefined) b.deleteChainState(communityId, receiverChainPart(epoch, k))
      else b.setChainState(communityId, receiverChainPart(epoch, k), entry)
    }
    if (g.skipped) b.setChainState(communityId, receiverSkippedPart(epoch), states.skippedSection())
  }

  #newGroup(): CommunityGroup {
    return { b: this.#store.batch(), states: new Map(), members: new Map(), names: new Map(), flushNow: false }
  }

  /**
   * Commits a group of received community messages in one batch: each chain's last receiver state and each
   * member record written once, with the envelopes and messages; then the caches, then the listeners.
   */
  async #commitGroup(group: CommunityGroup): Promise<void> {
    for (const g of group.states.values()) this.#writeReceiverState(group.b, g)
    for (const m of group.members.values()) if (m.write) group.b.putMember(m.communityId, m.record)
    const { messages } = await group.b.commit()
    // The committed states are the ones to start from next time (reading them back would cost a store read).
    for (const [key, { states }] of group.states) this.#receiverCache.set(key, states)
    if (group.flushNow) {
      this.#forgetCommunities()
    } else {
      for (const m of group.members.values()) if (m.write) this.#members.get(m.communityId)?.set(m.record.id, m.record)
    }
    for (const m of messages) {
      const from = group.members.get(`${m.conversation}:${m.sender}`)?.record.name ?? shortFingerprint(m.sender)
      this.#emit(messageView(m, group.names.get(m.conversation) ?? `#${m.conversation.slice(0, 8)}`, from))
    }
  }

  /**
   * Envelopes delivered by gossip (already validated), waiting for the serial step that receives them:
   * community envelopes that arrive together are stored in one batch.
   */
  readonly #inbound: Array<{ topic: string; data: Uint8Array }> = []

  #onGossip(topic: string, data: Uint8Array): void {
    // A topic sotto has no route for is not its own (#validate ignores those; another validator on the node may not).
    if (!this.#routes.has(topic)) return
    this.#inbound.push({ topic, data })
    if (this.#inbound.length === 1) void this.#serial(() => this.#drainInbound()).catch((err) => log.error('receive failed: %s', err))
  }

  async #drainInbound(): Promise<void> {
    const items = this.#inbound.splice(0)
    let group: CommunityGroup | undefined
    const flush = async (): Promise<void> => {
      if (group === undefined) return
      const g = group
      group = undefined
      // A failed commit loses its group's messages (until a sync brings them again), not the ones after it.
      await this.#commitGroup(g).catch((err) => log.error('receive failed: %s', err))
    }
    for (const { topic, data } of items) {
      if (this.#stopped) break
      const route = this.#routes.get(topic)
      if (route?.kind !== 'community') {
        await flush()
        await this.#receive(topic, data, true).catch((err) => log.error('receive failed: %s', err))
        continue
      }
      group ??= this.#newGroup()
      // Gossipsub ran #validate on it already (the topic validator): not checked twice.
      await this.#receive(topic, data, true, group).catch((err) => log.error('receive failed: %s', err))
      if (group.flushNow) await flush()
    }
    await flush()
  }

  /** Applies an admin statement issued locally. */
  async #applyControl(c: CommunityRecord, statement: ControlStatement): Promise<void> {
    const added = statement.added.map((k) => toHex(k))
    const b = this.#store.batch().putCommunity({ ...c, extra: { ...c.extra, admins: [...new Set([...this.#admins(c), ...added])] } })
    for (const a of added) {
      const m = await this.#store.getMember(c.id, a)
      b.putMember(c.id, { ...(m ?? { id: a }), role: 'admin' })
    }
    await b.commit()
    this.#forgetCommunities()
  }

  // --- outbox --------------------------------------------------------------------------------------

  #kickOutbox(): void {
    if (this.#stopped || this.#outboxRunning) return
    this.#outboxRunning = true
    void this.#runOutbox()
      .catch((err) => log.error('outbox pass failed: %s', err))
      .finally(() => {
        this.#outboxRunning = false
      })
  }

  async #runOutbox(): Promise<void> {
    const due = await this.#store.listOutbox(Date.now())
    // One lane per conversation, in order within it (a new session's profile goes before the message that
    // set it up), OUTBOX_LANES lanes at a time: a contact that cannot be reached (dials and a DHT look-up
    // that time out) does not hold up the envelopes to everyone else.
    const lanes = new Map<string, OutboxEntry[]>()
    for (const entry of due) {
      const meta = entry.extra as unknown as OutboxMeta
      if (meta.kind === 'content') {
        // Setting up its session may wait on the network (the bundle look-up): done beside this pass.
        this.#sealSoon(entry)
        continue
      }
      const lane = lanes.get(entry.conversation)
      if (lane === undefined) lanes.set(entry.conversation, [entry])
      else lane.push(entry)
    }
    const queue = [...lanes.values()]
    const worker = async (): Promise<void> => {
      for (let lane = queue.shift(); lane !== undefined; lane = queue.shift()) {
        for (const entry of lane) {
          if (this.#stopped) return
          const meta = entry.extra as unknown as OutboxMeta
          if (meta.grant?.published === true) await this.#serial(() => this.#recheckGrant(entry))
          else await this.#deliver(entry, meta)
        }
      }
    }
    await Promise.all(Array.from({ length: Math.min(OUTBOX_LANES, queue.length) }, worker))
  }

  /** Ids of the content entries #sealSoon is working on. */
  readonly #sealing = new Set<string>()

  /**
   * Seals a content entry that waited for a session: the bundle is looked up outside the serial queue, beside
   * the look-ups of other entries (a rotation queues one per member without a session), then the entry
   * becomes an envelope in a serial step. At most MAX_SEALING at a time; the next outbox pass takes the rest.
   */
  #sealSoon(entry: OutboxEntry): void {
    if (this.#sealing.has(entry.id) || this.#sealing.size >= MAX_SEALING) return
    this.#sealing.add(entry.id)
    void (async () => {
      const contact = await this.#store.getContact(entry.conversation)
      // A contact whose new identity key is not accepted yet gets nothing (#sealQueuedContent leaves it queued).
      const needsBundle = contact !== undefined && !contact.identityChanged && (await this.#store.getSession(contact.id)) === undefined
      // A look-up that ran out of time is given more the next time: on a starved machine a DHT query may need
      // more than the first limit, and the same limit again would fail the same way.
      const timeoutMs = Math.min(BUNDLE_LOOKUP_MS * 2 ** entry.attempts, MAX_BUNDLE_LOOKUP_MS)
      const bundle = needsBundle ? await this.#lookupBundle(contact, timeoutMs) : undefined
      if (this.#stopped) return
      await this.#serial(() => this.#sealQueuedContent(entry, { bundle }))
    })()
      .catch((err) => log.error('sealing a queued content failed: %s', err))
      .finally(() => this.#sealing.delete(entry.id))
  }

  /**
   * A published grant is due again (GrantMeta): dropped once the member's node is seen on the granted epoch's
   * topic, the community has moved on, or it was sent again GRANT_RESENDS times; else encrypted again (a new
   * ratchet message, so not a gossip duplicate) and published.
   */
  async #recheckGrant(entry: OutboxEntry): Promise<void> {
    const current = await this.#store.getOutbox(entry.id)
    const g = (current?.extra as unknown as OutboxMeta | undefined)?.grant
    if (current === undefined || g === undefined || !g.published) return
    const contact = await this.#store.getContact(current.conversation)
    const c = await this.#store.getCommunity(g.communityId)
    if (contact === undefined || c === undefined || c.epoch !== g.epoch || g.resends >= GRANT_RESENDS || (await this.#holdsEpoch(contact, g))) {
      log('grant %s: done after %d resends', current.id.slice(0, 8), g.resends)
      await this.#store.deleteOutbox(current.id)
      return
    }
    const content: Content = { type: 'epoch-key-grant', grant: g.grant }
    const grant: GrantMeta = { ...g, published: false, resends: g.resends + 1 }
    const b = this.#store.batch()
    try {
      const sealed = await this.#encryptDirect(contact, content, b, { bundle: undefined })
      b.putOutbox(
        sealed === undefined
          ? { ...current, payload: encodeContent(content), nextAttemptAt: Date.now(), extra: { kind: 'content', topic: '', scope: 'direct', grant } satisfies OutboxMeta as unknown as Record<string, string> }
          : {
              ...current,
              payload: sealed.envelope,
              nextAttemptAt: Date.now(),
              extra: { kind: 'envelope', topic: sealed.topic, scope: 'direct', grant } satisfies OutboxMeta as unknown as Record<string, string>
            }
      )
      await b.commit()
    } finally {
      this.#pendingSessions.clear()
    }
    log('grant %s: not seen on the new topic, sent again (%d)', current.id.slice(0, 8), grant.resends)
    this.#kickOutboxSoon()
  }

  /** Whether the contact's node is subscribed to the topic of epoch `g.epoch` (it holds that epoch's key). */
  async #holdsEpoch(contact: ContactRecord, g: GrantMeta): Promise<boolean> {
    const epoch = await this.#epochOf(g.communityId, g.epoch)
    if (epoch === undefined) return false
    const onTopic = new Set(this.#node.topicPeers(communityTopic(epoch.topicId)))
    // The contact's node: the peer record's peer id if known, and whoever keeps its inbox (a relay there is
    // not on a community topic).
    const nodes = this.#node.topicPeers(inboxTopic(fromHex(contact.identityKey)))
    if (contact.peerId !== undefined) nodes.push(contact.peerId)
    return nodes.some((p) => onTopic.has(p))
  }

  /** Publishes one outbox envelope and records the outcome (sent; deleted, or due again later). */
  async #deliver(entry: OutboxEntry, meta: OutboxMeta): Promise<void> {
    await this.#reachTopic(entry.conversation, meta.topic)
    const result = await this.#node.publish(meta.topic, entry.payload).catch((err) => log('publish failed: %s', err))
    log('outbox %s -> %s: %o', entry.id.slice(0, 8), meta.topic.slice(0, 20), result)
    const delivered = result !== undefined && (result.recipients > 0 || result.duplicate)
    this.#outcomes.push({ entry, meta, delivered })
    this.#outcomeTimer ??= setTimeout(() => {
      this.#outcomeTimer = undefined
      void this.#serial(() => this.#recordOutcomes()).catch((err) => log.error('outbox update failed: %s', err))
    }, OUTCOME_DELAY_MS)
  }

  /**
   * Publication outcomes not recorded yet. They ride in the batch of the next community post (#recordOutcomes
   * with its batch), or go in one batch of their own after OUTCOME_DELAY_MS: a sender writes one batch per
   * message instead of two.
   */
  readonly #outcomes: Array<{ entry: OutboxEntry; meta: OutboxMeta; delivered: boolean }> = []
  #outcomeTimer: NodeJS.Timeout | undefined

  /**
   * Adds the pending publication outcomes to `into` (or to a batch of their own, committed here): a message a
   * peer took is 'sent'; an entry done is deleted, one not done is due again later. Returns the views to show
   * once the batch is committed.
   */
  async #recordOutcomes(into?: StoreBatch): Promise<MessageView[]> {
    const outcomes = this.#outcomes.splice(0)
    if (this.#outcomeTimer !== undefined && into !== undefined) {
      clearTimeout(this.#outcomeTimer)
      this.#outcomeTimer = undefined
    }
    const views: MessageView[] = []
    if (outcomes.length === 0) return views
    const b = into ?? this.#store.batch()
    const done = new Set<string>()
    for (const { entry, meta, delivered } of outcomes) {
      // The same entry twice (an outbox pass published it again): the first outcome that ends it wins.
      if (done.has(entry.id)) continue
      // A community post a peer took is done whatever its stored entry says: it is deleted without reading it (one
      // read and decode less on the way to publishing the next post, whose batch this is).
      const communityDone = delivered && meta.scope === 'community' && meta.grant === undefined
      const current = communityDone ? undefined : await this.#store.getOutbox(entry.id)
      if (!communityDone && current === undefined) continue
      if (delivered && entry.messageId !== undefined) {
        const m = await this.#store.getMessage(entry.messageId)
        if (m !== undefined && m.status === 'queued') {
          b.setMessageStatus(m.id, 'sent')
          views.push(await this.#view({ ...m, status: 'sent' }, new Map()))
        }
      }
      if (current === undefined) {
        b.deleteOutbox(entry.id)
        done.add(entry.id)
        continue
      }
      const grant = (current.extra as unknown as OutboxMeta).grant
      if (delivered && grant !== undefined) {
        // A grant is checked again later (GrantMeta), after a back-off that doubles with each resend.
        const delay = Math.min(this.#timings.outboxBackoffMs * 2 ** grant.resends, this.#timings.outboxMaxBackoffMs)
        // Not synced (here and below): only the entry's schedule changes; its envelope and the state that sealed
        // it were synced when it was queued, and a schedule rolled back by a power cut costs one retry more.
        b.putOutbox(
          {
            ...current,
            attempts: current.attempts + 1,
            nextAttemptAt: Date.now() + delay,
            extra: { ...current.extra, grant: { ...grant, published: true } } as unknown as Record<string, string>
          },
          { sync: false }
        )
        done.add(entry.id)
        continue
      }
      // Only 1:1 texts are acknowledged (a delivery receipt deletes them): everything else (community
      // posts, a session's profile) is done once a peer on its topic took it.
      if (delivered && (meta.scope === 'community' || entry.messageId === undefined)) {
        b.deleteOutbox(entry.id)
        done.add(entry.id)
      } else {
        const attempts = current.attempts + 1
        const delay = delivered
          ? Math.min(this.#timings.outboxBackoffMs * 2 ** Math.min(attempts, 16), this.#timings.outboxMaxBackoffMs)
          : this.#timings.outboxIntervalMs
        b.putOutbox({ ...current, attempts, nextAttemptAt: Date.now() + delay }, { sync: false })
      }
    }
    if (into !== undefined) return views
    await b.commit()
    for (const v of views) this.#emit(v)
    return []
  }

  /**
   * Envelopes queued by the serial step that just ran: `send` publishes them at once instead of waiting for
   * the next outbox pass (which still retries them).
   */
  readonly #fresh: OutboxEntry[] = []

  #publishFresh(): void {
    for (const entry of this.#fresh.splice(0)) {
      const meta = entry.extra as unknown as OutboxMeta
      if (meta.kind === 'envelope') void this.#deliver(entry, meta).catch((err) => log('publish failed: %s', err))
    }
  }

  /**
   * A content that waited for a session: try to set one up now (from `prefetched`, looked up before this
   * serial step), and turn the entry into an envelope.
   */
  async #sealQueuedContent(entry: OutboxEntry, prefetched: { bundle: PrekeyBundle | undefined }): Promise<void> {
    const contact = await this.#store.getContact(entry.conversation)
    const current = await this.#store.getOutbox(entry.id)
    // Gone, or sealed meanwhile (an earlier #sealSoon of the same entry, listed before it was done).
    if (current === undefined || (current.extra as unknown as OutboxMeta).kind !== 'content') return
    if (contact === undefined) {
      await this.#store.deleteOutbox(entry.id)
      return
    }
    if (contact.identityChanged) return
    const b = this.#store.batch()
    try {
      const sealed = await this.#encryptDirect(contact, decodeContent(current.payload), b, prefetched)
      if (sealed === undefined) {
        b.putOutbox({ ...current, attempts: current.attempts + 1, nextAttemptAt: Date.now() + this.#timings.outboxBackoffMs })
      } else {
        b.putOutbox({
          ...current,
          payload: sealed.envelope,
          nextAttemptAt: Date.now(),
          extra: { ...current.extra, kind: 'envelope', topic: sealed.topic, scope: 'direct' } satisfies OutboxMeta as unknown as Record<string, string>
        })
      }
      await b.commit()
    } finally {
      this.#pendingSessions.clear()
    }
    this.#kickOutboxSoon()
  }

  #kickOutboxSoon(): void {
    setTimeout(() => this.#kickOutbox(), 10).unref()
  }

  // --- reaching peers ------------------------------------------------------------------------------

  /** Connects to a contact's node if we know how (invite addresses, peer id through the DHT). */
  async #reach(contact: ContactRecord): Promise<void> {
    if (contact.peerId !== undefined && this.#node.peers().includes(contact.peerId)) return
    this.#dialRelaysOf(contact)
    for (const a of contact.addresses ?? []) {
      try {
        await this.#node.dial(a)
        return
      } catch {
        // try the next address
      }
    }
    if (contact.peerId !== undefined) {
      try {
        await this.#node.dial(contact.peerId)
        return
      } catch {
        // not reachable at the known peer id: ask the DHT where the contact's node is now
      }
    }
    await this.#reachThroughDht(contact)
  }

  /** Looks up the contact's signed peer record in the DHT and dials what it names; remembers it. */
  async #reachThroughDht(contact: ContactRecord): Promise<void> {
    try {
      const value = await this.#node.getRecord(peerRecordKey(fromHex(contact.identityKey)), { timeoutMs: 5_000 })
      if (value === undefined) return
      const record = decodePeerRecord(value)
      if (toHex(record.signingKey) !== contact.identityKey) return
      const peerId = peerIdFromBytes(record.peerId)
      const addresses = record.addresses.map((a) => `${multiaddrFromBytes(a)}/p2p/${peerId}`)
      for (const a of addresses) {
        try {
          await this.#node.dial(a)
          break
        } catch {
          // next address
        }
      }
      const relays = record.relays.map((a) => multiaddrFromBytes(a))
      // Not through #serial: this runs inside serial steps (sending), and the write touches only these fields.
      const current = await this.#store.getContact(contact.id)
      if (current !== undefined) {
        const updated = { ...current, peerId, addresses, ...(relays.length > 0 ? { extra: { ...current.extra, relays } } : {}) }
        await this.#store.putContact(updated)
        this.#dialRelaysOf(updated)
      }
    } catch (err) {
      log('peer record lookup for %s failed: %s', contact.name, err)
    }
  }

  async #reachTopic(conversation: string, topic: string): Promise<void> {
    if (this.#node.topicPeers(topic).length > 0) return
    const contact = await this.#store.getContact(conversation)
    if (contact !== undefined) await this.#reach(contact)
  }

  /** Announces this node as a member of a community (rendezvous) and connects to the others found. */
  async #announceCommunity(communityId: string): Promise<void> {
    try {
      const c = await this.#store.getCommunity(communityId)
      if (c === undefined) return
      const epoch = await this.#currentEpoch(c)
      const key = rendezvousKey(epoch.topicId)
      await this.#node.provide(key, { timeoutMs: 10_000 }).catch(() => undefined)
      await this.#node.findProviders(key, { timeoutMs: 10_000 }).catch(() => undefined)
      // A member still in the epoch left (its grant not arrived yet) finds the members there during its grace period.
      const left = await this.#graceEpochOf(c)
      if (left !== undefined) await this.#node.provide(rendezvousKey(left.topicId), { timeoutMs: 10_000 }).catch(() => undefined)
    } catch (err) {
      log('announce failed: %s', err)
    }
  }

  // --- relays ------------------------------------------------------------------------------------

  /** Connects to one of our relays; once connected, `#onRelayConnect` asks it to serve our topics. */
  async #useRelay(address: string): Promise<void> {
    const peer = peerOfAddress(address)
    if (this.#stopped || peer === undefined) return
    if (this.#node.peers().includes(peer)) return this.#askRelay(address)
    try {
      await this.#node.dial(address)
    } catch (err) {
      log('relay %s unreachable: %s', address, err)
    }
  }

  #onRelayConnect(peerId: string): void {
    if (!this.#relaysReady) return
    for (const r of this.#relays) if (peerOfAddress(r) === peerId) void this.#askRelay(r)
  }

  /**
   * Asks a relay (PROTOCOL.md §15.10) to keep our inbox and 1:1 topics (or `topics`), then syncs those it
   * serves with it: what arrived there while we were away comes now, what we hold that it lacks goes there.
   */
  async #askRelay(address: string, topics?: string[]): Promise<void> {
    const peer = peerOfAddress(address)
    const wanted = topics ?? [...this.#routes].filter(([, r]) => r.kind !== 'community').map(([t]) => t)
    if (this.#stopped || peer === undefined || wanted.length === 0) return
    try {
      if (!this.#node.peers().includes(peer)) await this.#node.dial(address)
      const statuses = await requestRelayService(this.#node, peer, wanted)
      const served = wanted.filter((_, i) => statuses[i] === RelayTopicStatus.Served)
      log('relay %s serves %d of %d topics', peer, served.length, wanted.length)
      if (served.length > 0 && !this.#stopped) await this.#sync?.syncWith(peer, served)
    } catch (err) {
      log('relay %s: %s', address, err)
    }
  }

  /** Our relays as binary multiaddrs, for invites and profiles. */
  #relayBytes(): Uint8Array[] {
    const out: Uint8Array[] = []
    for (const r of this.#relays.slice(0, 8)) {
      try {
        out.push(multiaddrToBytes(r))
      } catch {
        // not encodable: left out
      }
    }
    return out
  }

  /** Connects (in the background) to the relays a contact named, so what we publish for it reaches them. */
  #dialRelaysOf(contact: ContactRecord): void {
    const relays = contact.extra?.['relays']
    if (!Array.isArray(relays)) return
    for (const r of relays) {
      if (typeof r !== 'string') continue
      const peer = peerOfAddress(r)
      if (peer !== undefined && !this.#node.peers().includes(peer)) void this.#node.dial(r).catch(() => undefined)
    }
  }

  // --- prekeys -------------------------------------------------------------------------------------

  /** Tops up one-time prekeys and rotates the signed (and ML-KEM) prekey once it is SIGNED_PREKEY_MAX_AGE_MS old. */
  async #ensurePrekeys(): Promise<void> {
    let changed = false
    if (this.#prekeys.oneTimeCount < MIN_ONE_TIME_PREKEYS) {
      this.#prekeys.addOneTimePrekeys(ONE_TIME_PREKEY_BATCH)
      changed = true
    }
    const age = Date.now() - this.#prekeys.signedPrekeyCreatedAt
    if (age > SIGNED_PREKEY_MAX_AGE_MS) {
      this.#prekeys.rotate(this.#identity)
      changed = true
    }
    if (changed) await this.#store.setPrekeys(this.#prekeys.serialize())
  }

  async #publishBundle(): Promise<void> {
    if (this.#stopped) return
    try {
      const bundle = this.#prekeys.bundle(this.#identity)
      await this.#store.setPrekeys(this.#prekeys.serialize())
      const key = prekeyRecordKey(this.#identity.publicKey.signingKey)
      this.#bundleReach = await this.#node.putRecord(key, encodePrekeyRecord(bundle.encode()), { timeoutMs: 10_000 })
      await this.#publishPeerRecord()
      log('bundle published to %d peers', this.#bundleReach)
      if (this.#bundleReach === 0) this.#republishWhenDhtPeers()
    } catch (err) {
      log('bundle publication failed: %s', err)
    }
  }

  /** Publishes which peer id and addresses this identity's node has now (§13.13), signed by the identity key. */
  async #publishPeerRecord(): Promise<void> {
    const addresses = this.#node
      .addresses()
      .slice(0, 8)
      .map((a) => multiaddrToBytes(withoutPeer(a)))
    const record = encodePeerRecord(
      {
        signingKey: this.#identity.publicKey.signingKey,
        sequence: Date.now(),
        peerId: peerIdToBytes(this.#node.peerId),
        addresses,
        relays: this.#relayBytes()
      },
      (m) => this.#identity.sign(m)
    )
    await this.#node.putRecord(peerRecordKey(this.#identity.publicKey.signingKey), record, { timeoutMs: 10_000 })
  }

  /** A bundle published while no DHT peer was known reached no one: publish again once there is one. */
  #republishWhenDhtPeers(): void {
    if (this.#bundleWait !== undefined || this.#stopped) return
    this.#bundleWait = new AbortController()
    this.#node
      .waitForDhtPeers(1, this.#bundleWait.signal)
      .then(() => {
        this.#bundleWait = undefined
        return this.#publishBundle()
      })
      .catch(() => {
        this.#bundleWait = undefined
      })
  }

  /**
   * The contact's prekey bundle: cached, or from the DHT (checked against the contact's identity). Also
   * connects to the contact's node meanwhile, so that the first message can go out at once.
   */
  async #bundleOf(contact: ContactRecord): Promise<PrekeyBundle | undefined> {
    // Two independent network waits (each up to a DHT time-out on a loaded machine): run side by side.
    const [, bundle] = await Promise.all([this.#reach(contact), this.#lookupBundle(contact, 5_000)])
    return bundle
  }

  /** The contact's prekey bundle from the DHT, else the cached one; no connection is made and nothing is written. */
  async #lookupBundle(contact: ContactRecord, timeoutMs: number): Promise<PrekeyBundle | undefined> {
    let bytes: Uint8Array | undefined
    try {
      // Not the whole query: on a loaded machine it runs to the time limit although the record came early.
      const record = await this.#node.getRecord(prekeyRecordKey(fromHex(contact.identityKey)), { timeoutMs, settleMs: BUNDLE_SETTLE_MS })
      if (record !== undefined) bytes = decodePrekeyRecord(record)
    } catch (err) {
      log('bundle lookup failed: %s', err)
    }
    bytes ??= contact.prekeyBundle
    log('bundle of %s: %s', contact.name, bytes === undefined ? 'not found' : 'found')
    if (bytes === undefined) return undefined
    try {
      const bundle = PrekeyBundle.decode(bytes)
      if (!equalBytes(bundle.identity.signingKey, fromHex(contact.identityKey))) return undefined
      return bundle
    } catch {
      return undefined
    }
  }

  // --- sync ----------------------------------------------------------------------------------------

  #syncTopics(): string[] {
    return [...this.#routes.keys()]
  }

  // --- helpers -------------------------------------------------------------------------------------

  #route(topic: string, route: Route): void {
    this.#routes.set(topic, route)
    this.#node.subscribe(topic)
    // A new 1:1 topic: our relays should keep it for us too.
    if (route.kind !== 'community' && this.#relaysReady) for (const r of this.#relays) void this.#askRelay(r, [topic])
  }

  #unroute(topic: string): void {
    this.#routes.delete(topic)
    this.#node.unsubscribe(topic)
  }

  /** Unroutes the community's topics of the epochs below `below`. */
  #unrouteCommunity(communityId: string, below: number): void {
    for (const [topic, route] of this.#routes) {
      if (route.kind === 'community' && route.communityId === communityId && route.epoch < below) this.#unroute(topic)
    }
  }

  /**
   * Routes the community's new epoch. The epoch left keeps its route while its messages are still taken
   * (`keepFrom`, §8.6); any earlier epoch's route goes.
   */
  #moveCommunityTopic(communityId: string, from: CommunityEpoch, to: CommunityEpoch, keepFrom = true): void {
    this.#unrouteCommunity(communityId, keepFrom ? from.epoch : from.epoch + 1)
    this.#route(communityTopic(to.topicId), { kind: 'community', communityId, epoch: to.epoch, keys: to })
  }

  /**
   * Adds to `b` the deletion of the community's epoch keys and chain states (sender and receiver, §10.6) of every
   * epoch below `below`, and forgets them here: once an epoch's messages are no longer taken, its keys only expose
   * them (envelopes of it that someone kept).
   */
  async #dropEpochsBelow(b: StoreBatch, communityId: string, below: number): Promise<void> {
    for (const { chainId } of await this.#store.listChainStates(communityId)) {
      const e = epochOfChain(chainId)
      if (e === undefined || e >= below) continue
      b.deleteChainState(communityId, chainId)
      this.#receiverCache.delete(`${communityId}:${wholeReceiverChain(e)}`)
      this.#resumableChains.delete(`${communityId}:${senderChain(e)}`)
    }
    for (const { epoch } of await this.#store.listEpochKeys(communityId)) {
      if (epoch >= below) continue
      b.deleteEpochKey(communityId, epoch)
      this.#epochCache.delete(`${communityId}:${epoch}`)
    }
  }

  /** The community's previous epoch, opened, while its grace period lasts (§8.6); else undefined. */
  async #graceEpochOf(c: CommunityRecord): Promise<CommunityEpoch | undefined> {
    const previous = previousEpochOf(c)
    return previous !== undefined && previous.until > Date.now() ? this.#epochOf(c.id, previous.epoch) : undefined
  }

  /**
   * Ends the grace period of a community's previous epoch once it is over (§8.6): its route goes, its key and chain
   * states are deleted, and the community record no longer names it.
   */
  async #endGrace(communityId: string): Promise<void> {
    const c = await this.#store.getCommunity(communityId)
    const previous = c === undefined ? undefined : previousEpochOf(c)
    if (c === undefined || previous === undefined || previous.until > Date.now()) return
    const extra: StoreObject = { ...c.extra }
    delete extra['previousEpoch']
    const b = this.#store.batch().putCommunity({ ...c, extra })
    await this.#dropEpochsBelow(b, c.id, c.epoch)
    await b.commit()
    this.#forgetCommunities()
    this.#unrouteCommunity(c.id, c.epoch)
  }

  /** #endGrace for every community whose previous epoch's grace period is over. */
  async #endGraces(): Promise<void> {
    for (const c of await this.#store.listCommunities()) {
      const previous = previousEpochOf(c)
      if (previous !== undefined && previous.until <= Date.now()) await this.#endGrace(c.id)
    }
  }

  /** Date.now(), but strictly after the previous own message (two sends in one millisecond keep their order). */
  #sendClock(): number {
    this.#lastSentAt = Math.max(Date.now(), this.#lastSentAt + 1)
    return this.#lastSentAt
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => undefined)
    return run
  }

  #emit(view: MessageView): void {
    for (const l of this.#listeners) {
      try {
        l(view)
      } catch (err) {
        log.error('listener failed: %s', err)
      }
    }
  }

  #admins(c: CommunityRecord): string[] {
    const a = c.extra?.['admins']
    return Array.isArray(a) ? (a as string[]) : []
  }

  async #epochOf(communityId: string, epoch: number): Promise<CommunityEpoch | undefined> {
    // An epoch's key never changes, and deriving its keys (topic signing key pair) costs more than the
    // message that needs it: keep the opened epochs of this run.
    const cacheKey = `${communityId}:${epoch}`
    const cached = this.#epochCache.get(cacheKey)
    if (cached !== undefined) return cached
    const bytes = await this.#store.getEpochKey(communityId, epoch)
    if (bytes === undefined) return undefined
    const opened = CommunityEpoch.deserialize(bytes)
    this.#epochCache.set(cacheKey, opened)
    return opened
  }

  async #currentEpoch(c: CommunityRecord): Promise<CommunityEpoch> {
    const e = await this.#epochOf(c.id, c.epoch)
    if (e === undefined) throw new UnknownCommunityError(c.name)
    return e
  }

  async #contactByName(name: string): Promise<ContactRecord> {
    const c = await this.#store.getContactByName(name)
    if (c === undefined) throw new UnknownContactError(name)
    return c
  }

  async #communityByName(name: string): Promise<CommunityRecord> {
    const n = name.startsWith('#') ? name.slice(1) : name
    const known = this.#communityIds.get(n)
    if (known !== undefined) {
      const c = await this.#community(known)
      if (c?.name === n) return c
    }
    const generation = this.#communityGeneration
    const c = await this.#store.getCommunityByName(n)
    if (c === undefined) throw new UnknownCommunityError(n)
    if (generation === this.#communityGeneration) {
      this.#communities.set(c.id, c)
      this.#communityIds.set(n, c.id)
    }
    return c
  }

  /** The community record (see #communities). */
  async #community(id: string): Promise<CommunityRecord | undefined> {
    const cached = this.#communities.get(id)
    if (cached !== undefined) return cached
    const generation = this.#communityGeneration
    const c = await this.#store.getCommunity(id)
    if (c !== undefined && generation === this.#communityGeneration) this.#communities.set(id, c)
    return c
  }

  /** A member record of a community, or undefined (see #members). */
  async #member(communityId: string, memberId: string): Promise<MemberRecord | undefined> {
    let known = this.#members.get(communityId)
    if (known?.has(memberId)) return known.get(memberId)
    const generation = this.#communityGeneration
    const m = await this.#store.getMember(communityId, memberId)
    if (generation === this.#communityGeneration) {
      if (known === undefined) {
        known = new Map()
        this.#members.set(communityId, known)
      }
      // Bounded: a community with very many active members just reads some of them again.
      if (known.size >= MAX_CACHED_MEMBERS) known.clear()
      known.set(memberId, m)
    }
    return m
  }

  /** After a commit that wrote a community or its members: the next read goes to the store. */
  #forgetCommunities(): void {
    this.#communityGeneration++
    this.#communities.clear()
    this.#communityIds.clear()
    this.#members.clear()
  }

  async #conversationId(to: string): Promise<string> {
    if (to.startsWith('#')) return (await this.#communityByName(to)).id
    return (await this.#contactByName(to)).id
  }

  async #freeName(wanted: string): Promise<string> {
    const base = wanted.trim().slice(0, 56) || 'contact'
    let name = base
    for (let i = 2; (await this.#store.getContactByName(name)) !== undefined; i++) name = `${base}-${i}`
    return name
  }

  async #view(m: MessageRecord, cache: Map<string, string>): Promise<MessageView> {
    let conv = cache.get(m.conversation)
    if (conv === undefined) {
      const cached = this.#communities.get(m.conversation)
      const contact = cached === undefined ? await this.#store.getContact(m.conversation) : undefined
      conv = contact ? contact.name : `#${(cached ?? (await this.#store.getCommunity(m.conversation)))?.name ?? m.conversation.slice(0, 8)}`
      cache.set(m.conversation, conv)
    }
    let from = 'me'
    if (m.direction === 'in') {
      if (conv.startsWith('#')) {
        const member = await this.#store.getMember(m.conversation, m.sender)
        from = member?.name ?? shortFingerprint(m.sender)
      } else {
        from = conv
      }
    }
    return messageView(m, conv, from)
  }
}

/** The peer id at the end of a multiaddr (`.../p2p/<id>`), or undefined. */
function peerOfAddress(address: string): string | undefined {
  const i = address.lastIndexOf('/p2p/')
  return i >= 0 ? address.slice(i + 5) : undefined
}

/** Binary multiaddrs from the wire as strings; undecodable ones are left out. */
function addressesOf(bytes: Uint8Array[]): string[] {
  const out: string[] = []
  for (const b of bytes) {
    try {
      out.push(multiaddrFromBytes(b))
    } catch {
      // left out
    }
  }
  return out
}

/** A multiaddr without its trailing /p2p/<id> (the invite carries the peer id separately). */
function withoutPeer(address: string): string {
  const i = address.lastIndexOf('/p2p/')
  return i >= 0 ? address.slice(0, i) : address
}
