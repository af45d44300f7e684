/**
 * The Store over any abstract-level database (classic-level on disk, memory-level in tests): every value
 * sealed with the database key and bound to its record key, metadata-revealing keys blinded
 * (docs/PROTOCOL.md §10). LevelStore and MemoryStore differ only in the database they open.
 */
import type { AbstractLevel } from 'abstract-level'
import {
  type Argon2idParams,
  DatabaseKey,
  DEFAULT_ARGON2,
  openRecord,
  SEALED_RECORD_OVERHEAD,
  sealRecordInto,
  unwrapDatabaseKey,
  wrapDatabaseKey
} from '../crypto/atrest.js'
import { AEAD_NONCE_BYTES, concatBytes, randomBytes } from '../crypto/primitives.js'
import {
  allocBytes,
  blind,
  COMMUNITY_SUB,
  decodeValue,
  flatJsonText,
  jsonText,
  type LocalName,
  localKey,
  META_DBKEY_KEY,
  META_RUNNING_KEY,
  META_VERSION_KEY,
  keyText,
  NS,
  namespaceName,
  PlainScratch,
  prefixEnd,
  readU32,
  readU64,
  recordKey,
  SYNC,
  u32,
  u64
} from './codec.js'
import {
  InvalidStoreValueError,
  NameTakenError,
  StoreClosedError,
  StoreError,
  StoreExistsError,
  StoreNotFoundError,
  StoreVersionError,
  TamperedRecordError
} from './errors.js'
import { BUILTIN_MIGRATIONS, SCHEMA_VERSION } from './migrations.js'
import type {
  CommitOptions,
  CommunityRecord,
  ContactRecord,
  EnvelopeKey,
  EnvelopeRange,
  EnvelopeRecord,
  MemberRecord,
  MessagePage,
  MessageRecord,
  MessageStatus,
  Migration,
  NewMessage,
  OutboxEntry,
  PruneResult,
  RetentionLimits,
  RetentionPolicy,
  Store,
  StoreBatch,
  StoreObject,
  StoreOptions,
  StoreValue,
  VerifyReport
} from './types.js'

/** The abstract-level database a SealedStore runs on: binary keys and values. */
export type BinaryLevel = AbstractLevel<Uint8Array, Uint8Array, Uint8Array>

const ENVELOPE_ID_BYTES = 32
/** Value of the running marker. */
const RUNNING = Uint8Array.of(1)
const DEFAULT_PAGE = 50
const STATUSES: ReadonlySet<string> = new Set(['queued', 'sent', 'delivered', 'read', 'received', 'failed'])

type LevelOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

/** A copy of caller-owned bytes, kept until the commit (allocBytes: no ArrayBuffer of its own). */
function copyOf(bytes: Uint8Array): Uint8Array {
  const out = allocBytes(bytes.length)
  out.set(bytes)
  return out
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  return Buffer.compare(a, b)
}

function checkId(name: string, id: unknown): asserts id is string {
  if (typeof id !== 'string' || id.length === 0) throw new InvalidStoreValueError(`${name} must be a non-empty string`)
}

function checkBytesArg(name: string, value: unknown, length?: number): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidStoreValueError(`${name} must be a Uint8Array`)
  if (length !== undefined && value.length !== length) {
    throw new InvalidStoreValueError(`${name} must be ${length} bytes, got ${value.length}`)
  }
}

function checkTime(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new InvalidStoreValueError(`${name} must be a non-negative integer (ms)`)
  }
}

/**
 * Iterates a level iterator in chunks (nextv): about 7x faster than `for await` over classic-level, which
 * crosses into the native side per item. Closes the iterator however the loop ends.
 */
async function* scan<T>(it: { nextv(size: number): Promise<T[]>; close(): Promise<void> }, size = 512): AsyncGenerator<T> {
  try {
    for (;;) {
      const chunk = await it.nextv(size)
      if (chunk.length === 0) return
      yield* chunk
    }
  } finally {
    await it.close()
  }
}

function asValue(record: object): StoreValue {
  return record as unknown as StoreValue
}

/**
 * A write collected by a commit: the value (what reads inside the commit see), or null for a delete, and
 * optionally its JSON text when the operation already made it (it is then not encoded again).
 */
type Write = { key: Uint8Array; value: StoreValue | null; json?: string }

/** A commit in progress: reads see the commit's own earlier writes; writes are collected per key. */
class Tx {
  readonly overlay = new Map<string, Write>()
  readonly seq = new Map<string, number>()
  readonly topics = new Set<string>()
  readonly messages: MessageRecord[] = []
  envelopesAdded = 0

  constructor(readonly core: SealedStore) {}

  async get(key: Uint8Array): Promise<StoreValue | undefined> {
    const hit = this.overlay.get(keyText(key))
    if (hit !== undefined) return hit.value === null ? undefined : hit.value
    return this.core.readRecord(key)
  }

  /** `json`, when given, must be jsonText(value). */
  put(key: Uint8Array, value: StoreValue, json?: string): void {
    this.overlay.set(keyText(key), json === undefined ? { key, value } : { key, value, json })
  }

  del(key: Uint8Array): void {
    this.overlay.set(keyText(key), { key, value: null })
  }

  /** Deletes every key with this prefix, stored or written earlier in this commit. */
  async delPrefix(prefix: Uint8Array): Promise<void> {
    for await (const key of scan(this.core.db.keys({ gte: prefix, lt: prefixEnd(prefix) }))) this.del(new Uint8Array(key))
    const end = prefixEnd(prefix)
    for (const { key } of this.overlay.values()) {
      if (compareBytes(key, prefix) >= 0 && compareBytes(key, end) < 0) this.del(key)
    }
  }
}

type Op = (tx: Tx) => Promise<void>

/** The StoreBatch of a SealedStore: records closures, resolves them under the store's write lock. */
class SealedBatch implements StoreBatch {
  readonly #core: SealedStore
  readonly #ops: Op[] = []
  readonly #raw: LevelOp[]
  #committed = false
  /** Set by putOutbox: the batch is written with sync (PROTOCOL.md §10.8). */
  #durable = false

  constructor(core: SealedStore, raw: LevelOp[] = []) {
    this.#core = core
    this.#raw = raw
  }

  get length(): number {
    return this.#ops.length
  }

  #add(op: Op): this {
    if (this.#committed) throw new StoreError('this batch was already committed')
    this.#ops.push(op)
    return this
  }

  /** @internal adds a raw operation (schema version updates). */
  addOp(op: Op): this {
    return this.#add(op)
  }

  setIdentity(bytes: Uint8Array): this {
    return this.#local('identity', bytes)
  }

  setPrekeys(bytes: Uint8Array): this {
    return this.#local('prekeys', bytes)
  }

  setPeerKey(bytes: Uint8Array): this {
    return this.#local('peer-key', bytes)
  }

  setSettings(settings: StoreObject): this {
    if (settings === null || typeof settings !== 'object' || Array.isArray(settings) || settings instanceof Uint8Array) {
      throw new InvalidStoreValueError('settings must be an object')
    }
    jsonText(settings) // validate now, not at commit
    return this.#add(async (tx) => tx.put(localKey('settings'), settings))
  }

  #local(name: LocalName, bytes: Uint8Array): this {
    checkBytesArg(name, bytes)
    const copy = copyOf(bytes)
    return this.#add(async (tx) => tx.put(localKey(name), copy))
  }

  putContact(contact: ContactRecord): this {
    checkId('contact.id', contact.id)
    checkId('contact.name', contact.name)
    checkId('contact.identityKey', contact.identityKey)
    if (contact.state !== 'request' && contact.state !== 'accepted') throw new InvalidStoreValueError('contact.state')
    const value = asValue(contact)
    jsonText(value)
    return this.#add(async (tx) => {
      const k = this.#core.keys.contact(contact.id)
      const old = (await tx.get(k)) as ContactRecord | undefined
      const nameKey = this.#core.keys.contactName(contact.name)
      const holder = (await tx.get(nameKey)) as { id: string } | undefined
      if (holder !== undefined && holder.id !== contact.id) throw new NameTakenError('contact', contact.name)
      if (old !== undefined && old.name !== contact.name) tx.del(this.#core.keys.contactName(old.name))
      if (old !== undefined && old.identityKey !== contact.identityKey) {
        const oldKeyIndex = this.#core.keys.contactKey(old.identityKey)
        const owner = (await tx.get(oldKeyIndex)) as { id: string } | undefined
        if (owner?.id === contact.id) tx.del(oldKeyIndex)
      }
      tx.put(k, value)
      tx.put(nameKey, { id: contact.id })
      tx.put(this.#core.keys.contactKey(contact.identityKey), { id: contact.id })
    })
  }

  deleteContact(id: string): this {
    checkId('id', id)
    return this.#add(async (tx) => {
      const k = this.#core.keys.contact(id)
      const old = (await tx.get(k)) as ContactRecord | undefined
      if (old === undefined) return
      tx.del(k)
      tx.del(this.#core.keys.contactName(old.name))
      const keyIndex = this.#core.keys.contactKey(old.identityKey)
      const owner = (await tx.get(keyIndex)) as { id: string } | undefined
      if (owner?.id === id) tx.del(keyIndex)
    })
  }

  setSession(contactId: string, state: Uint8Array): this {
    checkId('contactId', contactId)
    checkBytesArg('state', state)
    const copy = copyOf(state)
    return this.#add(async (tx) => tx.put(this.#core.keys.session(contactId), copy))
  }

  deleteSession(contactId: string): this {
    checkId('contactId', contactId)
    return this.#add(async (tx) => tx.del(this.#core.keys.session(contactId)))
  }

  putCommunity(community: CommunityRecord): this {
    checkId('community.id', community.id)
    checkId('community.name', community.name)
    if (community.role !== 'admin' && community.role !== 'member') throw new InvalidStoreValueError('community.role')
    if (!Number.isSafeInteger(community.epoch) || community.epoch < 0) throw new InvalidStoreValueError('community.epoch')
    const value = asValue(community)
    jsonText(value)
    return this.#add(async (tx) => {
      const k = this.#core.keys.community(community.id)
      const old = (await tx.get(k)) as CommunityRecord | undefined
      const nameKey = this.#core.keys.communityName(community.name)
      const holder = (await tx.get(nameKey)) as { id: string } | undefined
      if (holder !== undefined && holder.id !== community.id) throw new NameTakenError('community', community.name)
      if (old !== undefined && old.name !== community.name) tx.del(this.#core.keys.communityName(old.name))
      tx.put(k, value)
      tx.put(nameKey, { id: community.id })
    })
  }

  deleteCommunity(id: string): this {
    checkId('id', id)
    return this.#add(async (tx) => {
      const k = this.#core.keys.community(id)
      const old = (await tx.get(k)) as CommunityRecord | undefined
      if (old !== undefined) {
        tx.del(k)
        tx.del(this.#core.keys.communityName(old.name))
      }
      await tx.delPrefix(this.#core.keys.communityData(id))
    })
  }

  setEpochKey(communityId: string, epoch: number, key: Uint8Array): this {
    checkId('communityId', communityId)
    checkBytesArg('key', key)
    const k = this.#core.keys.epoch(communityId, epoch)
    const copy = copyOf(key)
    return this.#add(async (tx) => tx.put(k, copy))
  }

  deleteEpochKey(communityId: string, epoch: number): this {
    checkId('communityId', communityId)
    const k = this.#core.keys.epoch(communityId, epoch)
    return this.#add(async (tx) => tx.del(k))
  }

  putMember(communityId: string, member: MemberRecord): this {
    checkId('communityId', communityId)
    checkId('member.id', member.id)
    if (member.role !== 'admin' && member.role !== 'member') throw new InvalidStoreValueError('member.role')
    const value = asValue(member)
    jsonText(value)
    return this.#add(async (tx) => tx.put(this.#core.keys.member(communityId, member.id), value))
  }

  deleteMember(communityId: string, memberId: string): this {
    checkId('communityId', communityId)
    checkId('memberId', memberId)
    return this.#add(async (tx) => tx.del(this.#core.keys.member(communityId, memberId)))
  }

  setChainState(communityId: string, chainId: string, state: Uint8Array): this {
    checkId('communityId', communityId)
    checkId('chainId', chainId)
    checkBytesArg('state', state)
    const copy = copyOf(state)
    return this.#add(async (tx) => tx.put(this.#core.keys.chain(communityId, chainId), { chainId, state: copy }))
  }

  deleteChainState(communityId: string, chainId: string): this {
    checkId('communityId', communityId)
    checkId('chainId', chainId)
    return this.#add(async (tx) => tx.del(this.#core.keys.chain(communityId, chainId)))
  }

  putMessage(message: NewMessage, options: { ifNew?: boolean } = {}): this {
    const ifNew = options.ifNew === true
    checkId('message.id', message.id)
    checkId('message.conversation', message.conversation)
    if (!STATUSES.has(message.status)) throw new InvalidStoreValueError('message.status')
    if (message.direction !== 'in' && message.direction !== 'out') throw new InvalidStoreValueError('message.direction')
    if (typeof message.text !== 'string') throw new InvalidStoreValueError('message.text must be a string')
    checkTime('message.sentAt', message.sentAt)
    checkTime('message.receivedAt', message.receivedAt)
    const { seq: _ignored, ...fields } = message as NewMessage & { seq?: number }
    // A flat message (every member a string, number, boolean or null: every message the app writes) is encoded
    // once, here: the stored record is `{...fields, seq}`, whose JSON text is this one with `,"seq":N` before
    // the closing brace (fields has at least `id`; JSON has no spaces). Any other is validated here and encoded
    // at commit, as before (a nested member is read as it is then).
    const text = flatJsonText(asValue(fields))
    if (text === undefined) jsonText(asValue(fields))
    return this.#add(async (tx) => {
      const idKey = this.#core.keys.messageId(fields.id)
      const existing = (await tx.get(idKey)) as { conversation: string; seq: number } | undefined
      if (ifNew && existing !== undefined) return
      let seq: number
      if (existing !== undefined && existing.conversation === fields.conversation) {
        seq = existing.seq
      } else {
        if (existing !== undefined) tx.del(this.#core.keys.message(existing.conversation, existing.seq))
        seq = await this.#core.nextSeq(tx, fields.conversation)
      }
      const record: MessageRecord = { ...fields, seq }
      const key = this.#core.keys.message(fields.conversation, seq)
      if (text === undefined) tx.put(key, asValue(record))
      else tx.put(key, asValue(record), `${text.slice(0, -1)},"seq":${seq}}`)
      tx.put(idKey, { conversation: fields.conversation, seq })
      tx.messages.push(record)
    })
  }

  setMessageStatus(id: string, status: MessageStatus): this {
    checkId('id', id)
    if (!STATUSES.has(status)) throw new InvalidStoreValueError('status')
    return this.#add(async (tx) => {
      const loc = (await tx.get(this.#core.keys.messageId(id))) as { conversation: string; seq: number } | undefined
      if (loc === undefined) return
      const k = this.#core.keys.message(loc.conversation, loc.seq)
      const record = (await tx.get(k)) as MessageRecord | undefined
      if (record === undefined) return
      const updated = { ...record, status }
      tx.put(k, asValue(updated))
      tx.messages.push(updated)
    })
  }

  deleteMessage(id: string): this {
    checkId('id', id)
    return this.#add(async (tx) => {
      const idKey = this.#core.keys.messageId(id)
      const loc = (await tx.get(idKey)) as { conversation: string; seq: number } | undefined
      if (loc === undefined) return
      tx.del(idKey)
      tx.del(this.#core.keys.message(loc.conversation, loc.seq))
    })
  }

  putOutbox(entry: OutboxEntry, options?: { sync?: boolean }): this {
    checkId('entry.id', entry.id)
    checkId('entry.conversation', entry.conversation)
    checkBytesArg('entry.payload', entry.payload)
    checkTime('entry.nextAttemptAt', entry.nextAttemptAt)
    if (!Number.isSafeInteger(entry.attempts) || entry.attempts < 0) throw new InvalidStoreValueError('entry.attempts')
    const value = asValue(entry)
    jsonText(value)
    if (options?.sync !== false) this.#durable = true
    return this.#add(async (tx) => tx.put(this.#core.keys.outbox(entry.id), value))
  }

  deleteOutbox(id: string): this {
    checkId('id', id)
    return this.#add(async (tx) => tx.del(this.#core.keys.outbox(id)))
  }

  putEnvelope(topic: Uint8Array, id: Uint8Array, timestamp: number, bytes: Uint8Array): this {
    checkBytesArg('topic', topic)
    checkBytesArg('id', id, ENVELOPE_ID_BYTES)
    checkTime('timestamp', timestamp)
    checkBytesArg('bytes', bytes)
    const t = copyOf(topic)
    const i = copyOf(id)
    const b = copyOf(bytes)
    return this.#add(async (tx) => {
      const tp = this.#core.keys.topicPrefix(t)
      const indexKey = recordKey(NS.envelopeId, tp, i)
      if ((await tx.get(indexKey)) !== undefined) return
      tx.put(indexKey, { timestamp })
      tx.put(recordKey(NS.envelope, tp, u64(timestamp), i), b)
      const th = keyText(tp)
      if (!this.#core.knownTopics.has(th) && !tx.topics.has(th)) {
        const registry = recordKey(NS.topic, tp)
        if ((await tx.get(registry)) === undefined) tx.put(registry, { topic: t })
        tx.topics.add(th)
      }
      tx.envelopesAdded++
    })
  }

  deleteEnvelope(topic: Uint8Array, id: Uint8Array): this {
    checkBytesArg('topic', topic)
    checkBytesArg('id', id, ENVELOPE_ID_BYTES)
    const t = copyOf(topic)
    const i = copyOf(id)
    return this.#add(async (tx) => {
      const tp = this.#core.keys.topicPrefix(t)
      const indexKey = recordKey(NS.envelopeId, tp, i)
      const index = (await tx.get(indexKey)) as { timestamp: number } | undefined
      if (index === undefined) return
      tx.del(indexKey)
      tx.del(recordKey(NS.envelope, tp, u64(index.timestamp), i))
    })
  }

  markSeen(scope: string, id: Uint8Array, at: number = Date.now()): this {
    checkId('scope', scope)
    checkBytesArg('id', id)
    checkTime('at', at)
    const k = this.#core.keys.seen(scope, id)
    return this.#add(async (tx) => tx.put(k, { at }))
  }

  async commit(options?: CommitOptions): Promise<{ messages: MessageRecord[]; envelopesAdded: number }> {
    const tx = await this.commitTx(options?.onWrite)
    return { messages: tx.messages, envelopesAdded: tx.envelopesAdded }
  }

  /** @internal commits and returns the transaction (for envelope counts). */
  async commitTx(onWrite?: () => void): Promise<Tx> {
    if (this.#committed) throw new StoreError('this batch was already committed')
    this.#committed = true
    return this.#core.runCommit(this.#ops, this.#raw, this.#durable, onWrite)
  }
}

/**
 * Blinded components that recur (a community, a topic, a conversation, a member, a chain), by a string of
 * their parts: each costs a keyed BLAKE2b, and every message read or written needs a few of them.
 * Bounded: past MAX_MEMO entries the map starts over. Values are never handed out, only copied into keys.
 */
class BlindMemo {
  static readonly MAX_MEMO = 4096
  readonly #map = new Map<string, Uint8Array>()
  constructor(readonly dbKey: DatabaseKey) {}
  get(memo: string, ...parts: Array<string | Uint8Array>): Uint8Array {
    let b = this.#map.get(memo)
    if (b === undefined) {
      if (this.#map.size >= BlindMemo.MAX_MEMO) this.#map.clear()
      b = blind(this.dbKey, ...parts)
      this.#map.set(memo, b)
    }
    return b
  }
}


/**
 * Random nonces for sealed records (§10.2), drawn from the CSPRNG 256 at a time: one getRandomValues call
 * per 24-byte nonce cost several times the AEAD it feeds. Each nonce is handed out once.
 */
class NoncePool {
  static readonly BATCH = 256
  #pool: Uint8Array = new Uint8Array(0)
  #next = 0
  take(): Uint8Array {
    if (this.#next + AEAD_NONCE_BYTES > this.#pool.length) {
      this.#pool = randomBytes(AEAD_NONCE_BYTES * NoncePool.BATCH)
      this.#next = 0
    }
    const nonce = this.#pool.subarray(this.#next, this.#next + AEAD_NONCE_BYTES)
    this.#next += AEAD_NONCE_BYTES
    return nonce
  }
}

/** Record keys of one store (blinded under its database key). */
class Keys {
  readonly #memo: BlindMemo
  constructor(readonly dbKey: DatabaseKey) {
    this.#memo = new BlindMemo(dbKey)
  }
  // Memo keys: a letter per kind, then the parts, all but the last prefixed with their length (no two lists
  // of parts share a memo key). What is blinded is the list of parts, as §10.3 says.
  #community = (id: string) => this.#memo.get(`c${id}`, 'community', id)
  contact = (id: string) => recordKey(NS.contact, blind(this.dbKey, 'contact', id))
  contactName = (name: string) => recordKey(NS.contactName, blind(this.dbKey, 'contact-name', name))
  contactKey = (identityKey: string) => recordKey(NS.contactKey, blind(this.dbKey, 'contact-key', identityKey))
  session = (contactId: string) => recordKey(NS.session, blind(this.dbKey, 'session', contactId))
  community = (id: string) => recordKey(NS.community, this.#community(id))
  communityName = (name: string) => recordKey(NS.communityName, blind(this.dbKey, 'community-name', name))
  communityData = (id: string) => recordKey(NS.communityData, this.#community(id))
  epoch = (id: string, epoch: number) => recordKey(NS.communityData, this.#community(id), Uint8Array.of(COMMUNITY_SUB.epoch), u32(epoch))
  member = (id: string, memberId: string) =>
    recordKey(
      NS.communityData,
      this.#community(id),
      Uint8Array.of(COMMUNITY_SUB.member),
      this.#memo.get(`m${id.length}:${id}${memberId}`, 'member', id, memberId)
    )
  chain = (id: string, chainId: string) =>
    recordKey(NS.communityData, this.#community(id), Uint8Array.of(COMMUNITY_SUB.chain), this.#memo.get(`h${id.length}:${id}${chainId}`, 'chain', id, chainId))
  /** B(conversation, id), cached: every message write and read needs it. */
  conversationPrefix = (conversation: string): Uint8Array => this.#memo.get(`v${conversation}`, 'conversation', conversation)
  conversation = (conversation: string) => recordKey(NS.conversation, this.conversationPrefix(conversation))
  message = (conversation: string, seq: number) => recordKey(NS.message, this.conversationPrefix(conversation), u64(seq))
  messageId = (id: string) => recordKey(NS.messageId, blind(this.dbKey, 'message-id', id))
  outbox = (id: string) => recordKey(NS.outbox, blind(this.dbKey, 'outbox', id))
  topicPrefix = (topic: Uint8Array) => this.#memo.get(`t${keyText(topic)}`, 'topic', topic)
  seen = (scope: string, id: Uint8Array) =>
    recordKey(NS.seen, this.#memo.get(`s${scope}`, 'seen-scope', scope), blind(this.dbKey, 'seen', scope, id))
}

/** How to open: create a new database, open an existing one, or either. */
export type OpenMode = 'create' | 'open' | 'open-or-create'

/** The Store implementation over an abstract-level database. */
export class SealedStore implements Store {
  readonly db: BinaryLevel
  readonly location: string
  /** @internal record keys of this store */
  readonly keys: Keys
  /** @internal topics whose registry record exists */
  readonly knownTopics = new Set<string>()
  #schemaVersion: number
  #dbKey: DatabaseKey
  #argon2: Argon2idParams
  #queue: Promise<unknown> = Promise.resolve()
  #closed = false
  #uncleanShutdown = false
  readonly #seqCache = new Map<string, number>()
  readonly #getSync: boolean
  readonly #nonces = new NoncePool()
  readonly #plain = new PlainScratch()

  protected constructor(db: BinaryLevel, location: string, dbKey: DatabaseKey, schemaVersion: number, argon2: Argon2idParams) {
    this.db = db
    this.location = location
    this.#dbKey = dbKey
    this.keys = new Keys(dbKey)
    this.#schemaVersion = schemaVersion
    this.#argon2 = argon2
    this.#getSync = (db.supports as { getSync?: boolean }).getSync === true
  }

  /**
   * Opens (or creates) the store on an already-opened database; closes the database on any error.
   * Order (§10.6): version record, wrapped key (WrongPassphraseError), sealed version copy, migrations.
   */
  protected static async openOn<T extends SealedStore>(
    make: (db: BinaryLevel, location: string, key: DatabaseKey, version: number, argon2: Argon2idParams) => T,
    db: BinaryLevel,
    location: string,
    passphrase: string,
    mode: OpenMode,
    opts: StoreOptions
  ): Promise<T> {
    const argon2 = opts.argon2 ?? DEFAULT_ARGON2
    const target = opts.targetSchemaVersion ?? SCHEMA_VERSION
    let key: DatabaseKey | undefined
    try {
      const versionBytes = await db.get(META_VERSION_KEY)
      if (versionBytes === undefined) {
        if (mode === 'open') throw new StoreNotFoundError(location)
        key = DatabaseKey.generate()
        const store = make(db, location, key, target, argon2)
        await store.#initialise(passphrase, target)
        await store.#markRunning()
        return store
      }
      if (mode === 'create') throw new StoreExistsError(location)
      if (versionBytes.length !== 4) throw new TamperedRecordError('meta')
      const version = readU32(versionBytes, 0)
      if (version > target) throw new StoreVersionError(version, target)
      const wrapped = await db.get(META_DBKEY_KEY)
      if (wrapped === undefined) throw new TamperedRecordError('meta')
      key = unwrapDatabaseKey(new Uint8Array(wrapped), passphrase)
      const store = make(db, location, key, version, argon2)
      const sealedVersion = await store.readRecord(localKey('schema'))
      if (sealedVersion !== version) throw new TamperedRecordError('schema')
      if (version < target) await store.#migrate(version, target, opts.migrations ?? BUILTIN_MIGRATIONS)
      await store.#markRunning()
      return store
    } catch (err) {
      key?.wipe()
      await db.close().catch(() => {})
      throw err
    }
  }

  /** Creation is one batch: plain version, wrapped key and sealed version copy, or nothing. */
  async #initialise(passphrase: string, version: number): Promise<void> {
    const wrapped = wrapDatabaseKey(this.#dbKey, passphrase, this.#argon2)
    const batch = new SealedBatch(this, [
      { type: 'put', key: META_VERSION_KEY, value: u32(version) },
      { type: 'put', key: META_DBKEY_KEY, value: wrapped }
    ])
    batch.addOp(async (tx) => tx.put(localKey('schema'), version))
    await batch.commitTx()
  }

  async #migrate(from: number, to: number, migrations: Migration[]): Promise<void> {
    for (let v = from; v < to; v++) {
      const step = migrations.find((m) => m.from === v)
      if (step === undefined) throw new StoreError(`no migration from schema version ${v}`)
      const batch = new SealedBatch(this, [{ type: 'put', key: META_VERSION_KEY, value: u32(v + 1) }])
      await step.migrate(this, batch)
      const next = v + 1
      batch.addOp(async (tx) => tx.put(localKey('schema'), next))
      await batch.commitTx()
      this.#schemaVersion = next
    }
  }

  get schemaVersion(): number {
    return this.#schemaVersion
  }

  /** {@inheritDoc Store.uncleanShutdown} */
  get uncleanShutdown(): boolean {
    return this.#uncleanShutdown
  }

  /** Notes whether the last session closed cleanly, then records (synced) that this one is running (§10.8). */
  async #markRunning(): Promise<void> {
    this.#uncleanShutdown = (await this.db.get(META_RUNNING_KEY)) !== undefined
    await this.db.put(META_RUNNING_KEY, RUNNING, SYNC as object)
  }

  /** {@inheritDoc Store.flush} */
  flush(): Promise<void> {
    this.#assertOpen()
    return this.#exclusive(async () => {
      this.#assertOpen()
      // A synced write puts LevelDB's log on the disk up to it: every earlier write with it.
      await this.db.put(META_RUNNING_KEY, RUNNING, SYNC as object)
    })
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('the store is closed')
  }

  /** @internal opens a sealed value; a failure is TamperedRecordError. */
  openValue(key: Uint8Array, sealed: Uint8Array): StoreValue {
    let plain: Uint8Array
    try {
      plain = openRecord(this.#dbKey, key, sealed)
    } catch (err) {
      throw new TamperedRecordError(namespaceName(key), { cause: err })
    }
    try {
      return decodeValue(plain)
    } catch (err) {
      throw new TamperedRecordError(namespaceName(key), { cause: err })
    }
  }

  /** @internal reads and opens one record. */
  async readRecord(key: Uint8Array): Promise<StoreValue | undefined> {
    this.#assertOpen()
    // One key from LevelDB's cache or the OS page cache takes microseconds: a synchronous read saves the
    // thread-pool round trip and the event-loop turns of an asynchronous one (both backends support it).
    const sealed = this.#getSync ? this.db.getSync(key) : await this.db.get(key)
    if (sealed === undefined) return undefined
    return this.openValue(key, sealed)
  }

  /** Runs `fn` alone: writes never interleave (one writer, so counters and indexes stay consistent). */
  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn)
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * @internal resolves batch operations and writes them as one level batch; `durable`: with sync (fsync), as a
   * batch that queues an envelope for publication is (PROTOCOL.md §10.8).
   */
  runCommit(ops: Op[], raw: LevelOp[], durable = false, onWrite?: () => void): Promise<Tx> {
    this.#assertOpen()
    return this.#exclusive(async () => {
      this.#assertOpen()
      const tx = new Tx(this)
      for (const op of ops) await op(tx)
      const levelOps: LevelOp[] = [...raw]
      try {
        for (const { key, value, json } of tx.overlay.values()) {
          if (value === null) {
            levelOps.push({ type: 'del', key })
            continue
          }
          const plain = json === undefined ? this.#plain.encode(value) : this.#plain.json(json)
          const sealed = allocBytes(SEALED_RECORD_OVERHEAD + plain.length)
          sealRecordInto(this.#dbKey, key, plain, this.#nonces.take(), sealed)
          levelOps.push({ type: 'put', key, value: sealed })
        }
      } finally {
        this.#plain.wipe()
      }
      // classic-level's batch option `sync` (memory-level has no disk and ignores it); abstract-level's types omit it.
      const written = levelOps.length > 0 ? (durable ? this.db.batch(levelOps, SYNC as object) : this.db.batch(levelOps)) : undefined
      try {
        onWrite?.()
      } finally {
        await written
      }
      for (const [conversation, next] of tx.seq) this.#seqCache.set(conversation, next)
      for (const t of tx.topics) this.knownTopics.add(t)
      return tx
    })
  }

  /** @internal the next seq of a conversation inside a commit (cached after the first read). */
  async nextSeq(tx: Tx, conversation: string): Promise<number> {
    let next = tx.seq.get(conversation) ?? this.#seqCache.get(conversation)
    if (next === undefined) {
      const counter = (await tx.get(this.keys.conversation(conversation))) as { next: number } | undefined
      next = counter?.next ?? 1
    }
    tx.seq.set(conversation, next + 1)
    tx.put(this.keys.conversation(conversation), { conversation, next: next + 1 })
    return next
  }

  /** {@inheritDoc Store.batch} */
  batch(): StoreBatch {
    this.#assertOpen()
    return new SealedBatch(this)
  }

  /** {@inheritDoc Store.changePassphrase} */
  async changePassphrase(newPassphrase: string, argon2?: Argon2idParams): Promise<void> {
    this.#assertOpen()
    const params = argon2 ?? this.#argon2
    const wrapped = wrapDatabaseKey(this.#dbKey, newPassphrase, params)
    await this.runCommit([], [{ type: 'put', key: META_DBKEY_KEY, value: wrapped }])
  }

  /** {@inheritDoc Store.verify} */
  async verify(): Promise<VerifyReport> {
    this.#assertOpen()
    let records = 0
    for await (const [key, value] of scan(this.db.iterator({ gte: Uint8Array.of(NS.local) }))) {
      this.openValue(key, value)
      records++
    }
    return { records }
  }

  /** {@inheritDoc Store.close} */
  async close(): Promise<void> {
    if (this.#closed) return
    await this.#queue
    this.#closed = true
    // Synced: every write before it is durable, and the next opening knows this session ended cleanly.
    await this.db.del(META_RUNNING_KEY, SYNC as object).catch(() => {})
    await this.db.close()
    this.#dbKey.wipe()
  }

  async #write(fn: (b: StoreBatch) => void): Promise<void> {
    const b = this.batch()
    fn(b)
    await b.commit()
  }

  // --- Local material and settings ---------------------------------------------------------------

  async #readBytes(key: Uint8Array): Promise<Uint8Array | undefined> {
    const v = await this.readRecord(key)
    if (v === undefined) return undefined
    if (!(v instanceof Uint8Array)) throw new TamperedRecordError(namespaceName(key))
    return v
  }

  /** {@inheritDoc Store.getIdentity} */
  getIdentity(): Promise<Uint8Array | undefined> {
    return this.#readBytes(localKey('identity'))
  }
  /** {@inheritDoc Store.setIdentity} */
  setIdentity(bytes: Uint8Array): Promise<void> {
    return this.#write((b) => b.setIdentity(bytes))
  }
  /** {@inheritDoc Store.getPrekeys} */
  getPrekeys(): Promise<Uint8Array | undefined> {
    return this.#readBytes(localKey('prekeys'))
  }
  /** {@inheritDoc Store.setPrekeys} */
  setPrekeys(bytes: Uint8Array): Promise<void> {
    return this.#write((b) => b.setPrekeys(bytes))
  }
  /** {@inheritDoc Store.getPeerKey} */
  getPeerKey(): Promise<Uint8Array | undefined> {
    return this.#readBytes(localKey('peer-key'))
  }
  /** {@inheritDoc Store.setPeerKey} */
  setPeerKey(bytes: Uint8Array): Promise<void> {
    return this.#write((b) => b.setPeerKey(bytes))
  }
  /** {@inheritDoc Store.getSettings} */
  async getSettings(): Promise<StoreObject | undefined> {
    return (await this.readRecord(localKey('settings'))) as StoreObject | undefined
  }
  /** {@inheritDoc Store.setSettings} */
  setSettings(settings: StoreObject): Promise<void> {
    return this.#write((b) => b.setSettings(settings))
  }

  // --- Contacts and sessions ---------------------------------------------------------------------

  /** {@inheritDoc Store.getContact} */
  async getContact(id: string): Promise<ContactRecord | undefined> {
    checkId('id', id)
    return (await this.readRecord(this.keys.contact(id))) as ContactRecord | undefined
  }
  /** {@inheritDoc Store.getContactByName} */
  async getContactByName(name: string): Promise<ContactRecord | undefined> {
    checkId('name', name)
    const index = (await this.readRecord(this.keys.contactName(name))) as { id: string } | undefined
    return index === undefined ? undefined : this.getContact(index.id)
  }
  /** {@inheritDoc Store.getContactByIdentityKey} */
  async getContactByIdentityKey(identityKey: string): Promise<ContactRecord | undefined> {
    checkId('identityKey', identityKey)
    const index = (await this.readRecord(this.keys.contactKey(identityKey))) as { id: string } | undefined
    return index === undefined ? undefined : this.getContact(index.id)
  }
  /** {@inheritDoc Store.listContacts} */
  async listContacts(): Promise<ContactRecord[]> {
    return (await this.#listNamespace(Uint8Array.of(NS.contact))) as unknown as ContactRecord[]
  }
  /** {@inheritDoc Store.putContact} */
  putContact(contact: ContactRecord): Promise<void> {
    return this.#write((b) => b.putContact(contact))
  }
  /** {@inheritDoc Store.deleteContact} */
  deleteContact(id: string): Promise<void> {
    return this.#write((b) => b.deleteContact(id))
  }
  /** {@inheritDoc Store.getSession} */
  getSession(contactId: string): Promise<Uint8Array | undefined> {
    checkId('contactId', contactId)
    return this.#readBytes(this.keys.session(contactId))
  }
  /** {@inheritDoc Store.setSession} */
  setSession(contactId: string, state: Uint8Array): Promise<void> {
    return this.#write((b) => b.setSession(contactId, state))
  }
  /** {@inheritDoc Store.deleteSession} */
  deleteSession(contactId: string): Promise<void> {
    return this.#write((b) => b.deleteSession(contactId))
  }

  async #listNamespace(prefix: Uint8Array): Promise<StoreValue[]> {
    this.#assertOpen()
    const out: StoreValue[] = []
    for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) }))) {
      out.push(this.openValue(key, value))
    }
    return out
  }

  // --- Communities -------------------------------------------------------------------------------

  /** {@inheritDoc Store.getCommunity} */
  async getCommunity(id: string): Promise<CommunityRecord | undefined> {
    checkId('id', id)
    return (await this.readRecord(this.keys.community(id))) as CommunityRecord | undefined
  }
  /** {@inheritDoc Store.getCommunityByName} */
  async getCommunityByName(name: string): Promise<CommunityRecord | undefined> {
    checkId('name', name)
    const index = (await this.readRecord(this.keys.communityName(name))) as { id: string } | undefined
    return index === undefined ? undefined : this.getCommunity(index.id)
  }
  /** {@inheritDoc Store.listCommunities} */
  async listCommunities(): Promise<CommunityRecord[]> {
    return (await this.#listNamespace(Uint8Array.of(NS.community))) as unknown as CommunityRecord[]
  }
  /** {@inheritDoc Store.putCommunity} */
  putCommunity(community: CommunityRecord): Promise<void> {
    return this.#write((b) => b.putCommunity(community))
  }
  /** {@inheritDoc Store.deleteCommunity} */
  deleteCommunity(id: string): Promise<void> {
    return this.#write((b) => b.deleteCommunity(id))
  }
  /** {@inheritDoc Store.getEpochKey} */
  getEpochKey(communityId: string, epoch: number): Promise<Uint8Array | undefined> {
    checkId('communityId', communityId)
    return this.#readBytes(this.keys.epoch(communityId, epoch))
  }
  /** {@inheritDoc Store.listEpochKeys} */
  async listEpochKeys(communityId: string): Promise<Array<{ epoch: number; key: Uint8Array }>> {
    checkId('communityId', communityId)
    this.#assertOpen()
    const prefix = recordKey(NS.communityData, blind(this.#dbKey, 'community', communityId), Uint8Array.of(COMMUNITY_SUB.epoch))
    const out: Array<{ epoch: number; key: Uint8Array }> = []
    for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) }))) {
      const v = this.openValue(key, value)
      if (!(v instanceof Uint8Array)) throw new TamperedRecordError('communityData')
      out.push({ epoch: readU32(key, prefix.length), key: v })
    }
    return out
  }
  /** {@inheritDoc Store.setEpochKey} */
  setEpochKey(communityId: string, epoch: number, key: Uint8Array): Promise<void> {
    return this.#write((b) => b.setEpochKey(communityId, epoch, key))
  }
  /** {@inheritDoc Store.getMember} */
  async getMember(communityId: string, memberId: string): Promise<MemberRecord | undefined> {
    checkId('communityId', communityId)
    checkId('memberId', memberId)
    return (await this.readRecord(this.keys.member(communityId, memberId))) as MemberRecord | undefined
  }
  /** {@inheritDoc Store.listMembers} */
  async listMembers(communityId: string): Promise<MemberRecord[]> {
    checkId('communityId', communityId)
    const prefix = recordKey(NS.communityData, blind(this.#dbKey, 'community', communityId), Uint8Array.of(COMMUNITY_SUB.member))
    return (await this.#listNamespace(prefix)) as unknown as MemberRecord[]
  }
  /** {@inheritDoc Store.putMember} */
  putMember(communityId: string, member: MemberRecord): Promise<void> {
    return this.#write((b) => b.putMember(communityId, member))
  }
  /** {@inheritDoc Store.deleteMember} */
  deleteMember(communityId: string, memberId: string): Promise<void> {
    return this.#write((b) => b.deleteMember(communityId, memberId))
  }
  /** {@inheritDoc Store.getChainState} */
  async getChainState(communityId: string, chainId: string): Promise<Uint8Array | undefined> {
    checkId('communityId', communityId)
    checkId('chainId', chainId)
    const v = (await this.readRecord(this.keys.chain(communityId, chainId))) as { state: Uint8Array } | undefined
    return v?.state
  }
  /** {@inheritDoc Store.listChainStates} */
  async listChainStates(communityId: string): Promise<Array<{ chainId: string; state: Uint8Array }>> {
    checkId('communityId', communityId)
    const prefix = recordKey(NS.communityData, blind(this.#dbKey, 'community', communityId), Uint8Array.of(COMMUNITY_SUB.chain))
    return (await this.#listNamespace(prefix)) as unknown as Array<{ chainId: string; state: Uint8Array }>
  }
  /** {@inheritDoc Store.setChainState} */
  setChainState(communityId: string, chainId: string, state: Uint8Array): Promise<void> {
    return this.#write((b) => b.setChainState(communityId, chainId, state))
  }

  // --- Messages ----------------------------------------------------------------------------------

  /** {@inheritDoc Store.addMessage} */
  async addMessage(message: NewMessage): Promise<MessageRecord> {
    const { messages } = await this.batch().putMessage(message).commit()
    return messages[0] as MessageRecord
  }
  /** {@inheritDoc Store.getMessage} */
  async getMessage(id: string): Promise<MessageRecord | undefined> {
    checkId('id', id)
    const loc = (await this.readRecord(this.keys.messageId(id))) as { conversation: string; seq: number } | undefined
    if (loc === undefined) return undefined
    return (await this.readRecord(this.keys.message(loc.conversation, loc.seq))) as MessageRecord | undefined
  }
  /** {@inheritDoc Store.listMessages} */
  async listMessages(conversation: string, page: MessagePage = {}): Promise<MessageRecord[]> {
    checkId('conversation', conversation)
    this.#assertOpen()
    const limit = page.limit ?? DEFAULT_PAGE
    if (!Number.isSafeInteger(limit) || limit < 0) throw new InvalidStoreValueError('limit must be a non-negative integer')
    if (limit === 0) return []
    const prefix = recordKey(NS.message, this.keys.conversationPrefix(conversation))
    const lower = page.after !== undefined ? { gt: concatBytes(prefix, u64(page.after)) } : { gte: prefix }
    const upper = page.before !== undefined ? concatBytes(prefix, u64(page.before)) : prefixEnd(prefix)
    // Only `after` reads forward (the oldest after the cursor); otherwise the newest, reversed.
    const reverse = page.after === undefined
    const out: MessageRecord[] = []
    for await (const [key, value] of scan(this.db.iterator({ ...lower, lt: upper, reverse, limit }))) {
      out.push(this.openValue(key, value) as unknown as MessageRecord)
    }
    return reverse ? out.reverse() : out
  }
  /** {@inheritDoc Store.countMessages} */
  async countMessages(conversation: string): Promise<number> {
    checkId('conversation', conversation)
    this.#assertOpen()
    const prefix = recordKey(NS.message, this.keys.conversationPrefix(conversation))
    let n = 0
    for await (const _ of scan(this.db.keys({ gte: prefix, lt: prefixEnd(prefix) }))) n++
    return n
  }
  /** {@inheritDoc Store.listConversations} */
  async listConversations(): Promise<string[]> {
    const counters = (await this.#listNamespace(Uint8Array.of(NS.conversation))) as Array<{ conversation: string }>
    return counters.map((c) => c.conversation)
  }
  /** {@inheritDoc Store.updateMessageStatus} */
  async updateMessageStatus(id: string, status: MessageStatus): Promise<MessageRecord | undefined> {
    const { messages } = await this.batch().setMessageStatus(id, status).commit()
    return messages[0]
  }
  /** {@inheritDoc Store.deleteMessage} */
  deleteMessage(id: string): Promise<void> {
    return this.#write((b) => b.deleteMessage(id))
  }

  // --- Outbox ------------------------------------------------------------------------------------

  /** {@inheritDoc Store.putOutbox} */
  putOutbox(entry: OutboxEntry): Promise<void> {
    return this.#write((b) => b.putOutbox(entry))
  }
  /** {@inheritDoc Store.getOutbox} */
  async getOutbox(id: string): Promise<OutboxEntry | undefined> {
    checkId('id', id)
    return (await this.readRecord(this.keys.outbox(id))) as OutboxEntry | undefined
  }
  /** {@inheritDoc Store.listOutbox} */
  async listOutbox(dueAt?: number): Promise<OutboxEntry[]> {
    const all = (await this.#listNamespace(Uint8Array.of(NS.outbox))) as unknown as OutboxEntry[]
    const due = dueAt === undefined ? all : all.filter((e) => e.nextAttemptAt <= dueAt)
    return due.sort((a, b) => a.nextAttemptAt - b.nextAttemptAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
  }
  /** {@inheritDoc Store.deleteOutbox} */
  deleteOutbox(id: string): Promise<void> {
    return this.#write((b) => b.deleteOutbox(id))
  }

  // --- Envelopes ---------------------------------------------------------------------------------

  /** {@inheritDoc Store.putEnvelope} */
  async putEnvelope(topic: Uint8Array, id: Uint8Array, timestamp: number, bytes: Uint8Array): Promise<boolean> {
    const b = new SealedBatch(this)
    b.putEnvelope(topic, id, timestamp, bytes)
    const tx = await b.commitTx()
    return tx.envelopesAdded === 1
  }
  /** {@inheritDoc Store.hasEnvelope} */
  async hasEnvelope(topic: Uint8Array, id: Uint8Array): Promise<boolean> {
    return (await this.#envelopeTimestamp(topic, id)) !== undefined
  }
  async #envelopeTimestamp(topic: Uint8Array, id: Uint8Array): Promise<number | undefined> {
    checkBytesArg('topic', topic)
    checkBytesArg('id', id, ENVELOPE_ID_BYTES)
    const v = (await this.readRecord(recordKey(NS.envelopeId, this.keys.topicPrefix(topic), id))) as
      | { timestamp: number }
      | undefined
    return v?.timestamp
  }
  /** {@inheritDoc Store.getEnvelope} */
  async getEnvelope(topic: Uint8Array, id: Uint8Array): Promise<EnvelopeRecord | undefined> {
    const timestamp = await this.#envelopeTimestamp(topic, id)
    if (timestamp === undefined) return undefined
    const bytes = await this.#readBytes(recordKey(NS.envelope, this.keys.topicPrefix(topic), u64(timestamp), id))
    if (bytes === undefined) return undefined
    return { timestamp, id: Uint8Array.from(id), bytes }
  }

  #envelopeBounds(topic: Uint8Array, range: EnvelopeRange): { prefix: Uint8Array; gte: Uint8Array; lt: Uint8Array } {
    checkBytesArg('topic', topic)
    const prefix = recordKey(NS.envelope, this.keys.topicPrefix(topic))
    const bound = (b: { timestamp: number; id?: Uint8Array }): Uint8Array => {
      checkTime('bound.timestamp', b.timestamp)
      if (b.id !== undefined) checkBytesArg('bound.id', b.id)
      if (b.id !== undefined && b.id.length > ENVELOPE_ID_BYTES) throw new InvalidStoreValueError('bound.id longer than 32 bytes')
      return recordKey(NS.envelope, prefix.subarray(1), u64(b.timestamp), b.id ?? new Uint8Array(0))
    }
    return {
      prefix,
      gte: range.gte !== undefined ? bound(range.gte) : prefix,
      lt: range.lt !== undefined ? bound(range.lt) : prefixEnd(prefix)
    }
  }

  /** {@inheritDoc Store.listEnvelopes} */
  async *listEnvelopes(topic: Uint8Array, range: EnvelopeRange = {}): AsyncIterable<EnvelopeRecord> {
    this.#assertOpen()
    const { prefix, gte, lt } = this.#envelopeBounds(topic, range)
    const it = this.db.iterator({ gte, lt, reverse: range.reverse ?? false, limit: range.limit ?? -1 })
    for await (const [key, value] of scan(it)) {
      const bytes = this.openValue(key, value)
      if (!(bytes instanceof Uint8Array)) throw new TamperedRecordError('envelope')
      yield { timestamp: readU64(key, prefix.length), id: new Uint8Array(key.subarray(prefix.length + 8)), bytes }
    }
  }
  /** {@inheritDoc Store.listEnvelopeKeys} */
  async *listEnvelopeKeys(topic: Uint8Array, range: EnvelopeRange = {}): AsyncIterable<EnvelopeKey> {
    this.#assertOpen()
    const { prefix, gte, lt } = this.#envelopeBounds(topic, range)
    for await (const key of scan(this.db.keys({ gte, lt, reverse: range.reverse ?? false, limit: range.limit ?? -1 }))) {
      yield { timestamp: readU64(key, prefix.length), id: new Uint8Array(key.subarray(prefix.length + 8)) }
    }
  }
  /** {@inheritDoc Store.countEnvelopes} */
  async countEnvelopes(topic: Uint8Array, range: EnvelopeRange = {}): Promise<number> {
    let n = 0
    for await (const _ of this.listEnvelopeKeys(topic, range)) n++
    return n
  }
  /** {@inheritDoc Store.deleteEnvelope} */
  deleteEnvelope(topic: Uint8Array, id: Uint8Array): Promise<void> {
    return this.#write((b) => b.deleteEnvelope(topic, id))
  }
  /** {@inheritDoc Store.listTopics} */
  async listTopics(): Promise<Uint8Array[]> {
    const registry = (await this.#listNamespace(Uint8Array.of(NS.topic))) as Array<{ topic: Uint8Array }>
    return registry.map((r) => r.topic)
  }

  // --- Seen ids ----------------------------------------------------------------------------------

  /** {@inheritDoc Store.hasSeen} */
  async hasSeen(scope: string, id: Uint8Array): Promise<boolean> {
    checkId('scope', scope)
    checkBytesArg('id', id)
    return (await this.readRecord(this.keys.seen(scope, id))) !== undefined
  }
  /** {@inheritDoc Store.markSeen} */
  markSeen(scope: string, id: Uint8Array, at?: number): Promise<void> {
    return this.#write((b) => b.markSeen(scope, id, at))
  }

  // --- Retention ---------------------------------------------------------------------------------

  /** {@inheritDoc Store.prune} */
  async prune(policy: RetentionPolicy): Promise<PruneResult> {
    this.#assertOpen()
    const now = policy.now ?? Date.now()
    const result: PruneResult = { messages: 0, envelopes: 0, seen: 0 }
    if (policy.messages !== undefined) {
      const { conversation, ...limits } = policy.messages
      const conversations = conversation !== undefined ? [conversation] : await this.listConversations()
      for (const c of conversations) result.messages += await this.#pruneMessages(c, limits, now)
    }
    if (policy.envelopes !== undefined) {
      const { topic, ...limits } = policy.envelopes
      const topics = topic !== undefined ? [topic] : await this.listTopics()
      for (const t of topics) result.envelopes += await this.#pruneEnvelopes(t, limits, now)
    }
    if (policy.seenMaxAgeMs !== undefined) result.seen = await this.#pruneSeen(now - policy.seenMaxAgeMs)
    return result
  }

  /** Walks newest to oldest; true for an item over any limit. */
  #overLimit(limits: RetentionLimits, now: number): (time: number, size: number) => boolean {
    let count = 0
    let bytes = 0
    return (time, size) => {
      count++
      bytes += size
      if (limits.maxAgeMs !== undefined && time < now - limits.maxAgeMs) return true
      if (limits.maxCount !== undefined && count > limits.maxCount) return true
      if (limits.maxBytes !== undefined && bytes > limits.maxBytes) return true
      return false
    }
  }

  async #pruneMessages(conversation: string, limits: RetentionLimits, now: number): Promise<number> {
    return this.#exclusive(async () => {
      const prefix = recordKey(NS.message, this.keys.conversationPrefix(conversation))
      const ops: LevelOp[] = []
      const drop = (key: Uint8Array, m: MessageRecord): void => {
        ops.push({ type: 'del', key: new Uint8Array(key) }, { type: 'del', key: this.keys.messageId(m.id) })
      }
      if (limits.oldestFirst === true && limits.maxAgeMs !== undefined && limits.maxCount === undefined && limits.maxBytes === undefined) {
        const cutoff = now - limits.maxAgeMs
        for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) }), 64)) {
          const m = this.openValue(key, value) as unknown as MessageRecord
          if (m.receivedAt >= cutoff) break
          drop(key, m)
        }
      } else {
        const over = this.#overLimit(limits, now)
        for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix), reverse: true }))) {
          const m = this.openValue(key, value) as unknown as MessageRecord
          if (over(m.receivedAt, value.length)) drop(key, m)
        }
      }
      if (ops.length > 0) await this.db.batch(ops)
      return ops.length / 2
    })
  }

  async #pruneEnvelopes(topic: Uint8Array, limits: RetentionLimits, now: number): Promise<number> {
    return this.#exclusive(async () => {
      const tp = this.keys.topicPrefix(topic)
      const prefix = recordKey(NS.envelope, tp)
      const over = this.#overLimit(limits, now)
      const ops: LevelOp[] = []
      for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix), reverse: true }))) {
        if (over(readU64(key, prefix.length), value.length)) {
          const id = key.subarray(prefix.length + 8)
          ops.push({ type: 'del', key: new Uint8Array(key) }, { type: 'del', key: recordKey(NS.envelopeId, tp, id) })
        }
      }
      if (ops.length > 0) await this.db.batch(ops)
      return ops.length / 2
    })
  }

  async #pruneSeen(cutoff: number): Promise<number> {
    return this.#exclusive(async () => {
      const prefix = Uint8Array.of(NS.seen)
      const ops: LevelOp[] = []
      for await (const [key, value] of scan(this.db.iterator({ gte: prefix, lt: prefixEnd(prefix) }))) {
        const v = this.openValue(key, value) as { at: number }
        if (v.at < cutoff) ops.push({ type: 'del', key: new Uint8Array(key) })
      }
      if (ops.length > 0) await this.db.batch(ops)
      return ops.length
    })
  }

  /** Never reveals anything. */
  toString(): string {
    return `Store(${this.location})`
  }
}
