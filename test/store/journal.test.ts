// The write journal in front of LevelDB (src/store/journal.ts, PROTOCOL.md §10.8): a batch is readable at once and
// written to LevelDB later, together with the others; a synced batch is on the disk with every batch before it when
// it completes; what a process left in the journal is replayed when the store opens, up to a torn record; a write
// that fails changes nothing readable. Real LevelDB in temporary directories.
import { unlinkSync, writeSync } from 'node:fs'
import { appendFile, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterEach, describe, expect, it } from 'vitest'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import { StoreError } from '../../src/store/errors.js'
import {
  decodeJournalFile,
  encodeJournalRecord,
  JOURNAL_DIRECTORY,
  type JournalledDb,
  JournalledLevel,
  type JournalOp,
  MAX_JOURNAL_FILE_BYTES
} from '../../src/store/journal.js'
import { openLevelStore } from '../../src/store/level.js'

const dirs: string[] = []
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-journal-'))
  dirs.push(dir)
  return dir
}

const bytes = (...b: number[]) => Uint8Array.from(b)
const text = (s: string) => new TextEncoder().encode(s)
const put = (k: string, v: string): JournalOp => ({ type: 'put', key: text(k), value: text(v) })
const del = (k: string): JournalOp => ({ type: 'del', key: text(k) })

/** A raw LevelDB in `dir` with the journal in front of it. */
async function openJournalled(dir: string, files?: Parameters<typeof JournalledLevel.open>[2]) {
  const level = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
  await level.open()
  const journal = await JournalledLevel.open(level as unknown as JournalledDb, dir, files)
  return { level, journal }
}

const journalFiles = async (dir: string) => (await readdir(join(dir, JOURNAL_DIRECTORY))).sort()
const str = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b))

describe('journal records', () => {
  it('decode what they encode, in order, puts and deletes, empty keys and values included', () => {
    const a = [put('k1', 'v1'), del('k2'), { type: 'put' as const, key: new Uint8Array(0), value: new Uint8Array(0) }]
    const b = [put('k3', 'x'.repeat(5000))]
    const file = new Uint8Array([...encodeJournalRecord(a), ...encodeJournalRecord(b)])
    const { batches, used } = decodeJournalFile(file)
    expect(used).toBe(file.length)
    expect(batches).toEqual([a, b])
  })

  it('cut at any byte, give back the whole records before the cut and nothing else', () => {
    const first = encodeJournalRecord([put('a', '1'), del('b')])
    const second = encodeJournalRecord([put('c', '2')])
    const file = new Uint8Array([...first, ...second])
    for (let cut = 0; cut <= file.length; cut++) {
      const { batches, used } = decodeJournalFile(file.subarray(0, cut))
      const whole = cut >= file.length ? 2 : cut >= first.length ? 1 : 0
      expect(batches.length).toBe(whole)
      expect(used).toBe(whole === 2 ? file.length : whole === 1 ? first.length : 0)
    }
  })

  it('stop at a record whose check fails or whose counts do not fit, without throwing', () => {
    const first = encodeJournalRecord([put('a', '1')])
    const second = encodeJournalRecord([put('c', '2')])
    for (let i = 0; i < second.length; i++) {
      const file = new Uint8Array([...first, ...second])
      file[first.length + i]! ^= 0x40
      const { batches, used } = decodeJournalFile(file)
      expect(batches.length).toBe(1)
      expect(used).toBe(first.length)
    }
    // a well-checked body whose op count is absurd: the check is recomputed, so only the count is wrong
    const lying = new Uint8Array(encodeJournalRecord([put('a', '1')]))
    new DataView(lying.buffer).setUint32(4, 0xffffffff)
    expect(decodeJournalFile(lying).batches).toEqual([])
    expect(decodeJournalFile(bytes(0xff, 0xff, 0xff, 0xff, ...new Uint8Array(40))).used).toBe(0)
  })
})

describe('the journal in front of LevelDB', () => {
  it('makes a batch readable at once, hands LevelDB many batches in one write, and leaves no journal after a clean close', async () => {
    const dir = await tempDir()
    const { level, journal } = await openJournalled(dir)
    const written: number[] = []
    const batch = level.batch.bind(level)
    ;(level as unknown as { batch: (ops: JournalOp[], o?: object) => Promise<void> }).batch = (ops, o) => {
      written.push(ops.length)
      return batch(ops as never, o as never)
    }
    await journal.batch([put('a', '1'), put('b', '2')])
    await journal.batch([del('a'), put('c', '3')])
    await journal.put(text('d'), text('4'))
    // readable through the journal, not yet in LevelDB
    expect(str(journal.getSync(text('b')))).toBe('2')
    expect(journal.getSync(text('a'))).toBeUndefined()
    expect(str(await journal.get(text('d')))).toBe('4')
    expect(level.getSync(text('b'))).toBeUndefined()
    expect(await journalFiles(dir)).toHaveLength(1)
    // a listing waits for LevelDB to have every batch before it: one LevelDB write for all three
    const keys: string[] = []
    const it = journal.keys({})
    for (let chunk = await it.nextv(10); chunk.length > 0; chunk = await it.nextv(10)) keys.push(...chunk.map((k) => str(k)!))
    await it.close()
    expect(keys).toEqual(['b', 'c', 'd'])
    expect(written).toEqual([4])
    expect(str(level.getSync(text('c')))).toBe('3')
    expect(level.getSync(text('a'))).toBeUndefined()
    // the file goes on taking records until it is full
    expect(await journalFiles(dir)).toEqual(['000000000001.jnl'])
    await journal.batch([put('e', '5')])
    await journal.close()
    expect(await journalFiles(dir)).toEqual([])
    const again = await openJournalled(dir)
    expect(again.journal.recovered).toEqual({ batches: 0, droppedBytes: 0 })
    expect(str(again.journal.getSync(text('e')))).toBe('5')
    await again.journal.close()
  })

  it('begins a new file once one holds 4 MiB, and deletes a full one once LevelDB has it', async () => {
    const dir = await tempDir()
    const { journal } = await openJournalled(dir)
    const value = new Uint8Array(64 * 1024).fill(7)
    // 66 batches of 64 KiB: the first file is full after 64 of them
    for (let i = 0; i < 66; i++) await journal.batch([{ type: 'put', key: text(`k${i}`), value }])
    const it = journal.keys({})
    expect((await it.nextv(100)).length).toBe(66)
    await it.close()
    // a write that found the first file full closed it; once LevelDB had it, it was deleted
    expect(await journalFiles(dir)).toEqual(['000000000002.jnl'])
    await journal.close()
    expect(await journalFiles(dir)).toEqual([])
  })

  it('writes a synced batch to LevelDB with sync, after and together with the unsynced batches before it', async () => {
    const dir = await tempDir()
    const { level, journal } = await openJournalled(dir)
    const written: Array<{ keys: string[]; sync: boolean }> = []
    const batch = level.batch.bind(level)
    ;(level as unknown as { batch: (ops: JournalOp[], o?: { sync?: boolean }) => Promise<void> }).batch = (ops, o) => {
      written.push({ keys: ops.map((op) => `${op.type}:${str(op.key)}`), sync: o?.sync === true })
      return batch(ops as never, o as never)
    }
    await journal.batch([put('a', '1')])
    await journal.batch([put('b', '1'), put('a', '2')])
    await journal.batch([del('b')], { sync: true })
    expect(written).toEqual([{ keys: ['put:a', 'del:b'], sync: true }])
    expect(str(level.getSync(text('a')))).toBe('2')
    expect(level.getSync(text('b'))).toBeUndefined()
    await journal.close()
  })

  it('replays what a process left in the journal when the store opens again, up to a torn record', async () => {
    const dir = await tempDir()
    // LevelDB would get the batches an hour later: what is on the disk when the process ends is the journal alone
    const store = await openLevelStore(dir, 'journal', { create: true, argon2: TEST_ARGON2, journalFlushMs: 3_600_000 })
    await store.batch().putMessage({ id: 'm1', conversation: 'c', direction: 'in', sender: 's', text: 'kept', sentAt: 1, receivedAt: 2, status: 'received' }).commit()
    await store.setChainState('c', 'recv:0', bytes(1, 2, 3))
    // The process ends here without closing its store: LevelDB never got these batches, the journal has them.
    const level = (store.db as unknown as { level: ClassicLevel<Uint8Array, Uint8Array> }).level
    await level.close()
    const [file] = await journalFiles(dir)
    expect(file).toBeDefined()
    // and the write after them was cut short
    await appendFile(join(dir, JOURNAL_DIRECTORY, file!), encodeJournalRecord([put('x', 'torn')]).subarray(0, 20))

    const reopened = await openLevelStore(dir, 'journal', { argon2: TEST_ARGON2 })
    try {
      const recovered = (reopened.db as unknown as JournalledLevel).recovered
      expect(recovered.batches).toBeGreaterThanOrEqual(2)
      expect(recovered.droppedBytes).toBe(20)
      expect((await reopened.listMessages('c')).map((m) => m.text)).toEqual(['kept'])
      expect(await reopened.getChainState('c', 'recv:0')).toEqual(bytes(1, 2, 3))
      expect(reopened.uncleanShutdown).toBe(true)
      // replayed into LevelDB and deleted (the store's new records go to a new file)
      expect(await journalFiles(dir)).not.toContain(file)
    } finally {
      await reopened.close()
    }
  })

  it('holds sealed records only: no text, name or id of what it journals is in its file', async () => {
    const dir = await tempDir()
    const store = await openLevelStore(dir, 'journal', { create: true, argon2: TEST_ARGON2, journalFlushMs: 3_600_000 })
    const canary = 'journal-canary-7f3e9a'
    try {
      await store
        .batch()
        .putContact({
          id: 'contact-id-5b1c',
          name: 'Ottoline Quarrywell',
          state: 'accepted',
          identityKey: 'ab'.repeat(32),
          verified: false,
          identityChanged: false,
          identityHistory: [{ identityKey: 'ab'.repeat(32), seenAt: 1 }],
          createdAt: 1
        })
        .putMessage({ id: 'message-id-2d8f', conversation: 'contact-id-5b1c', direction: 'in', sender: 's', text: canary, sentAt: 1, receivedAt: 2, status: 'received' })
        .commit()
      const files = await journalFiles(dir)
      expect(files).toHaveLength(1)
      const content = await readFile(join(dir, JOURNAL_DIRECTORY, files[0]!))
      // the batch is there (LevelDB does not have it yet), sealed
      expect(decodeJournalFile(content).batches.length).toBeGreaterThanOrEqual(1)
      for (const needle of [canary, 'Ottoline Quarrywell', 'contact-id-5b1c', 'message-id-2d8f']) {
        const b = Buffer.from(needle)
        for (const form of [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64'))]) expect(content.includes(form)).toBe(false)
      }
    } finally {
      await store.close()
    }
  })

  it('refuses to open on a journal file over its bound, and changes nothing', async () => {
    const dir = await tempDir()
    const { journal } = await openJournalled(dir)
    await journal.batch([put('a', '1')])
    await journal.close()
    const big = join(dir, JOURNAL_DIRECTORY, '000000000009.jnl')
    await writeFile(big, new Uint8Array(0))
    await truncate(big, MAX_JOURNAL_FILE_BYTES + 1)
    const level = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await level.open()
    await expect(JournalledLevel.open(level as unknown as JournalledDb, dir)).rejects.toBeInstanceOf(StoreError)
    expect(str(level.getSync(text('a')))).toBe('1')
    expect(await journalFiles(dir)).toEqual(['000000000009.jnl'])
    await level.close()
  })

  it('a journal write that fails rejects its batch and leaves nothing of it, on disk or readable; the next batch is kept', async () => {
    const dir = await tempDir()
    let fail = false
    const { level, journal } = await openJournalled(dir, {
      files: { unlinkSync, writeSync: (fd, data, offset, length, position) => {
        if (!fail) return writeSync(fd, data, offset, length, position)
        // half a record reaches the file, then the disk is full
        ;writeSync(fd, data, offset, Math.floor(length / 2), position)
        throw Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' })
      } }
    })
    await journal.batch([put('a', '1')])
    fail = true
    await expect(journal.batch([put('a', '2'), put('b', '2')])).rejects.toBeInstanceOf(StoreError)
    fail = false
    expect(str(journal.getSync(text('a')))).toBe('1')
    expect(journal.getSync(text('b'))).toBeUndefined()
    await journal.batch([put('c', '3')])
    // the process ends without closing: the journal alone has the batches
    await level.close()
    const again = await openJournalled(dir)
    expect(again.journal.recovered).toEqual({ batches: 2, droppedBytes: 0 })
    expect(str(again.journal.getSync(text('a')))).toBe('1')
    expect(again.journal.getSync(text('b'))).toBeUndefined()
    expect(str(again.journal.getSync(text('c')))).toBe('3')
    await again.journal.close()
  })

  it('a journal file that cannot be deleted fails the store, and stays for the next opening to replay', async () => {
    const dir = await tempDir()
    let refuse = false
    const { journal } = await openJournalled(dir, {
      files: {
        writeSync,
        unlinkSync: (path) => {
          if (refuse) throw Object.assign(new Error('EIO: i/o error, unlink'), { code: 'EIO' })
          unlinkSync(path)
        }
      }
    })
    const value = new Uint8Array(64 * 1024).fill(3)
    // the 64th batch fills the first file (4 MiB) and starts a LevelDB write (1 MiB waiting), which closes it;
    // that write completes on a later turn of the event loop, when the file can no longer be deleted
    for (let i = 0; i < 64; i++) await journal.batch([{ type: 'put', key: text(`k${i}`), value }])
    refuse = true
    await journal.batch([{ type: 'put', key: text('k64'), value }])
    const it = journal.keys({})
    await expect(it.nextv(10)).rejects.toBeInstanceOf(StoreError)
    await it.close()
    await expect(journal.batch([put('after', '1')])).rejects.toBeInstanceOf(StoreError)
    expect(journal.getSync(text('k64'))).toEqual(value)
    await journal.close()
    refuse = false
    // the second file, written after the first, was not deleted either
    expect(await journalFiles(dir)).toEqual(['000000000001.jnl', '000000000002.jnl'])
    const again = await openJournalled(dir)
    expect(again.journal.recovered).toEqual({ batches: 65, droppedBytes: 0 })
    expect(new Uint8Array(again.journal.getSync(text('k64'))!)).toEqual(value)
    expect(again.journal.getSync(text('after'))).toBeUndefined()
    await again.journal.close()
  })

  it('a LevelDB write that fails keeps the journal and what was acknowledged readable, refuses later writes, and the next opening replays it', async () => {
    const dir = await tempDir()
    const { level, journal } = await openJournalled(dir)
    await journal.batch([put('a', '1')])
    const batch = level.batch.bind(level)
    ;(level as unknown as { batch: () => Promise<void> }).batch = () => Promise.reject(new Error('IO error: disk gone'))
    await expect(journal.batch([put('b', '2')], { sync: true })).rejects.toBeInstanceOf(StoreError)
    await expect(journal.batch([put('c', '3')])).rejects.toBeInstanceOf(StoreError)
    const it = journal.iterator({})
    await expect(it.nextv(10)).rejects.toBeInstanceOf(StoreError)
    await it.close()
    expect(str(journal.getSync(text('a')))).toBe('1')
    ;(level as unknown as { batch: typeof batch }).batch = batch
    await journal.close()
    expect(await journalFiles(dir)).toHaveLength(1)
    const again = await openJournalled(dir)
    // the synced batch whose write failed was journalled first: it is replayed with the rest, never half of it
    expect(again.journal.recovered.batches).toBe(2)
    expect(str(again.journal.getSync(text('a')))).toBe('1')
    expect(str(again.journal.getSync(text('b')))).toBe('2')
    expect(again.journal.getSync(text('c'))).toBeUndefined()
    await again.journal.close()
  })
})
