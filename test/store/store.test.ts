// One suite, two stores: every test runs against LevelStore (a real LevelDB directory) and MemoryStore.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import {
  type ContactRecord,
  InvalidStoreValueError,
  type MessageRecord,
  NameTakenError,
  type NewMessage,
  type Store,
  StoreClosedError,
  StoreVersionError,
  TamperedRecordError,
  WrongPassphraseError
} from '../../src/store/index.js'
import { bytes, id32, levelHarness, memoryHarness, PASSPHRASE, type StoreHarness } from './harness.js'

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex')

function contact(id: string, name: string, extra: Partial<ContactRecord> = {}): ContactRecord {
  return {
    id,
    name,
    state: 'accepted',
    identityKey: id,
    verified: false,
    identityChanged: false,
    identityHistory: [{ identityKey: id, seenAt: 1 }],
    createdAt: 1,
    ...extra
  }
}

function message(conversation: string, n: number, extra: Partial<NewMessage> = {}): NewMessage {
  return {
    id: `${conversation}-m${n}`,
    conversation,
    direction: 'in',
    sender: 'aa',
    text: `message ${n}`,
    sentAt: 1000 + n,
    receivedAt: 2000 + n,
    status: 'received',
    ...extra
  }
}

async function snapshot(h: StoreHarness): Promise<Map<string, string>> {
  return new Map((await h.raw.entries()).map(([k, v]) => [hex(k), hex(v)]))
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}

describe.each([
  ['LevelStore', levelHarness],
  ['MemoryStore', memoryHarness]
] as const)('%s', (_name, makeHarness) => {
  let h: StoreHarness
  let store: Store

  beforeEach(async () => {
    h = makeHarness()
    store = await h.open()
  })

  afterEach(async () => {
    await store.close()
    await h.cleanup()
  })

  describe('opening', () => {
    it('keeps everything across close and reopen', async () => {
      await store.setIdentity(bytes(1, 2, 3))
      await store.putContact(contact('c1', 'alice'))
      await store.close()
      store = await h.open()
      expect(await store.getIdentity()).toEqual(bytes(1, 2, 3))
      expect((await store.getContactByName('alice'))?.id).toBe('c1')
      expect(store.schemaVersion).toBe(1)
    })

    it('refuses a wrong passphrase with WrongPassphraseError, and writes nothing', async () => {
      await store.addMessage(message('c1', 1))
      await store.close()
      const before = await snapshot(h)
      await expect(h.open('not the passphrase')).rejects.toBeInstanceOf(WrongPassphraseError)
      expect(await snapshot(h)).toEqual(before)
      store = await h.open()
      expect(await store.countMessages('c1')).toBe(1)
    })

    it('changePassphrase rewraps the key only', async () => {
      await store.addMessage(message('c1', 1))
      await store.close()
      const before = await snapshot(h)
      store = await h.open()
      await store.changePassphrase('new passphrase', { opsLimit: 2, memLimit: 16384 })
      await store.close()
      const after = await snapshot(h)
      const changed = [...after.keys()].filter((k) => after.get(k) !== before.get(k))
      expect(changed).toEqual([hex(Buffer.from('\u0000dbkey'))])
      // The new limits are stored with the key (u32be opsLimit, u32be memLimit after the version byte).
      expect((after.get(changed[0] as string) as string).slice(0, 18)).toBe('010000000200004000')
      expect(after.size).toBe(before.size)
      await expect(h.open(PASSPHRASE)).rejects.toBeInstanceOf(WrongPassphraseError)
      store = await h.open('new passphrase')
      expect((await store.listMessages('c1')).map((m) => m.text)).toEqual(['message 1'])
    })

    it('refuses a database written by a newer schema with StoreVersionError', async () => {
      await store.close()
      await h.raw.put(Buffer.from('\u0000version'), bytes(0, 0, 0, 99))
      const err = await h.open().catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreVersionError)
      expect(err).toMatchObject({ found: 99, supported: 1 })
      store = await h.open().catch(() => store) // keep afterEach happy (store already closed)
    })

    it('detects a plain version record rolled back under the sealed copy', async () => {
      await store.close()
      await h.raw.put(Buffer.from('\u0000version'), bytes(0, 0, 0, 0))
      await expect(h.open()).rejects.toBeInstanceOf(TamperedRecordError)
      await h.raw.put(Buffer.from('\u0000version'), bytes(0, 0, 0, 1))
      store = await h.open()
    })

    it('runs migrations to a newer schema in one batch with the version bump', async () => {
      await store.close()
      store = await h.open(PASSPHRASE, {
        targetSchemaVersion: 2,
        migrations: [
          {
            from: 1,
            migrate: async (_s, batch) => {
              batch.setSettings({ migrated: true })
            }
          }
        ]
      })
      expect(store.schemaVersion).toBe(2)
      expect(await store.getSettings()).toEqual({ migrated: true })
      await store.close()
      await expect(h.open()).rejects.toMatchObject({ found: 2, supported: 1 })
      store = await h.open(PASSPHRASE, { targetSchemaVersion: 2 })
      expect(store.schemaVersion).toBe(2)
    })

    it('throws StoreClosedError after close', async () => {
      await store.close()
      await expect(store.getIdentity()).rejects.toBeInstanceOf(StoreClosedError)
      expect(() => store.batch()).toThrow(StoreClosedError)
    })
  })

  describe('local material and settings', () => {
    it('round-trips identity, prekeys, peer key and settings with bytes inside', async () => {
      expect(await store.getIdentity()).toBeUndefined()
      await store.setIdentity(bytes(1))
      await store.setPrekeys(bytes(2, 2))
      await store.setPeerKey(bytes(3, 3, 3))
      await store.setSettings({ name: 'me', nested: { blob: bytes(9, 8), list: [1, 'two', null, true] } })
      expect(await store.getIdentity()).toEqual(bytes(1))
      expect(await store.getPrekeys()).toEqual(bytes(2, 2))
      expect(await store.getPeerKey()).toEqual(bytes(3, 3, 3))
      expect(await store.getSettings()).toEqual({ name: 'me', nested: { blob: bytes(9, 8), list: [1, 'two', null, true] } })
    })

    it('rejects values it cannot hold', async () => {
      expect(() => store.batch().setSettings({ $bytes: 'x' })).toThrow(InvalidStoreValueError)
      expect(() => store.batch().setSettings({ n: Number.NaN })).toThrow(InvalidStoreValueError)
    })
  })

  describe('contacts and sessions', () => {
    it('finds contacts by id, name and identity key; renames and deletes keep indexes right', async () => {
      await store.putContact(contact('c1', 'alice', { prekeyBundle: bytes(7, 7), peerId: 'peer1', addresses: ['/ip4/1'] }))
      await store.putContact(contact('c2', 'bob', { state: 'request' }))
      expect((await store.getContact('c1'))?.prekeyBundle).toEqual(bytes(7, 7))
      expect((await store.getContactByIdentityKey('c2'))?.name).toBe('bob')
      expect((await store.listContacts()).map((c) => c.name).sort()).toEqual(['alice', 'bob'])

      await store.putContact(contact('c1', 'alicia'))
      expect(await store.getContactByName('alice')).toBeUndefined()
      expect((await store.getContactByName('alicia'))?.id).toBe('c1')

      await expect(store.putContact(contact('c3', 'bob'))).rejects.toBeInstanceOf(NameTakenError)
      expect(await store.getContact('c3')).toBeUndefined()

      await store.deleteContact('c2')
      expect(await store.getContactByName('bob')).toBeUndefined()
      expect(await store.getContactByIdentityKey('c2')).toBeUndefined()
      await store.putContact(contact('c3', 'bob'))
      expect((await store.getContactByName('bob'))?.id).toBe('c3')
    })

    it('records an identity change and moves the identity-key index', async () => {
      await store.putContact(contact('c1', 'alice'))
      const old = (await store.getContact('c1')) as ContactRecord
      await store.putContact({
        ...old,
        identityKey: 'k2',
        identityChanged: true,
        identityHistory: [...old.identityHistory, { identityKey: 'k2', seenAt: 5 }]
      })
      expect(await store.getContactByIdentityKey('c1')).toBeUndefined()
      const now = await store.getContactByIdentityKey('k2')
      expect(now?.identityChanged).toBe(true)
      expect(now?.identityHistory.map((x) => x.identityKey)).toEqual(['c1', 'k2'])
    })

    it('stores opaque session state per contact', async () => {
      await store.setSession('c1', bytes(1, 1))
      await store.setSession('c2', bytes(2, 2))
      await store.setSession('c1', bytes(1, 2))
      expect(await store.getSession('c1')).toEqual(bytes(1, 2))
      await store.deleteSession('c1')
      expect(await store.getSession('c1')).toBeUndefined()
      expect(await store.getSession('c2')).toEqual(bytes(2, 2))
    })
  })

  describe('communities', () => {
    it('holds communities with epochs, members and chain states; delete removes them all', async () => {
      await store.putCommunity({ id: 'g1', name: 'book-club', role: 'admin', epoch: 2, createdAt: 1 })
      await store.putCommunity({ id: 'g2', name: 'chess', role: 'member', epoch: 0, createdAt: 1 })
      for (const e of [2, 0, 1, 300]) await store.setEpochKey('g1', e, bytes(e % 256))
      await store.putMember('g1', { id: 'm1', name: 'alice', role: 'admin' })
      await store.putMember('g1', { id: 'm2', role: 'member', lastSeen: 9 })
      await store.setChainState('g1', '2:m1', bytes(5))
      await store.setChainState('g2', '0:m1', bytes(6))

      expect((await store.getCommunityByName('chess'))?.id).toBe('g2')
      expect((await store.listCommunities()).map((c) => c.name).sort()).toEqual(['book-club', 'chess'])
      expect((await store.listEpochKeys('g1')).map((e) => e.epoch)).toEqual([0, 1, 2, 300])
      expect(await store.getEpochKey('g1', 300)).toEqual(bytes(44))
      expect((await store.listMembers('g1')).map((m) => m.id).sort()).toEqual(['m1', 'm2'])
      expect(await store.getChainState('g1', '2:m1')).toEqual(bytes(5))
      expect(await store.listChainStates('g1')).toEqual([{ chainId: '2:m1', state: bytes(5) }])

      await store.deleteMember('g1', 'm2')
      expect(await store.getMember('g1', 'm2')).toBeUndefined()
      await expect(store.putCommunity({ id: 'g3', name: 'chess', role: 'member', epoch: 0, createdAt: 1 })).rejects.toBeInstanceOf(
        NameTakenError
      )

      await store.deleteCommunity('g1')
      expect(await store.getCommunity('g1')).toBeUndefined()
      expect(await store.getCommunityByName('book-club')).toBeUndefined()
      expect(await store.listEpochKeys('g1')).toEqual([])
      expect(await store.listMembers('g1')).toEqual([])
      expect(await store.getChainState('g1', '2:m1')).toBeUndefined()
      expect(await store.getChainState('g2', '0:m1')).toEqual(bytes(6))
    })
  })

  describe('messages', () => {
    it('assigns a per-conversation seq and keeps it across reopen', async () => {
      const a = await store.addMessage(message('c1', 1))
      const b = await store.addMessage(message('c2', 1))
      const c = await store.addMessage(message('c1', 2))
      expect([a.seq, b.seq, c.seq]).toEqual([1, 1, 2])
      await store.close()
      store = await h.open()
      expect((await store.addMessage(message('c1', 3))).seq).toBe(3)
      expect((await store.listConversations()).sort()).toEqual(['c1', 'c2'])
    })

    it('pages: last N, before and after a cursor, oldest first', async () => {
      const b = store.batch()
      for (let i = 1; i <= 120; i++) b.putMessage(message('c1', i))
      const { messages } = await b.commit()
      expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: 120 }, (_, i) => i + 1))
      await store.addMessage(message('other', 1))

      const seqs = (ms: MessageRecord[]) => ms.map((m) => m.seq)
      const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
      expect(seqs(await store.listMessages('c1'))).toEqual(range(71, 120))
      expect(seqs(await store.listMessages('c1', { limit: 5 }))).toEqual(range(116, 120))
      expect(seqs(await store.listMessages('c1', { limit: 5, before: 71 }))).toEqual(range(66, 70))
      expect(seqs(await store.listMessages('c1', { limit: 5, after: 3 }))).toEqual(range(4, 8))
      expect(seqs(await store.listMessages('c1', { limit: 50, after: 110 }))).toEqual(range(111, 120))
      expect(seqs(await store.listMessages('c1', { limit: 50, after: 10, before: 14 }))).toEqual(range(11, 13))
      expect(seqs(await store.listMessages('c1', { limit: 5, before: 1 }))).toEqual([])
      expect(await store.listMessages('c1', { limit: 0 })).toEqual([])
      expect(await store.countMessages('c1')).toBe(120)
      expect(await store.countMessages('nobody')).toBe(0)
    })

    it('reads a page without opening the rest of the conversation', async () => {
      const b = store.batch()
      for (let i = 1; i <= 500; i++) b.putMessage(message('c1', i))
      await b.commit()
      const opened = vi.spyOn(store as unknown as { openValue: (k: Uint8Array, v: Uint8Array) => unknown }, 'openValue')
      expect((await store.listMessages('c1', { limit: 5 })).map((m) => m.seq)).toEqual([496, 497, 498, 499, 500])
      expect((await store.listMessages('c1', { limit: 5, before: 100 })).map((m) => m.seq)).toEqual([95, 96, 97, 98, 99])
      expect(opened).toHaveBeenCalledTimes(10)
    })

    it('looks messages up by id, updates status, replaces in place by id, deletes', async () => {
      await store.addMessage(message('c1', 1, { direction: 'out', status: 'queued', extra: { blob: bytes(1) } }))
      await store.addMessage(message('c1', 2))
      expect((await store.getMessage('c1-m1'))?.extra).toEqual({ blob: bytes(1) })
      expect((await store.updateMessageStatus('c1-m1', 'delivered'))?.status).toBe('delivered')
      expect((await store.getMessage('c1-m1'))?.status).toBe('delivered')
      expect(await store.updateMessageStatus('nope', 'read')).toBeUndefined()

      const again = await store.addMessage(message('c1', 1, { text: 'edited' }))
      expect(again.seq).toBe(1)
      expect((await store.listMessages('c1')).map((m) => m.text)).toEqual(['edited', 'message 2'])

      await store.deleteMessage('c1-m1')
      expect(await store.getMessage('c1-m1')).toBeUndefined()
      expect(await store.countMessages('c1')).toBe(1)
    })

    it('putMessage with ifNew leaves a known id as it is (in any conversation) and does not return it', async () => {
      await store.addMessage(message('c1', 1))
      const known = await store.batch().putMessage(message('c1', 1, { text: 'again' }), { ifNew: true }).commit()
      expect(known.messages).toEqual([])
      const elsewhere = await store.batch().putMessage(message('c2', 1, { id: 'c1-m1', text: 'moved?' }), { ifNew: true }).commit()
      expect(elsewhere.messages).toEqual([])
      expect((await store.getMessage('c1-m1'))?.text).toBe('message 1')
      expect(await store.countMessages('c2')).toBe(0)
      // Within one batch: the second of two puts of one new id is the one left out.
      const b = store.batch().putMessage(message('c1', 2), { ifNew: true }).putMessage(message('c1', 2, { text: 'twice' }), { ifNew: true })
      expect((await b.commit()).messages.map((m) => m.text)).toEqual(['message 2'])
      expect((await store.listMessages('c1')).map((m) => m.text)).toEqual(['message 1', 'message 2'])
    })
  })

  describe('atomic batches', () => {
    it('commits message, session state and seen id together', async () => {
      const { messages } = await store
        .batch()
        .putMessage(message('c1', 1))
        .setSession('c1', bytes(9))
        .markSeen('c1', bytes(1, 2, 3))
        .commit()
      expect(messages[0]?.seq).toBe(1)
      expect(await store.getSession('c1')).toEqual(bytes(9))
      expect(await store.hasSeen('c1', bytes(1, 2, 3))).toBe(true)
    })

    it('writes nothing when any operation of the batch fails', async () => {
      await store.putContact(contact('c1', 'alice'))
      await store.setSession('c1', bytes(1))
      const before = await collectAll(store)
      const batch = store
        .batch()
        .putMessage(message('c1', 1))
        .setSession('c1', bytes(2))
        .markSeen('c1', bytes(4))
        .putContact(contact('c2', 'alice')) // name taken: fails at commit
      await expect(batch.commit()).rejects.toBeInstanceOf(NameTakenError)
      expect(await collectAll(store)).toEqual(before)
      // The failed batch consumed no seq.
      expect((await store.addMessage(message('c1', 1))).seq).toBe(1)
    })

    it('sees its own earlier writes (two messages of one conversation, a put then a delete)', async () => {
      const { messages } = await store
        .batch()
        .putMessage(message('c1', 1))
        .putMessage(message('c1', 2))
        .setMessageStatus('c1-m1', 'read')
        .putEnvelope(id32(7), id32(1), 5, bytes(1))
        .deleteEnvelope(id32(7), id32(1))
        .commit()
      expect(messages.map((m) => [m.seq, m.status])).toEqual([
        [1, 'received'],
        [2, 'received'],
        [1, 'read']
      ])
      expect(await store.hasEnvelope(id32(7), id32(1))).toBe(false)
    })

    it('serialises concurrent commits without duplicate seqs', async () => {
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => store.addMessage(message('c1', i))))
      expect(new Set(results.map((m) => m.seq)).size).toBe(40)
      expect(await store.countMessages('c1')).toBe(40)
    })
  })

  describe('outbox', () => {
    it('keeps entries with attempts and next-attempt time across reopen, due ones first', async () => {
      await store.putOutbox({ id: 'o1', conversation: 'c1', payload: bytes(1), attempts: 0, nextAttemptAt: 50, createdAt: 1 })
      await store.putOutbox({ id: 'o2', conversation: 'c1', payload: bytes(2), attempts: 3, nextAttemptAt: 10, createdAt: 1 })
      await store.putOutbox({ id: 'o3', conversation: 'c2', messageId: 'm', payload: bytes(3), attempts: 1, nextAttemptAt: 99, createdAt: 1 })
      await store.close()
      store = await h.open()
      expect((await store.listOutbox()).map((e) => e.id)).toEqual(['o2', 'o1', 'o3'])
      expect((await store.listOutbox(60)).map((e) => e.id)).toEqual(['o2', 'o1'])
      expect((await store.getOutbox('o3'))?.payload).toEqual(bytes(3))
      await store.deleteOutbox('o2')
      expect((await store.listOutbox()).map((e) => e.id)).toEqual(['o1', 'o3'])
    })
  })

  describe('envelopes', () => {
    const topic = id32(0xaa)
    const other = id32(0xbb)

    beforeEach(async () => {
      // Out of order on purpose; two share timestamp 20.
      for (const [ts, n] of [
        [30, 3],
        [10, 1],
        [20, 9],
        [20, 2],
        [40, 4]
      ] as const) {
        expect(await store.putEnvelope(topic, id32(n), ts, bytes(n, n))).toBe(true)
      }
      await store.putEnvelope(other, id32(1), 10, bytes(0))
    })

    it('stores once per id, gets by id', async () => {
      expect(await store.putEnvelope(topic, id32(1), 10, bytes(0))).toBe(false)
      expect(await store.hasEnvelope(topic, id32(9))).toBe(true)
      expect(await store.hasEnvelope(topic, id32(5))).toBe(false)
      expect(await store.getEnvelope(topic, id32(9))).toEqual({ timestamp: 20, id: id32(9), bytes: bytes(9, 9) })
      expect((await store.getEnvelope(other, id32(1)))?.bytes).toEqual(bytes(0))
    })

    it('lists in (timestamp, id) order within half-open bounds; counts; keys only', async () => {
      const order = async (range = {}) => (await collect(store.listEnvelopes(topic, range))).map((e) => e.id[0])
      expect(await order()).toEqual([1, 2, 9, 3, 4])
      expect(await order({ gte: { timestamp: 20 }, lt: { timestamp: 40 } })).toEqual([2, 9, 3])
      expect(await order({ gte: { timestamp: 20, id: id32(5) } })).toEqual([9, 3, 4])
      expect(await order({ gte: { timestamp: 20, id: bytes(3) }, lt: { timestamp: 30, id: bytes(4) } })).toEqual([9, 3])
      expect(await order({ gte: { timestamp: 20, id: bytes(3) }, lt: { timestamp: 30, id: bytes(3, 3) } })).toEqual([9])
      expect(await order({ reverse: true, limit: 2 })).toEqual([4, 3])
      expect(await store.countEnvelopes(topic)).toBe(5)
      expect(await store.countEnvelopes(topic, { gte: { timestamp: 15 }, lt: { timestamp: 35 } })).toBe(3)
      const keys = await collect(store.listEnvelopeKeys(topic, { limit: 2 }))
      expect(keys).toEqual([
        { timestamp: 10, id: id32(1) },
        { timestamp: 20, id: id32(2) }
      ])
      expect((await store.listTopics()).map(hex).sort()).toEqual([hex(topic), hex(other)].sort())
    })

    it('deletes', async () => {
      await store.deleteEnvelope(topic, id32(9))
      expect(await store.hasEnvelope(topic, id32(9))).toBe(false)
      expect(await store.countEnvelopes(topic)).toBe(4)
      expect(await store.putEnvelope(topic, id32(9), 20, bytes(1))).toBe(true)
    })
  })

  describe('seen ids', () => {
    it('are kept per scope', async () => {
      await store.markSeen('g1', bytes(1))
      expect(await store.hasSeen('g1', bytes(1))).toBe(true)
      expect(await store.hasSeen('g2', bytes(1))).toBe(false)
      expect(await store.hasSeen('g1', bytes(2))).toBe(false)
    })
  })

  describe('retention', () => {
    it('oldestFirst prunes by age from the oldest and stops at the first message within it; a full pass finds the rest', async () => {
      const b = store.batch()
      // Stored in this order; the fifth after the clock was set back.
      for (const [i, at] of [[1, 1000], [2, 2000], [3, 3000], [4, 9000], [5, 1500], [6, 9500]] as const) b.putMessage(message('c1', i, { receivedAt: at }))
      await b.commit()
      const seqs = async (): Promise<number[]> => (await store.listMessages('c1', { limit: 100 })).map((m) => m.seq)
      // Keep receivedAt >= 10000 - 5000.
      expect((await store.prune({ messages: { conversation: 'c1', maxAgeMs: 5000, oldestFirst: true }, now: 10_000 })).messages).toBe(3)
      expect(await seqs()).toEqual([4, 5, 6])
      expect(await store.getMessage('c1-m2')).toBeUndefined()
      expect((await store.prune({ messages: { conversation: 'c1', maxAgeMs: 5000, oldestFirst: true }, now: 10_000 })).messages).toBe(0)
      expect((await store.prune({ messages: { conversation: 'c1', maxAgeMs: 5000 }, now: 10_000 })).messages).toBe(1)
      expect(await seqs()).toEqual([4, 6])
    })

    it('caps messages by count, age and size per conversation', async () => {
      const b = store.batch()
      for (let i = 1; i <= 30; i++) b.putMessage(message('c1', i, { receivedAt: i * 1000 }))
      for (let i = 1; i <= 5; i++) b.putMessage(message('c2', i, { receivedAt: i * 1000 }))
      await b.commit()

      expect(await store.prune({ messages: { conversation: 'c1', maxCount: 20 } })).toMatchObject({ messages: 10 })
      expect((await store.listMessages('c1', { limit: 100 }))[0]?.seq).toBe(11)
      expect(await store.getMessage('c1-m10')).toBeUndefined()
      expect(await store.countMessages('c2')).toBe(5)

      // Age applies to every conversation: keep receivedAt >= 26000 - 10000.
      expect((await store.prune({ messages: { maxAgeMs: 10_000 }, now: 26_000 })).messages).toBe(5 + 5)
      expect((await store.listMessages('c1', { limit: 100 })).map((m) => m.seq)).toEqual(range(16, 30))
      expect(await store.countMessages('c2')).toBe(0)

      const sizes = (await collectRawSizes(store, 'c1')).reverse()
      const keep = 4
      const maxBytes = sizes.slice(0, keep).reduce((a, b) => a + b, 0)
      await store.prune({ messages: { conversation: 'c1', maxBytes } })
      expect((await store.listMessages('c1', { limit: 100 })).map((m) => m.seq)).toEqual(range(27, 30))
      // New messages keep counting up.
      expect((await store.addMessage(message('c1', 99))).seq).toBe(31)
    })

    it('caps envelopes by age and count per topic, and forgets old seen ids', async () => {
      for (let i = 1; i <= 10; i++) await store.putEnvelope(id32(1), id32(i), i * 100, bytes(i))
      for (let i = 1; i <= 3; i++) await store.putEnvelope(id32(2), id32(i), i * 100, bytes(i))
      expect((await store.prune({ envelopes: { topic: id32(1), maxCount: 6 } })).envelopes).toBe(4)
      expect((await collect(store.listEnvelopeKeys(id32(1)))).map((k) => k.id[0])).toEqual(range(5, 10))
      expect(await store.hasEnvelope(id32(1), id32(4))).toBe(false)
      expect((await store.prune({ envelopes: { maxAgeMs: 250 }, now: 1000 })).envelopes).toBe(6 - 3 + 3)
      expect((await collect(store.listEnvelopeKeys(id32(1)))).map((k) => k.id[0])).toEqual([8, 9, 10])
      expect(await store.countEnvelopes(id32(2))).toBe(0)

      await store.markSeen('s', bytes(1), 100)
      await store.markSeen('s', bytes(2), 900)
      expect((await store.prune({ seenMaxAgeMs: 500, now: 1000 })).seen).toBe(1)
      expect(await store.hasSeen('s', bytes(1))).toBe(false)
      expect(await store.hasSeen('s', bytes(2))).toBe(true)
    })
  })

  describe('tampering', () => {
    async function populate(s: Store): Promise<void> {
      await s.setIdentity(bytes(1, 2, 3))
      await s.setSettings({ a: 1 })
      await s.putContact(contact('c1', 'alice', { prekeyBundle: bytes(4) }))
      await s.setSession('c1', bytes(5))
      await s.putCommunity({ id: 'g1', name: 'club', role: 'member', epoch: 1, createdAt: 1 })
      await s.setEpochKey('g1', 1, bytes(6))
      await s.putMember('g1', { id: 'm1', role: 'member' })
      await s.setChainState('g1', '1:m1', bytes(7))
      await s.addMessage(message('c1', 1))
      await s.addMessage(message('c1', 2))
      await s.putOutbox({ id: 'o1', conversation: 'c1', payload: bytes(8), attempts: 0, nextAttemptAt: 1, createdAt: 1 })
      await s.putEnvelope(id32(1), id32(2), 3, bytes(9))
      await s.markSeen('c1', bytes(10))
    }

    it('detects a flipped bit in every stored value (verify), never returning it', async () => {
      await populate(store)
      expect((await store.verify()).records).toBeGreaterThan(15)
      await store.close()
      const entries = (await h.raw.entries()).filter(([k]) => k[0] !== 0x00)
      for (const [key, value] of entries) {
        const bad = Uint8Array.from(value)
        const bit = (key.length * 7 + value.length) % (bad.length * 8)
        bad[bit >> 3] = (bad[bit >> 3] as number) ^ (1 << (bit & 7))
        await h.raw.put(key, bad)
        // Opening reads the sealed schema record, so that one fails already at open.
        const opened = h.open().then(async (s) => {
          try {
            await s.verify()
          } finally {
            await s.close()
          }
        })
        await expect(opened, `record ${hex(key)}`).rejects.toBeInstanceOf(TamperedRecordError)
        await h.raw.put(key, value)
      }
      store = await h.open()
      await store.verify()
    })

    it('typed reads throw TamperedRecordError for altered or moved values', async () => {
      await populate(store)
      await store.close()
      const entries = await h.raw.entries()
      const messages = entries.filter(([k]) => k[0] === 0x0a)
      expect(messages.length).toBe(2)
      const [[k1, v1], [k2, v2]] = messages as [[Uint8Array, Uint8Array], [Uint8Array, Uint8Array]]
      // Swap the two messages' values.
      await h.raw.put(k1, v2)
      await h.raw.put(k2, v1)
      store = await h.open()
      await expect(store.listMessages('c1')).rejects.toBeInstanceOf(TamperedRecordError)
      await expect(store.getMessage('c1-m1')).rejects.toBeInstanceOf(TamperedRecordError)
      await store.close()
      await h.raw.put(k1, v1)
      await h.raw.put(k2, v2)

      // The session value moved onto the identity record.
      const session = entries.find(([k]) => k[0] === 0x05) as [Uint8Array, Uint8Array]
      const identityKey = Buffer.from('\u0001identity')
      const identity = entries.find(([k]) => hex(k) === hex(identityKey)) as [Uint8Array, Uint8Array]
      await h.raw.put(identityKey, session[1])
      store = await h.open()
      await expect(store.getIdentity()).rejects.toBeInstanceOf(TamperedRecordError)
      await store.close()
      await h.raw.put(identityKey, identity[1])
      store = await h.open()
      expect(await store.getIdentity()).toEqual(bytes(1, 2, 3))
    })

    it('an altered wrapped key is refused as a wrong passphrase', async () => {
      await store.close()
      const wrapped = (await h.raw.entries()).find(([k]) => hex(k) === hex(Buffer.from('\u0000dbkey'))) as [Uint8Array, Uint8Array]
      const bad = Uint8Array.from(wrapped[1])
      bad[60] = (bad[60] as number) ^ 4
      await h.raw.put(wrapped[0], bad)
      await expect(h.open()).rejects.toBeInstanceOf(WrongPassphraseError)
      await h.raw.put(wrapped[0], wrapped[1])
      store = await h.open()
    })
  })
})

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i)
}

/** Everything readable through the interface, for before/after comparisons. */
async function collectAll(store: Store): Promise<unknown> {
  const conversations = await store.listConversations()
  return {
    contacts: await store.listContacts(),
    sessions: await store.getSession('c1'),
    conversations,
    messages: await Promise.all(conversations.map((c) => store.listMessages(c, { limit: 1000 }))),
    seen: await store.hasSeen('c1', bytes(4))
  }
}

/** Sealed sizes of a conversation's messages, oldest first (what maxBytes counts). */
async function collectRawSizes(store: Store, conversation: string): Promise<number[]> {
  // Sizes are deterministic: sealed = 41 bytes + 1 tag byte + the JSON of the record.
  const ms = await store.listMessages(conversation, { limit: 10_000 })
  return ms.map((m) => 41 + 1 + Buffer.byteLength(JSON.stringify(m)))
}
