/**
 * The Store: everything a user has, on their own disk, sealed under the database key (docs/PROTOCOL.md §10).
 * The app layer sees only this interface; `openLevelStore` (LevelDB) and `openMemoryStore` (tests) make one.
 *
 * Conventions:
 * - Ids are strings (lowercase hex for keys and ids made of bytes); opaque state from the crypto layer is
 *   `Uint8Array` and is stored as given.
 * - Every write is one atomic LevelDB batch. `store.batch()` groups writes that must happen together
 *   (a decrypted message + its new session state + its seen id).
 * - Reading a record whose bytes were altered, or moved from another key, throws TamperedRecordError.
 */
import type { Argon2idParams } from '../crypto/atrest.js'

/**
 * A JSON value; `Uint8Array` is allowed anywhere inside and round-trips (§10.5). Object members that are
 * `undefined` are omitted when stored, as JSON.stringify does.
 */
export type StoreValue = null | boolean | number | string | Uint8Array | StoreValue[] | { [key: string]: StoreValue | undefined }

/** A JSON-like object (settings, extra fields). */
export type StoreObject = { [key: string]: StoreValue | undefined }

/** Delivery state of a message (the same strings as the app's MessageStatus). */
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'received' | 'failed'

/** One identity key a contact was seen with; the list is the contact's identity-change history. */
export interface IdentityChange {
  /** Identity signing key, hex. */
  identityKey: string
  /** When this key was first seen (ms). */
  seenAt: number
}

/** A contact (or a message request from someone not added yet). */
export interface ContactRecord {
  /** Stable contact id: by convention the hex of the first identity signing key seen for this contact. */
  id: string
  /** Local name, unique among contacts. */
  name: string
  state: 'request' | 'accepted'
  /** Current identity signing key, hex (changes are appended to identityHistory). */
  identityKey: string
  /** True after the user compared safety numbers for the current identity key. */
  verified: boolean
  /** True when identityKey changed and the user has not accepted the new key yet. */
  identityChanged: boolean
  /** Every identity key seen, oldest first (includes the current one). */
  identityHistory: IdentityChange[]
  /** Cached serialised prekey bundle (crypto layer bytes) and when it was fetched (ms). */
  prekeyBundle?: Uint8Array
  prekeyBundleFetchedAt?: number
  /** libp2p peer id (string form) and multiaddrs last known. */
  peerId?: string
  addresses?: string[]
  createdAt: number
  /** Anything else the app wants to keep with the contact. */
  extra?: StoreObject
}

/** A community this user belongs to. */
export interface CommunityRecord {
  /** Community id, hex (the epoch-independent id the app chose; distinct from a topic id). */
  id: string
  /** Local name, unique among communities. */
  name: string
  role: 'admin' | 'member'
  /** Current epoch number. */
  epoch: number
  createdAt: number
  extra?: StoreObject
}

/** A member of a community. */
export interface MemberRecord {
  /** Identity signing key, hex. */
  id: string
  name?: string
  role: 'admin' | 'member'
  joinedAt?: number
  lastSeen?: number
  extra?: StoreObject
}

/** A message as stored. `seq` is assigned by the store: 1, 2, 3... per conversation, in storage order. */
export interface MessageRecord {
  /** Message id, hex, the same on every node. */
  id: string
  /** Conversation id: a contact id for 1:1, a community id for a community. */
  conversation: string
  seq: number
  direction: 'in' | 'out'
  /** Sender identity key, hex (for 'out', this user's). */
  sender: string
  text: string
  /** Sender's timestamp (ms). */
  sentAt: number
  /** When this node stored it (ms); retention by age uses this. */
  receivedAt: number
  status: MessageStatus
  extra?: StoreObject
}

/** A message to store; the store assigns `seq`. */
export type NewMessage = Omit<MessageRecord, 'seq'>

/** Paging through one conversation. Results are always oldest first. */
export interface MessagePage {
  /** At most this many messages (default 50). */
  limit?: number
  /** Only messages with seq < before (the `limit` newest of them). */
  before?: number
  /** Only messages with seq > after (the `limit` oldest of them). */
  after?: number
}

/** An outbox entry: something to send again until it is acknowledged; survives restarts. */
export interface OutboxEntry {
  /** Entry id (e.g. the message id), hex. */
  id: string
  /** What it is for (contact id or community id). */
  conversation: string
  /** The message this entry delivers, if any. */
  messageId?: string
  /** Opaque payload (an envelope or a plaintext to encrypt later). */
  payload: Uint8Array
  attempts: number
  /** Earliest next attempt (ms). */
  nextAttemptAt: number
  createdAt: number
  extra?: StoreObject
}

/** A point in a topic's (timestamp, id) order; `id` may be a prefix (or empty = before every id). */
export interface EnvelopeBound {
  timestamp: number
  id?: Uint8Array
}

/** A half-open range [gte, lt) in (timestamp, id) order. */
export interface EnvelopeRange {
  /** Inclusive lower bound (default: the start). */
  gte?: EnvelopeBound
  /** Exclusive upper bound (default: the end). */
  lt?: EnvelopeBound
  limit?: number
  /** Newest first. */
  reverse?: boolean
}

/** The position of an envelope in its topic: ordered by timestamp, then id bytes. */
export interface EnvelopeKey {
  timestamp: number
  /** 32 bytes. */
  id: Uint8Array
}

/** A stored ciphertext envelope. */
export interface EnvelopeRecord extends EnvelopeKey {
  bytes: Uint8Array
}

/** Caps for retention; every given limit applies. */
export interface RetentionLimits {
  /** Drop items older than this (messages: receivedAt; envelopes: timestamp). */
  maxAgeMs?: number
  /** Keep at most this many, newest kept. */
  maxCount?: number
  /** Keep at most this many stored bytes (sealed values), newest kept. */
  maxBytes?: number
  /**
   * Messages, with `maxAgeMs` as the only limit: scan from the oldest and stop at the first message within the age, so
   * that a pass reads what it deletes and one more. Messages are stored in seq order with `receivedAt` the time of
   * storing, so this finds every one over the age unless the clock was set back meanwhile (a full pass finds those).
   */
  oldestFirst?: boolean
}

/** What to prune. Without `conversation`/`topic`, the limits apply to each conversation/topic. */
export interface RetentionPolicy {
  messages?: RetentionLimits & { conversation?: string }
  envelopes?: RetentionLimits & { topic?: Uint8Array }
  /** Seen ids older than this are forgotten (all scopes). */
  seenMaxAgeMs?: number
  /** Clock for age limits (default Date.now()). */
  now?: number
}

/** How many items prune removed. */
export interface PruneResult {
  messages: number
  envelopes: number
  seen: number
}

/** Result of `verify()`: how many records were opened successfully. */
export interface VerifyReport {
  records: number
}

/** Options of StoreBatch.commit. */
export interface CommitOptions {
  /** Called when the batch has been written (journalled) or handed to LevelDB, before the commit completes (see StoreBatch.commit). */
  onWrite?: () => void
}

/**
 * Writes that commit together, atomically, as one LevelDB batch. Methods only record the intent;
 * `commit()` resolves them (reads needed for indexes, sequence numbers) and writes everything or nothing.
 */
export interface StoreBatch {
  setIdentity(bytes: Uint8Array): this
  setPrekeys(bytes: Uint8Array): this
  setPeerKey(bytes: Uint8Array): this
  setSettings(settings: StoreObject): this

  /** Inserts or replaces a contact (by id). Throws NameTakenError at commit if another contact has the name. */
  putContact(contact: ContactRecord): this
  deleteContact(id: string): this
  setSession(contactId: string, state: Uint8Array): this
  deleteSession(contactId: string): this

  /** Inserts or replaces a community (by id). Throws NameTakenError at commit if the name is taken. */
  putCommunity(community: CommunityRecord): this
  /** Deletes the community with its epochs, members and chain states (not its messages). */
  deleteCommunity(id: string): this
  setEpochKey(communityId: string, epoch: number, key: Uint8Array): this
  deleteEpochKey(communityId: string, epoch: number): this
  putMember(communityId: string, member: MemberRecord): this
  deleteMember(communityId: string, memberId: string): this
  /** Opaque sender/receiver chain state, under an id of the app's choosing (e.g. `${epoch}:${memberId}`). */
  setChainState(communityId: string, chainId: string, state: Uint8Array): this
  deleteChainState(communityId: string, chainId: string): this

  /**
   * Appends a message (next seq of its conversation); a message with a known id is replaced in place, or,
   * with `ifNew`, left as it is and not written (nor returned by commit): one read less than getMessage first.
   */
  putMessage(message: NewMessage, options?: { ifNew?: boolean }): this
  /** Sets the status of a stored message (ignored at commit if the id is unknown). */
  setMessageStatus(id: string, status: MessageStatus): this
  deleteMessage(id: string): this

  /**
   * Inserts or replaces an outbox entry. A batch with one is written durably (LevelDB sync, i.e. fsync) when
   * it commits: it holds an envelope about to be published and the sending state that sealed it, which a
   * power cut must not roll back behind what was published (PROTOCOL.md §5, §10.8). `sync: false` leaves that
   * to the caller: for envelopes whose sending state is never resumed after an unclean shutdown (community
   * sender chains are renewed then, §8.5; see Store.uncleanShutdown).
   */
  putOutbox(entry: OutboxEntry, options?: { sync?: boolean }): this
  deleteOutbox(id: string): this

  /** Stores an envelope (a no-op if this topic already holds the id). `id` is 32 bytes. */
  putEnvelope(topic: Uint8Array, id: Uint8Array, timestamp: number, bytes: Uint8Array): this
  deleteEnvelope(topic: Uint8Array, id: Uint8Array): this

  /** Remembers an id as seen in a scope (replay protection), at `at` (default now). */
  markSeen(scope: string, id: Uint8Array, at?: number): this

  /** Number of recorded operations. */
  readonly length: number
  /**
   * Writes everything atomically. Returns the messages written (with their seq; status changes included)
   * and how many envelopes were new. A batch commits once.
   *
   * `options.onWrite` is called once, synchronously, when every record is resolved and sealed and the
   * batch has been written to the journal (PROTOCOL.md §10.8) or handed to LevelDB (with nothing to write, then),
   * before the commit completes; not at all if the commit fails before that.
   * For work that may start before the write is known to have landed (a community send publishes then:
   * PROTOCOL.md §8.5). If it throws, the error is the commit's, once the write has completed.
   */
  commit(options?: CommitOptions): Promise<{ messages: MessageRecord[]; envelopesAdded: number }>
}

/** The local store of one user. All methods are async; writes are atomic. */
export interface Store {
  /** The database directory, or ':memory:'. */
  readonly location: string
  /** Schema version of the open database. */
  readonly schemaVersion: number
  /**
   * True when the previous session of this database did not end with close() (a crash, a kill or a power cut):
   * writes that were not synced may have been lost (§10.8). Fixed at opening.
   */
  readonly uncleanShutdown: boolean

  /** A new atomic batch. */
  batch(): StoreBatch
  /** Rewraps the database key under a new passphrase (one record written; nothing else changes). */
  changePassphrase(newPassphrase: string, argon2?: Argon2idParams): Promise<void>
  /** Opens every record; throws TamperedRecordError at the first one that does not authenticate. */
  verify(): Promise<VerifyReport>
  /** Retention: caps history and envelopes by age, count and size. */
  prune(policy: RetentionPolicy): Promise<PruneResult>
  /** Waits for the writes before it and makes them durable (one synced write). */
  flush(): Promise<void>
  /** Makes every write durable and records a clean shutdown (§10.8), then closes. */
  close(): Promise<void>

  // Local key material (opaque bytes from the crypto layer) and settings.
  getIdentity(): Promise<Uint8Array | undefined>
  setIdentity(bytes: Uint8Array): Promise<void>
  getPrekeys(): Promise<Uint8Array | undefined>
  setPrekeys(bytes: Uint8Array): Promise<void>
  /** The libp2p peer private key (protobuf bytes). */
  getPeerKey(): Promise<Uint8Array | undefined>
  setPeerKey(bytes: Uint8Array): Promise<void>
  getSettings(): Promise<StoreObject | undefined>
  setSettings(settings: StoreObject): Promise<void>

  // Contacts and 1:1 sessions.
  getContact(id: string): Promise<ContactRecord | undefined>
  getContactByName(name: string): Promise<ContactRecord | undefined>
  getContactByIdentityKey(identityKey: string): Promise<ContactRecord | undefined>
  /** All contacts, in no meaningful order (sort by name in the app). */
  listContacts(): Promise<ContactRecord[]>
  putContact(contact: ContactRecord): Promise<void>
  /** Deletes the contact and its name and identity-key index entries (not its session or messages). */
  deleteContact(id: string): Promise<void>
  getSession(contactId: string): Promise<Uint8Array | undefined>
  setSession(contactId: string, state: Uint8Array): Promise<void>
  deleteSession(contactId: string): Promise<void>

  // Communities.
  getCommunity(id: string): Promise<CommunityRecord | undefined>
  getCommunityByName(name: string): Promise<CommunityRecord | undefined>
  listCommunities(): Promise<CommunityRecord[]>
  putCommunity(community: CommunityRecord): Promise<void>
  deleteCommunity(id: string): Promise<void>
  getEpochKey(communityId: string, epoch: number): Promise<Uint8Array | undefined>
  /** Every stored epoch key of a community, by ascending epoch. */
  listEpochKeys(communityId: string): Promise<Array<{ epoch: number; key: Uint8Array }>>
  setEpochKey(communityId: string, epoch: number, key: Uint8Array): Promise<void>
  getMember(communityId: string, memberId: string): Promise<MemberRecord | undefined>
  listMembers(communityId: string): Promise<MemberRecord[]>
  putMember(communityId: string, member: MemberRecord): Promise<void>
  deleteMember(communityId: string, memberId: string): Promise<void>
  getChainState(communityId: string, chainId: string): Promise<Uint8Array | undefined>
  /** Every chain state of a community. */
  listChainStates(communityId: string): Promise<Array<{ chainId: string; state: Uint8Array }>>
  setChainState(communityId: string, chainId: string, state: Uint8Array): Promise<void>

  // Messages.
  /** Stores one message (its own batch) and returns it with its seq. */
  addMessage(message: NewMessage): Promise<MessageRecord>
  getMessage(id: string): Promise<MessageRecord | undefined>
  /** A page of one conversation, oldest first: the last `limit`, or before/after a seq cursor. */
  listMessages(conversation: string, page?: MessagePage): Promise<MessageRecord[]>
  /** Number of stored messages in a conversation. */
  countMessages(conversation: string): Promise<number>
  /** Ids of every conversation that has (or had) messages. */
  listConversations(): Promise<string[]>
  /** Sets a message's status; returns the updated message, or undefined for an unknown id. */
  updateMessageStatus(id: string, status: MessageStatus): Promise<MessageRecord | undefined>
  deleteMessage(id: string): Promise<void>

  // Outbox.
  putOutbox(entry: OutboxEntry): Promise<void>
  getOutbox(id: string): Promise<OutboxEntry | undefined>
  /** All entries, by ascending nextAttemptAt; only those due at `dueAt` when given. */
  listOutbox(dueAt?: number): Promise<OutboxEntry[]>
  deleteOutbox(id: string): Promise<void>

  // Ciphertext envelopes per topic (store-and-forward and sync).
  /** Stores an envelope; false if the topic already held this id. */
  putEnvelope(topic: Uint8Array, id: Uint8Array, timestamp: number, bytes: Uint8Array): Promise<boolean>
  hasEnvelope(topic: Uint8Array, id: Uint8Array): Promise<boolean>
  getEnvelope(topic: Uint8Array, id: Uint8Array): Promise<EnvelopeRecord | undefined>
  /** Envelopes of a topic in (timestamp, id) order within a range, values included. */
  listEnvelopes(topic: Uint8Array, range?: EnvelopeRange): AsyncIterable<EnvelopeRecord>
  /** Only the (timestamp, id) positions: no value is read or decrypted (fast; for fingerprints). */
  listEnvelopeKeys(topic: Uint8Array, range?: EnvelopeRange): AsyncIterable<EnvelopeKey>
  countEnvelopes(topic: Uint8Array, range?: EnvelopeRange): Promise<number>
  deleteEnvelope(topic: Uint8Array, id: Uint8Array): Promise<void>
  /** Every topic that holds (or held) envelopes. */
  listTopics(): Promise<Uint8Array[]>

  // Replay protection.
  hasSeen(scope: string, id: Uint8Array): Promise<boolean>
  markSeen(scope: string, id: Uint8Array, at?: number): Promise<void>
}

/** Options to open or create a store. */
export interface StoreOptions {
  /** Argon2id limits used when a key is (re)wrapped; default DEFAULT_ARGON2. Tests use TEST_ARGON2. */
  argon2?: Argon2idParams
  /** Create the database if it does not exist (openLevelStore). Default false. */
  create?: boolean
  /** Migrations from older schema versions (see migrations.ts); default the built-in ones. */
  migrations?: Migration[]
  /** TEST ONLY: pretend the code's schema version is this (to exercise migrations). */
  targetSchemaVersion?: number
  /** How long after a journalled batch LevelDB gets it (PROTOCOL.md §10.8); default JOURNAL_FLUSH_MS (1000 ms). */
  journalFlushMs?: number
}

/** A step that upgrades a database from schema version `from` to `from + 1`. */
export interface Migration {
  from: number
  /** Reads through `store`, writes into `batch`; the version bump is committed in the same batch. */
  migrate(store: Store, batch: StoreBatch): Promise<void>
}
