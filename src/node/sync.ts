/**
 * The sync service: the `/sotto/sync/1.0.0` libp2p stream protocol (docs/PROTOCOL.md §15.7-15.9).
 *
 * Per topic, the initiator opens a stream, sends OPEN (topic and its first reconciliation message), and
 * both sides exchange RECONCILE frames until the initiator knows which envelopes each side lacks. It then
 * asks for the sizes of the envelopes it needs (WANT/SIZES), fetches them in bounded batches
 * (FETCH/ENVELOPES) and pushes the ones the responder needs (ENVELOPES/ACK), then sends DONE. Every
 * envelope received either way goes to the injected `onEnvelope`, the same validation/decryption/store path
 * as gossip, so a message is stored once whichever way it came; an interrupted sync is simply run again
 * (nothing stored is asked for twice, since it is then in the source).
 *
 * Bounds: every frame is length-prefixed and size-checked before it is read, every read and the whole
 * session are time-boxed, rounds, ids and envelopes per session are capped, and so are sessions per
 * peer. A peer that breaks the protocol is disconnected, reported through `onMisbehaviour`, and refused
 * for a while.
 */
import { setMaxListeners } from 'node:events'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { type LengthPrefixedStream, lpStream } from '@libp2p/utils'
import {
  DEFAULT_FRAME_LIMITS,
  decodeFrame,
  ENVELOPE_RECORD_OVERHEAD,
  ENVELOPES_FRAME_OVERHEAD,
  type EnvelopeRecord,
  encodeFrame,
  type FrameLimits,
  FrameType,
  ID_BYTES,
  Reconciler,
  RejectReason,
  SYNC_PROTOCOL,
  type SyncFrame,
  type SyncItemSource,
  SyncAbortedError,
  SyncLimitError,
  SyncProtocolError,
  SyncTimeoutError,
  SyncUsageError,
  snapshotSource,
  UnexpectedSyncFrameError
} from '../protocol/sync/index.js'
import { libp2pOf } from './internal.js'
import type { SottoNode } from './node.js'

export {
  type Bound,
  envelopeStoreSource,
  MemorySyncItemSource,
  SYNC_PROTOCOL,
  type SyncItem,
  type SyncItemSource
} from '../protocol/sync/index.js'

const log = logger('sotto:sync')

/** Sessions run back to back for one topic while each moved its maximum of envelopes. */
const MAX_CONTINUATIONS = 8

/** Bounds of the service; frame limits (§15.8) must match the peer's, the rest are local policy. */
export interface SyncLimits extends FrameLimits {
  /** Whole-session time box, ms (default 600,000; rounds and envelopes are capped too, this is a backstop). */
  readonly sessionTimeoutMs: number
  /** Time box of each read of a frame from the peer, ms (default 20,000). */
  readonly frameTimeoutMs: number
  /** Most RECONCILE frames from one side in a session (default 256). */
  readonly maxRounds: number
  /** Most envelopes transferred in each direction in a session; the rest waits for the next one (default 20,000). */
  readonly maxEnvelopesPerSession: number
  /** Most concurrent inbound sessions from one peer (default 2). */
  readonly maxInboundSessionsPerPeer: number
  /** Most concurrent inbound sessions in all (default 32). */
  readonly maxInboundSessions: number
  /** Envelopes that `onEnvelope` calls 'invalid' before the sender counts as misbehaving (default 4). */
  readonly maxInvalidEnvelopes: number
  /** How long a misbehaving peer is refused, ms (default 600,000). */
  readonly banMs: number
  /** A topic with at most this many items is read into memory once per session (default 100,000). */
  readonly snapshotMaxItems: number
}

/** The default limits. */
export const DEFAULT_SYNC_LIMITS: SyncLimits = Object.freeze({
  ...DEFAULT_FRAME_LIMITS,
  sessionTimeoutMs: 600_000,
  frameTimeoutMs: 20_000,
  maxRounds: 256,
  maxEnvelopesPerSession: 20_000,
  maxInboundSessionsPerPeer: 2,
  maxInboundSessions: 32,
  maxInvalidEnvelopes: 4,
  banMs: 600_000,
  snapshotMaxItems: 100_000
})

/**
 * What `onEnvelope` says about an envelope received by sync: `true` it was new, valid and stored;
 * `false` it was not stored (already held, or not for us, e.g. an epoch we have no key for); `'invalid'`
 * it is malformed or not signed by a key holder, which counts against the peer that sent it.
 */
export type EnvelopeVerdict = boolean | 'invalid'

/** Progress counters (for the CLI's progress display). */
export interface SyncProgress {
  /** Envelopes found missing here, summed over sessions. */
  envelopesToFetch: number
  /** Envelopes received and handed to `onEnvelope`. */
  envelopesFetched: number
  /** Bytes of the missing envelopes that the peers hold (known after WANT/SIZES). */
  bytesToFetch: number
  /** Envelope bytes received. */
  bytesFetched: number
  /** Envelopes pushed to peers that lacked them. */
  envelopesPushed: number
  /** Sessions running now. */
  activeSessions: number
}

/** A progress event: the session's own counters and the service's totals. */
export interface SyncProgressEvent {
  peer: string
  topic: string
  session: SyncProgress
  total: SyncProgress
}

/** The outcome of one initiated session. */
export interface SyncResult {
  peer: string
  topic: string
  /** 'complete'; 'refused' when the responder does not serve the topic or is busy; 'failed' (onSession only) when it threw. */
  status: 'complete' | 'refused' | 'failed'
  /** Ids we held that the peer lacked / the peer held that we lacked. */
  haveCount: number
  needCount: number
  /** Envelopes fetched and stored (`onEnvelope` returned true), fetched in all, pushed. */
  stored: number
  fetched: number
  pushed: number
  /** RECONCILE round trips, and the bytes of the reconciliation phase (frames, both directions). */
  rounds: number
  reconcileBytes: number
  /** All frame bytes sent and received in the session. */
  bytesSent: number
  bytesReceived: number
}

/** Injected dependencies and settings of the sync service. */
export interface SyncServiceInit {
  /** The node whose libp2p instance carries the protocol (or pass `libp2p`). */
  node?: SottoNode
  /** A libp2p instance, instead of `node` (tests, other embeddings). */
  libp2p?: Libp2p
  /** The topics this node serves (its communities and 1:1 topics, or a relay's list). */
  topics(): string[]
  /** The items (timestamp, envelope id) this node holds for a topic. */
  source(topic: string): SyncItemSource | Promise<SyncItemSource>
  /** The stored envelope of a topic by id, or undefined. */
  getEnvelope(topic: string, id: Uint8Array): Promise<Uint8Array | undefined>
  /** Runs an envelope received by sync through the same path as gossip (validate, decrypt, store). */
  onEnvelope(topic: string, id: Uint8Array, bytes: Uint8Array): Promise<EnvelopeVerdict>
  /** Period of the background sync with every connected peer, ms; 0 turns it off (default 60,000). */
  intervalMs?: number
  /** Sync when a peer that speaks the protocol connects (default true; the lower peer id initiates). */
  syncOnConnect?: boolean
  /** Limits; unspecified ones take `DEFAULT_SYNC_LIMITS`. */
  limits?: Partial<SyncLimits>
  /** Called as sessions progress. */
  onProgress?(event: SyncProgressEvent): void
  /** Called when a session ends, complete, refused or failed (initiated ones only). */
  onSession?(result: SyncResult): void
  /** Called when a peer broke the protocol (after it was disconnected), e.g. to score it down. */
  onMisbehaviour?(peer: string, error: Error): void
}

/** The sync service. */
export interface SyncService {
  /** Registers the protocol handler and topology, and starts the periodic sync. */
  start(): Promise<void>
  /** Stops the timer, aborts running sessions, unregisters. */
  stop(): Promise<void>
  /** Syncs the given topics (default: all of `topics()`) with a connected peer, one topic after another. */
  syncWith(peer: string, topics?: string[], signal?: AbortSignal): Promise<SyncResult[]>
  /** Syncs one topic with a peer. Throws `SyncProtocolError` subclasses if the peer misbehaved. */
  syncTopic(peer: string, topic: string, signal?: AbortSignal): Promise<SyncResult>
  /** Totals since start. */
  progress(): SyncProgress
}

/** Creates the sync service (not started). */
export function createSyncService(init: SyncServiceInit): SyncService {
  return new SyncServiceImpl(init)
}

/** A topic a peer refused is asked again after this many sync intervals. */
const REFUSED_RETRY_INTERVALS = 5

/** A peer that opened a sync stream and never sent its OPEN frame: misbehaviour, unlike a later time-out. */
class SilentPeerError extends UnexpectedSyncFrameError {}

/** Key of an envelope in the in-flight set. */
function inflightKey(topic: string, id: Uint8Array): string {
  return `${topic}\n${Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString('hex')}`
}

const emptyProgress = (): SyncProgress => ({
  envelopesToFetch: 0,
  envelopesFetched: 0,
  bytesToFetch: 0,
  bytesFetched: 0,
  envelopesPushed: 0,
  activeSessions: 0
})

/**
 * A signal that aborts when any of `sources` does, or after `timeoutMs` (then `timedOut` is true), until
 * `dispose()`, which detaches it from the sources and clears its timer. Used instead of `AbortSignal.any`
 * and `AbortSignal.timeout`: Node 20's `AbortSignal.any` leaves a WeakRef to every signal it makes in each
 * of its sources for as long as that source lives (the service's stop signal lived as long as the node,
 * and gained one per sync session), and a timeout signal with a listener stays referenced until it fires.
 */
export class LinkedSignal {
  readonly #controller = new AbortController()
  readonly #sources: AbortSignal[]
  #timer: ReturnType<typeof setTimeout> | undefined
  #timedOut = false
  readonly #onAbort = (event: Event): void => {
    this.#abort((event.target as AbortSignal).reason)
  }

  /** Links a new signal to `sources` (undefined ones and repeats are skipped) and to an optional time box. */
  constructor(sources: ReadonlyArray<AbortSignal | undefined>, timeoutMs?: number) {
    this.#sources = [...new Set(sources.filter((s): s is AbortSignal => s !== undefined))]
    const aborted = this.#sources.find((s) => s.aborted)
    if (aborted !== undefined) {
      this.#controller.abort(aborted.reason)
      this.#sources = []
      return
    }
    for (const s of this.#sources) s.addEventListener('abort', this.#onAbort, { once: true })
    if (timeoutMs !== undefined) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true
        this.#abort(new DOMException('The operation was aborted due to timeout', 'TimeoutError'))
      }, timeoutMs)
      this.#timer.unref?.()
    }
  }

  /** The linked signal. */
  get signal(): AbortSignal {
    return this.#controller.signal
  }

  /** True when the time box, not a source, aborted the signal. */
  get timedOut(): boolean {
    return this.#timedOut
  }

  /** Number of sources still linked (0 after dispose or abort; for tests). */
  get linkedSources(): number {
    return this.#sources.length
  }

  /** Detaches from the sources and clears the timer; the signal stays as it is (aborted or not). */
  dispose(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = undefined
    for (const s of this.#sources) s.removeEventListener('abort', this.#onAbort)
    this.#sources.length = 0
  }

  #abort(reason: unknown): void {
    this.dispose()
    this.#controller.abort(reason)
  }
}

/** A session reuses a snapshot of its topic's items taken at most this long ago while another session holds it. */
const SNAPSHOT_SHARE_MS = 2000

/**
 * Per-topic snapshots of the items (snapshotSource), shared by the sessions that start while one is being
 * read or used and is at most SNAPSHOT_SHARE_MS old. A node syncs with all its peers at once every interval,
 * and read a topic's whole item list once per session, holding a copy per peer (the soak benchmark's ten
 * nodes held dozens, growing with the history). A snapshot is dropped as soon as its last session releases
 * it, and when sync stores an envelope of its topic (`invalidate`); what gossip stored meanwhile only waits for
 * the next session.
 */
class SnapshotShare {
  readonly #entries = new Map<string, { taken: number; users: number; items: Promise<SyncItemSource> }>()
  readonly #load: (topic: string) => Promise<SyncItemSource>

  constructor(load: (topic: string) => Promise<SyncItemSource>) {
    this.#load = load
  }

  /** The topic's snapshot for a session; call `release` when the session no longer reads it. */
  acquire(topic: string): { items: Promise<SyncItemSource>; release(): void } {
    let entry = this.#entries.get(topic)
    const now = Date.now()
    if (entry === undefined || now - entry.taken > SNAPSHOT_SHARE_MS) {
      const fresh = { taken: now, users: 0, items: this.#load(topic) }
      this.#entries.set(topic, fresh)
      fresh.items.catch(() => this.#drop(topic, fresh))
      entry = fresh
    }
    const held = entry
    held.users++
    let released = false
    return {
      items: held.items,
      release: () => {
        if (released) return
        released = true
        if (--held.users === 0) this.#drop(topic, held)
      }
    }
  }

  /** New sessions of `topic` read it afresh (an envelope of it was stored). */
  invalidate(topic: string): void {
    this.#entries.delete(topic)
  }

  #drop(topic: string, entry: { items: Promise<SyncItemSource> }): void {
    if (this.#entries.get(topic) === entry) this.#entries.delete(topic)
  }
}

/** Frame I/O of one session: bounded, time-boxed reads; byte counters. */
class Channel {
  readonly #lp: LengthPrefixedStream<Stream>
  readonly #limits: SyncLimits
  /** Aborted by the caller, by stop(), or at the session's deadline. */
  readonly signal: AbortSignal

  bytesSent = 0
  bytesReceived = 0

  constructor(stream: Stream, limits: SyncLimits, signal: AbortSignal) {
    this.#lp = lpStream(stream, { maxDataLength: limits.maxFrameBytes, maxBufferSize: limits.maxFrameBytes + 16 })
    this.#limits = limits
    this.signal = signal
  }

  async send(frame: SyncFrame): Promise<number> {
    const bytes = encodeFrame(frame)
    try {
      await this.#lp.write(bytes, { signal: this.signal })
    } catch (err) {
      throw this.signal.aborted ? aborted(this.signal) : err
    }
    this.bytesSent += bytes.length
    return bytes.length
  }

  /** Closes the stream gracefully within a frame time box, else aborts it. */
  async close(stream: Stream): Promise<void> {
    const box = new LinkedSignal([this.signal], this.#limits.frameTimeoutMs)
    try {
      await stream.close({ signal: box.signal })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    } finally {
      box.dispose()
    }
  }

  /** Reads one frame; the peer has `frameTimeoutMs` to send it (else `SyncTimeoutError`, its fault). */
  async receive(): Promise<SyncFrame> {
    const box = new LinkedSignal([this.signal], this.#limits.frameTimeoutMs)
    let data: Uint8Array
    try {
      data = (await this.#lp.read({ signal: box.signal })).subarray()
    } catch (err) {
      const name = err instanceof Error ? err.name : ''
      if (LENGTH_ERRORS.has(name)) throw new SyncLimitError(`frame rejected: ${(err as Error).message}`)
      if (this.signal.aborted) throw aborted(this.signal)
      if (box.timedOut) throw new SyncTimeoutError('peer did not send a frame in time')
      throw err
    } finally {
      box.dispose()
    }
    this.bytesReceived += data.length
    return decodeFrame(data, this.#limits)
  }
}

/** Errors of lpStream that mean the peer announced or sent a frame beyond the bound. */
const LENGTH_ERRORS = new Set(['InvalidDataLengthError', 'InvalidDataLengthLengthError', 'InvalidMessageLengthError', 'StreamBufferError'])

function aborted(signal: AbortSignal): SyncAbortedError {
  const reason: unknown = signal.reason
  return new SyncAbortedError(`sync aborted: ${reason instanceof Error ? reason.message : String(reason)}`)
}

function expectFrame<T extends SyncFrame['type']>(frame: SyncFrame, ...types: T[]): Extract<SyncFrame, { type: T }> {
  if (!(types as number[]).includes(frame.type)) throw new UnexpectedSyncFrameError(`unexpected frame type ${frame.type}`)
  return frame as Extract<SyncFrame, { type: T }>
}

class SyncServiceImpl implements SyncService {
  readonly #init: SyncServiceInit
  readonly #limits: SyncLimits
  #libp2p: Libp2p | undefined
  #started = false
  #timer: ReturnType<typeof setInterval> | undefined
  #topologyId: string | undefined
  #stop = new AbortController()
  readonly #peers = new Set<string>()
  readonly #queues = new Map<string, Promise<unknown>>()
  readonly #queued = new Set<string>()
  readonly #inbound = new Map<string, number>()
  #inboundTotal = 0
  readonly #banned = new Map<string, number>()
  /** Topics a peer refused, with when to ask again (a peer may join the topic later: a member joins a community). */
  readonly #refused = new Map<string, Map<string, number>>()
  /**
   * Envelopes some session of ours is fetching now (topic, id): a concurrent session with another peer
   * skips them, so a node that meets several peers at once does not download the same envelopes from each.
   */
  readonly #inflight = new Set<string>()
  readonly #total = emptyProgress()
  readonly #snapshots: SnapshotShare

  constructor(init: SyncServiceInit) {
    if (init.node === undefined && init.libp2p === undefined) throw new SyncUsageError('createSyncService: node or libp2p is required')
    this.#init = init
    this.#limits = { ...DEFAULT_SYNC_LIMITS, ...init.limits }
    this.#snapshots = new SnapshotShare(async (topic) => snapshotSource(await init.source(topic), this.#limits.snapshotMaxItems))
  }

  get #p2p(): Libp2p {
    if (this.#libp2p === undefined) {
      this.#libp2p = this.#init.libp2p ?? libp2pOf(this.#init.node!)
    }
    return this.#libp2p
  }

  async start(): Promise<void> {
    if (this.#started) return
    this.#started = true
    this.#stop = new AbortController()
    // Every running session listens on it (LinkedSignal): more than Node's default of 10 is no leak.
    setMaxListeners(Infinity, this.#stop.signal)
    const p2p = this.#p2p
    await p2p.handle(SYNC_PROTOCOL, (stream, connection) => this.#respond(stream, connection), {
      maxInboundStreams: this.#limits.maxInboundSessionsPerPeer + 1
    })
    this.#topologyId = await p2p.register(SYNC_PROTOCOL, {
      onConnect: (peerId) => this.#onConnect(peerId),
      onDisconnect: (peerId) => {
        const peer = peerId.toString()
        this.#peers.delete(peer)
        this.#refused.delete(peer)
      }
    })
    // Peers connected before the service started get no onConnect: take those known to speak sync.
    for (const peerId of p2p.getPeers()) {
      try {
        if ((await p2p.peerStore.get(peerId)).protocols.includes(SYNC_PROTOCOL)) this.#onConnect(peerId)
      } catch {
        // not in the peer store (yet): the periodic sync or identify will bring it
      }
    }
    const interval = this.#init.intervalMs ?? 60_000
    if (interval > 0) {
      this.#timer = setInterval(() => this.#syncAll(), interval)
      this.#timer.unref?.()
    }
  }

  async stop(): Promise<void> {
    if (!this.#started) return
    this.#started = false
    if (this.#timer !== undefined) clearInterval(this.#timer)
    this.#timer = undefined
    this.#stop.abort(new Error('sync service stopped'))
    if (this.#topologyId !== undefined) this.#p2p.unregister(this.#topologyId)
    this.#topologyId = undefined
    try {
      await this.#p2p.unhandle(SYNC_PROTOCOL)
    } catch {
      // the node may already be stopped
    }
    await Promise.allSettled([...this.#queues.values()])
    this.#peers.clear()
  }

  progress(): SyncProgress {
    return { ...this.#total }
  }

  #onConnect(peerId: PeerId): void {
    const peer = peerId.toString()
    this.#peers.add(peer)
    if (this.#init.syncOnConnect === false || this.#isBanned(peer)) return
    // One session serves both sides (it pulls and pushes), so only the lower peer id starts one on connect.
    if (this.#p2p.peerId.toString() < peer) this.#enqueue(peer)
  }

  #syncAll(): void {
    const now = Date.now()
    for (const [peer, until] of this.#banned) if (until <= now) this.#banned.delete(peer)
    void this.#refreshPeers().then(() => {
      for (const peer of this.#peers) if (!this.#isBanned(peer)) this.#enqueue(peer)
    })
  }

  /**
   * Adds every connected peer that speaks sync. The topology's events alone miss peers when connections
   * churn (a duplicate connection closed reports a disconnect while another connection stays open).
   */
  async #refreshPeers(): Promise<void> {
    for (const peerId of this.#p2p.getPeers()) {
      const peer = peerId.toString()
      if (this.#peers.has(peer)) continue
      try {
        if ((await this.#p2p.peerStore.get(peerId)).protocols.includes(SYNC_PROTOCOL)) this.#peers.add(peer)
      } catch {
        // not identified yet: the next tick looks again
      }
    }
  }

  /** Queues a full sync with a peer unless one is already waiting; sessions per peer run one at a time. */
  #enqueue(peer: string): void {
    if (this.#queued.has(peer)) return
    this.#queued.add(peer)
    this.#chain(peer, async () => {
      this.#queued.delete(peer)
      await this.#syncTopics(peer, undefined, this.#stop.signal)
    }).catch((err) => log('background sync with %s failed: %s', peer, err))
  }

  #chain<T>(peer: string, task: () => Promise<T>): Promise<T> {
    const prev = this.#queues.get(peer) ?? Promise.resolve()
    const run = prev.then(task, task)
    const tail = run.catch(() => undefined)
    this.#queues.set(peer, tail)
    void tail.then(() => {
      if (this.#queues.get(peer) === tail) this.#queues.delete(peer)
    })
    return run
  }

  syncWith(peer: string, topics?: string[], signal?: AbortSignal): Promise<SyncResult[]> {
    return this.#chain(peer, () => this.#syncTopics(peer, topics, signal))
  }

  syncTopic(peer: string, topic: string, signal?: AbortSignal): Promise<SyncResult> {
    return this.#chain(peer, () => this.#initiate(peer, topic, signal))
  }

  async #syncTopics(peer: string, topics: string[] | undefined, signal?: AbortSignal): Promise<SyncResult[]> {
    const results: SyncResult[] = []
    for (const topic of topics ?? this.#init.topics()) {
      if (!this.#started || signal?.aborted) break
      if (topics === undefined && (this.#refused.get(peer)?.get(topic) ?? 0) > Date.now()) continue
      try {
        // A session moves at most maxEnvelopesPerSession each way: continue while it was cut short.
        const cap = this.#limits.maxEnvelopesPerSession
        for (let run = 0; run < MAX_CONTINUATIONS; run++) {
          const result = await this.#initiate(peer, topic, signal)
          results.push(result)
          if (result.status !== 'complete' || (result.needCount <= cap && result.haveCount <= cap)) break
        }
      } catch (err) {
        if (err instanceof SyncProtocolError) break
        log('sync of %s with %s failed: %s', topic, peer, err)
      }
    }
    return results
  }

  #isBanned(peer: string): boolean {
    const until = this.#banned.get(peer)
    if (until === undefined) return false
    if (Date.now() < until) return true
    this.#banned.delete(peer)
    return false
  }

  /** Disconnects a peer that broke the protocol, refuses it for a while and reports it. */
  async #misbehaved(peer: string, error: Error): Promise<void> {
    log('peer %s misbehaved in sync: %s', peer, error.message)
    this.#banned.set(peer, Date.now() + this.#limits.banMs)
    try {
      await this.#p2p.hangUp(peerIdFromString(peer))
    } catch {
      // already gone
    }
    this.#init.onMisbehaviour?.(peer, error)
  }

  /** The signal of one session (stop(), the caller's signal, the session time box); dispose it when the session ends. */
  #sessionSignal(signal?: AbortSignal): LinkedSignal {
    return new LinkedSignal([this.#stop.signal, signal], this.#limits.sessionTimeoutMs)
  }

  #emit(peer: string, topic: string, session: SyncProgress): void {
    this.#init.onProgress?.({ peer, topic, session: { ...session }, total: { ...this.#total } })
  }

  // ---------------------------------------------------------------- initiator

  async #initiate(peer: string, topic: string, signal?: AbortSignal): Promise<SyncResult> {
    if (!this.#started) throw new SyncUsageError('sync service is not started')
    if (this.#isBanned(peer)) throw new SyncUsageError(`peer ${peer} is refused after misbehaving`)
    const session = this.#sessionSignal(signal)
    try {
      return await this.#runInitiator(peer, topic, session.signal)
    } finally {
      session.dispose()
    }
  }

  async #runInitiator(peer: string, topic: string, sessionSignal: AbortSignal): Promise<SyncResult> {
    const limits = this.#limits
    const stream = await this.#p2p.dialProtocol(peerIdFromString(peer), SYNC_PROTOCOL, { signal: sessionSignal })
    const ch = new Channel(stream, limits, sessionSignal)
    const session = emptyProgress()
    session.activeSessions = 1
    this.#total.activeSessions++
    const result: SyncResult = {
      peer,
      topic,
      status: 'complete',
      haveCount: 0,
      needCount: 0,
      stored: 0,
      fetched: 0,
      pushed: 0,
      rounds: 0,
      reconcileBytes: 0,
      bytesSent: 0,
      bytesReceived: 0
    }
    const claimed: string[] = []
    const snapshot = this.#snapshots.acquire(topic)
    try {
      const reconciler = new Reconciler(await snapshot.items, { frameSizeLimit: limits.maxMessageBytes })
      // Reconciliation.
      let message: Uint8Array | undefined = await reconciler.initiate()
      await ch.send({ type: FrameType.Open, topic, message })
      const have: Uint8Array[] = []
      const need: Uint8Array[] = []
      while (message !== undefined) {
        const frame = expectFrame(await ch.receive(), FrameType.Reconcile, FrameType.Reject)
        if (frame.type === FrameType.Reject) {
          if (frame.reason === RejectReason.TopicNotServed) {
            let map = this.#refused.get(peer)
            if (map === undefined) this.#refused.set(peer, (map = new Map()))
            map.set(topic, Date.now() + REFUSED_RETRY_INTERVALS * (this.#init.intervalMs ?? 60_000))
          }
          result.status = 'refused'
          log('%s refused %s (reason %d)', peer, topic, frame.reason)
          await ch.close(stream)
          return result
        }
        if (++result.rounds > limits.maxRounds) throw new SyncLimitError('too many reconciliation rounds')
        const step = await reconciler.reconcile(frame.message)
        have.push(...step.haveIds)
        need.push(...step.needIds)
        message = step.reply
        if (message !== undefined) await ch.send({ type: FrameType.Reconcile, message })
      }
      snapshot.release()
      result.reconcileBytes = ch.bytesSent + ch.bytesReceived
      result.haveCount = have.length
      result.needCount = need.length
      const wanted = need.filter((id) => !this.#inflight.has(inflightKey(topic, id))).slice(0, limits.maxEnvelopesPerSession)
      for (const id of wanted) {
        const key = inflightKey(topic, id)
        this.#inflight.add(key)
        claimed.push(key)
      }
      session.envelopesToFetch = wanted.length
      this.#total.envelopesToFetch += wanted.length
      this.#emit(peer, topic, session)

      // Sizes of what we need.
      const sizes: number[] = []
      for (let i = 0; i < wanted.length; i += limits.maxWantIds) {
        const ids = wanted.slice(i, i + limits.maxWantIds)
        await ch.send({ type: FrameType.Want, ids })
        const reply = expectFrame(await ch.receive(), FrameType.Sizes)
        if (reply.sizes.length !== ids.length) throw new UnexpectedSyncFrameError('SIZES count differs from WANT')
        sizes.push(...reply.sizes)
      }
      const available = wanted.map((id, i) => ({ id, size: sizes[i]! })).filter((e) => e.size > 0)
      const bytesToFetch = available.reduce((s, e) => s + e.size, 0)
      session.bytesToFetch = bytesToFetch
      this.#total.bytesToFetch += bytesToFetch
      // Envelopes that the peer holds but are missing: they shrink the count to fetch.
      const unavailable = wanted.length - available.length
      session.envelopesToFetch -= unavailable
      this.#total.envelopesToFetch -= unavailable
      this.#emit(peer, topic, session)

      // Fetch in batches that fit a frame.
      let invalid = 0
      for (const batch of planBatches(available, limits)) {
        await ch.send({ type: FrameType.Fetch, ids: batch.map((e) => e.id) })
        const reply = expectFrame(await ch.receive(), FrameType.Envelopes)
        let cursor = 0
        for (const env of reply.envelopes) {
          // Envelopes come back in the order asked for, each at most once; the peer may skip ids it lost.
          while (cursor < batch.length && !sameId(batch[cursor]!.id, env.id)) cursor++
          if (cursor === batch.length) throw new UnexpectedSyncFrameError('ENVELOPES holds an id not asked for')
          cursor++
          const verdict = await this.#init.onEnvelope(topic, env.id, env.bytes)
          if (verdict === 'invalid' && ++invalid > limits.maxInvalidEnvelopes) {
            throw new UnexpectedSyncFrameError('peer sent invalid envelopes')
          }
          if (verdict === true) {
            result.stored++
            this.#snapshots.invalidate(topic)
          }
          result.fetched++
          session.envelopesFetched++
          session.bytesFetched += env.bytes.length
          this.#total.envelopesFetched++
          this.#total.bytesFetched += env.bytes.length
        }
        this.#emit(peer, topic, session)
      }

      // Push what the peer lacks.
      let outgoing: EnvelopeRecord[] = []
      let outgoingBytes = ENVELOPES_FRAME_OVERHEAD
      const flush = async (): Promise<void> => {
        if (outgoing.length === 0) return
        await ch.send({ type: FrameType.Envelopes, envelopes: outgoing })
        expectFrame(await ch.receive(), FrameType.Ack)
        result.pushed += outgoing.length
        session.envelopesPushed += outgoing.length
        this.#total.envelopesPushed += outgoing.length
        outgoing = []
        outgoingBytes = ENVELOPES_FRAME_OVERHEAD
        this.#emit(peer, topic, session)
      }
      for (const id of have.slice(0, limits.maxEnvelopesPerSession)) {
        const bytes = await this.#init.getEnvelope(topic, id)
        if (bytes === undefined || bytes.length === 0 || bytes.length > limits.maxEnvelopeBytes) continue
        const size = ENVELOPE_RECORD_OVERHEAD + bytes.length
        if (outgoing.length >= limits.maxFetchIds || outgoingBytes + size > limits.maxFrameBytes) await flush()
        outgoing.push({ id, bytes })
        outgoingBytes += size
      }
      await flush()

      await ch.send({ type: FrameType.Done })
      await ch.close(stream)
      return result
    } catch (err) {
      result.status = 'failed'
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      // A responder storing what we pushed may take long to ACK: a time-out ends the session, no ban.
      if (err instanceof SyncProtocolError && !(err instanceof SyncTimeoutError)) await this.#misbehaved(peer, err)
      throw err
    } finally {
      snapshot.release()
      for (const key of claimed) this.#inflight.delete(key)
      result.bytesSent = ch.bytesSent
      result.bytesReceived = ch.bytesReceived
      this.#total.activeSessions--
      this.#init.onSession?.(result)
    }
  }

  // ---------------------------------------------------------------- responder

  async #respond(stream: Stream, connection: Connection): Promise<void> {
    const session = this.#sessionSignal()
    try {
      await this.#runResponder(stream, connection, session.signal)
    } finally {
      session.dispose()
    }
  }

  async #runResponder(stream: Stream, connection: Connection, signal: AbortSignal): Promise<void> {
    const peer = connection.remotePeer.toString()
    const limits = this.#limits
    const ch = new Channel(stream, limits, signal)
    if (this.#isBanned(peer)) {
      stream.abort(new Error('refused'))
      return
    }
    const perPeer = this.#inbound.get(peer) ?? 0
    if (perPeer >= limits.maxInboundSessionsPerPeer || this.#inboundTotal >= limits.maxInboundSessions) {
      await ch.send({ type: FrameType.Reject, reason: RejectReason.Busy }).catch(() => undefined)
      await ch.close(stream)
      return
    }
    this.#inbound.set(peer, perPeer + 1)
    this.#inboundTotal++
    this.#total.activeSessions++
    try {
      await this.#serve(ch, stream, peer)
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      // The initiator drives the session and may be busy storing what it fetched (its app runs every
      // envelope through decryption and the store): its silence ends the session, which runs again
      // later, but proves no misbehaviour. Banning it stalled big syncs between honest peers.
      if (err instanceof SyncProtocolError && !(err instanceof SyncTimeoutError)) await this.#misbehaved(peer, err)
      else log('inbound sync from %s ended: %s', peer, err)
    } finally {
      const n = (this.#inbound.get(peer) ?? 1) - 1
      if (n <= 0) this.#inbound.delete(peer)
      else this.#inbound.set(peer, n)
      this.#inboundTotal--
      this.#total.activeSessions--
    }
  }

  async #serve(ch: Channel, stream: Stream, peer: string): Promise<void> {
    let first: Awaited<ReturnType<Channel['receive']>>
    try {
      first = await ch.receive()
    } catch (err) {
      // Silence before OPEN is no busy peer (it has nothing to store yet): it opened a stream to hold it.
      if (err instanceof SyncTimeoutError) throw new SilentPeerError('peer opened a sync stream and sent nothing')
      throw err
    }
    const open = expectFrame(first, FrameType.Open)
    const topic = open.topic
    if (!this.#init.topics().includes(topic)) {
      await ch.send({ type: FrameType.Reject, reason: RejectReason.TopicNotServed })
      await ch.close(stream)
      return
    }
    const snapshot = this.#snapshots.acquire(topic)
    try {
      await this.#serveTopic(ch, stream, peer, topic, open.message, await snapshot.items, () => snapshot.release())
    } finally {
      snapshot.release()
    }
  }

  /** The responder's side of a session after OPEN; `reconciled` is called once reconciliation is over. */
  async #serveTopic(
    ch: Channel,
    stream: Stream,
    peer: string,
    topic: string,
    openMessage: Uint8Array,
    items: SyncItemSource,
    reconciled: () => void
  ): Promise<void> {
    const limits = this.#limits
    const reconciler = new Reconciler(items, { frameSizeLimit: limits.maxMessageBytes })
    let rounds = 1
    let reply = await reconciler.reconcile(openMessage)
    await ch.send({ type: FrameType.Reconcile, message: reply.reply! })
    let asked = 0
    let served = 0
    let received = 0
    let invalid = 0
    for (;;) {
      const frame = await ch.receive()
      // Reconciliation is over once the initiator moves on: later sessions no longer share this snapshot.
      if (frame.type !== FrameType.Reconcile) reconciled()
      switch (frame.type) {
        case FrameType.Reconcile:
          if (++rounds > limits.maxRounds) throw new SyncLimitError('too many reconciliation rounds')
          reply = await reconciler.reconcile(frame.message)
          await ch.send({ type: FrameType.Reconcile, message: reply.reply! })
          break
        case FrameType.Want: {
          asked += frame.ids.length
          if (asked > limits.maxEnvelopesPerSession) throw new SyncLimitError('too many ids asked for')
          const sizes: number[] = []
          for (const id of frame.ids) {
            const bytes = await this.#init.getEnvelope(topic, id)
            sizes.push(bytes === undefined || bytes.length > limits.maxEnvelopeBytes ? 0 : bytes.length)
          }
          await ch.send({ type: FrameType.Sizes, sizes })
          break
        }
        case FrameType.Fetch: {
          served += frame.ids.length
          if (served > limits.maxEnvelopesPerSession) throw new SyncLimitError('too many envelopes fetched')
          const envelopes: EnvelopeRecord[] = []
          let size = ENVELOPES_FRAME_OVERHEAD
          for (const id of frame.ids) {
            const bytes = await this.#init.getEnvelope(topic, id)
            if (bytes === undefined || bytes.length === 0 || bytes.length > limits.maxEnvelopeBytes) continue
            if (size + ENVELOPE_RECORD_OVERHEAD + bytes.length > limits.maxFrameBytes) break
            envelopes.push({ id, bytes })
            size += ENVELOPE_RECORD_OVERHEAD + bytes.length
          }
          await ch.send({ type: FrameType.Envelopes, envelopes })
          break
        }
        case FrameType.Envelopes: {
          received += frame.envelopes.length
          if (received > limits.maxEnvelopesPerSession) throw new SyncLimitError('too many envelopes pushed')
          let stored = 0
          for (const env of frame.envelopes) {
            const verdict = await this.#init.onEnvelope(topic, env.id, env.bytes)
            if (verdict === 'invalid' && ++invalid > limits.maxInvalidEnvelopes) {
              throw new UnexpectedSyncFrameError('peer pushed invalid envelopes')
            }
            if (verdict === true) stored++
          }
          if (stored > 0) this.#snapshots.invalidate(topic)
          await ch.send({ type: FrameType.Ack, stored })
          break
        }
        case FrameType.Done:
          await ch.close(stream)
          log('served %s to %s: %d rounds, %d envelopes out, %d in', topic, peer, rounds, served, received)
          return
        default:
          throw new UnexpectedSyncFrameError(`unexpected frame type ${frame.type}`)
      }
    }
  }
}

function sameId(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== ID_BYTES || b.length !== ID_BYTES) return false
  for (let i = 0; i < ID_BYTES; i++) if (a[i] !== b[i]) return false
  return true
}

/** Groups envelopes into FETCH batches whose ENVELOPES reply fits one frame. */
function planBatches(items: { id: Uint8Array; size: number }[], limits: SyncLimits): { id: Uint8Array; size: number }[][] {
  const batches: { id: Uint8Array; size: number }[][] = []
  let batch: { id: Uint8Array; size: number }[] = []
  let bytes = ENVELOPES_FRAME_OVERHEAD
  for (const item of items) {
    const size = ENVELOPE_RECORD_OVERHEAD + item.size
    if (batch.length > 0 && (batch.length >= limits.maxFetchIds || bytes + size > limits.maxFrameBytes)) {
      batches.push(batch)
      batch = []
      bytes = ENVELOPES_FRAME_OVERHEAD
    }
    batch.push(item)
    bytes += size
  }
  if (batch.length > 0) batches.push(batch)
  return batches
}

