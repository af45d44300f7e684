/**
 * The write journal in front of LevelDB (docs/PROTOCOL.md §10.8). A write batch is appended to a journal file in
 * the database directory with write(2) on the calling thread, and is read back from memory at once; LevelDB gets
 * the journalled batches together, in one batch, up to JOURNAL_FLUSH_MS later. So a batch is written, as durably
 * as an unsynced LevelDB batch (in the operating system's cache, kept through a crash of the process), without a
 * round trip through libuv's thread pool, and many batches cost LevelDB one write. A synced batch is journalled
 * too and then written to LevelDB with `sync`, with every batch before it, before it completes.
 *
 * Opening replays the journal files that are left (a process that ended without closing its store) into LevelDB,
 * in order, stopping at the first record that does not check (the torn tail of a write cut short), then deletes
 * them. A LevelDB write that fails leaves the journal in place, puts the store in a failed state (every later write
 * and listing is refused with StoreError: LevelDB itself refuses writes after such a failure) and the next opening
 * replays what LevelDB did not get.
 */
import { closeSync, ftruncateSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { blake2b } from '../crypto/primitives.js'
import { keyText, SYNC } from './codec.js'
import { StoreError } from './errors.js'

/** The journal's sub-directory of the database directory (LevelDB ignores files it did not name). */
export const JOURNAL_DIRECTORY = 'journal'
/**
 * At most this long between a batch's journal write and LevelDB's write of it. The journal makes a batch durable; the
 * wait only decides how many batches LevelDB gets at once: once a second, as the history is flushed to the disk
 * (Sotto's historyFlushMs). At 100 ms, each node of the end-to-end benchmark wrote LevelDB about once per message on
 * idle nodes (single paired one-process rounds: p50 1.63x and 1.68x, against 1.54x and 1.58x at 1000 ms).
 */
export const JOURNAL_FLUSH_MS = 1000
/** Batches in memory not yet written to LevelDB: past this many bytes of keys and values, written at once. */
export const JOURNAL_FLUSH_BYTES = 1 << 20
/** A journal file is closed, and the next begun, once it holds this many bytes (it is deleted once LevelDB has it). */
export const JOURNAL_ROTATE_BYTES = 4 * 1024 * 1024
/** A journal file longer than this is not read (one holds JOURNAL_ROTATE_BYTES and one batch at most). */
export const MAX_JOURNAL_FILE_BYTES = 256 * 1024 * 1024
const CHECK_BYTES = 16
const PUT = 1
const DEL = 2
const FILE_NAME = /^(\d{12})\.jnl$/

export type JournalOp = { type: 'put'; key: Uint8Array; value: Uint8Array } | { type: 'del'; key: Uint8Array }

type LevelIterator<T> = { nextv(size: number): Promise<T[]>; close(): Promise<void> }
type Range = Record<string, unknown>

/** The part of a LevelDB handle (classic-level) the journal writes through and reads from. */
export interface JournalledDb {
  readonly supports: object
  get(key: Uint8Array): Promise<Uint8Array | undefined>
  getSync(key: Uint8Array): Uint8Array | undefined
  batch(ops: JournalOp[], options?: object): Promise<void>
  iterator(options?: Range): LevelIterator<[Uint8Array, Uint8Array]>
  keys(options?: Range): LevelIterator<Uint8Array>
  close(): Promise<void>
}

/** What opening found in the journal: batches replayed into LevelDB, and bytes dropped after the last good record. */
export interface JournalRecovery {
  readonly batches: number
  readonly droppedBytes: number
}

/** The journal's file operations (node:fs); tests substitute failing ones. */
export interface JournalFiles {
  writeSync(fd: number, data: Uint8Array, offset: number, length: number, position: number): number
  unlinkSync(path: string): void
}

const fileName = (gen: number): string => `${String(gen).padStart(12, '0')}.jnl`

/**
 * One journal record: u32be body length n, the body, then BLAKE2b-128 (unkeyed) of the length and body. Body:
 * u32be op count, then each op: u8 type (1 put, 2 del), u32be key length, key, and for a put u32be value length,
 * value.
 */
export function encodeJournalRecord(ops: readonly JournalOp[]): Uint8Array {
  let n = 4
  for (const op of ops) n += 5 + op.key.length + (op.type === 'put' ? 4 + op.value.length : 0)
  const out = new Uint8Array(4 + n + CHECK_BYTES)
  const view = new DataView(out.buffer)
  view.setUint32(0, n)
  view.setUint32(4, ops.length)
  let at = 8
  for (const op of ops) {
    out[at] = op.type === 'put' ? PUT : DEL
    view.setUint32(at + 1, op.key.length)
    out.set(op.key, at + 5)
    at += 5 + op.key.length
    if (op.type === 'put') {
      view.setUint32(at, op.value.length)
      out.set(op.value, at + 4)
      at += 4 + op.value.length
    }
  }
  out.set(blake2b(out.subarray(0, 4 + n), CHECK_BYTES), 4 + n)
  return out
}

/**
 * The records of one journal file, in order, up to the first that is cut short or does not check; `used` is the
 * number of bytes they take (the rest is dropped). Never throws for bad bytes.
 */
export function decodeJournalFile(bytes: Uint8Array): { batches: JournalOp[][]; used: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const batches: JournalOp[][] = []
  let at = 0
  for (;;) {
    if (bytes.length - at < 4 + 4 + CHECK_BYTES) break
    const n = view.getUint32(at)
    if (n < 4 || n > bytes.length - at - 4 - CHECK_BYTES) break
    const check = blake2b(bytes.subarray(at, at + 4 + n), CHECK_BYTES)
    if (Buffer.compare(check, bytes.subarray(at + 4 + n, at + 4 + n + CHECK_BYTES)) !== 0) break
    const ops = decodeBody(bytes.subarray(at + 4, at + 4 + n))
    if (ops === undefined) break
    batches.push(ops)
    at += 4 + n + CHECK_BYTES
  }
  return { batches, used: at }
}

function decodeBody(body: Uint8Array): JournalOp[] | undefined {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const count = view.getUint32(0)
  // every op takes at least 5 bytes: a count beyond that is not read
  if (count > (body.length - 4) / 5) return undefined
  const ops: JournalOp[] = []
  let at = 4
  for (let i = 0; i < count; i++) {
    if (body.length - at < 5) return undefined
    const type = body[at]!
    const keyLength = view.getUint32(at + 1)
    at += 5
    if (keyLength > body.length - at) return undefined
    const key = body.slice(at, at + keyLength)
    at += keyLength
    if (type === DEL) {
      ops.push({ type: 'del', key })
      continue
    }
    if (type !== PUT || body.length - at < 4) return undefined
    const valueLength = view.getUint32(at)
    at += 4
    if (valueLength > body.length - at) return undefined
    ops.push({ type: 'put', key, value: body.slice(at, at + valueLength) })
    at += valueLength
  }
  return at === body.length ? ops : undefined
}

/** Ops by key: the last op of each key, in the order the keys were first written. */
type OpMap = Map<string, JournalOp>

/**
 * A LevelDB handle with the journal in front of it: the store's `db` (SealedStore uses get, getSync, put, del,
 * batch, iterator, keys, close). Open it with JournalledLevel.open, which replays what a previous process left.
 */
export class JournalledLevel {
  readonly #db: JournalledDb
  readonly #dir: string
  readonly #files: JournalFiles
  readonly #flushMs: number
  /** What opening replayed. */
  readonly recovered: JournalRecovery
  #gen: number
  /** The current generation's file, opened by its first record. */
  #fd: number | undefined
  #offset = 0
  /** Generations whose records LevelDB may not have yet, oldest first (the current one last, once it has records). */
  readonly #live: number[] = []
  /** Journalled ops not yet handed to LevelDB. */
  #pending: OpMap = new Map()
  #pendingBytes = 0
  /** Ops handed to LevelDB whose write has not completed, oldest first. */
  readonly #inFlight: OpMap[] = []
  /** LevelDB writes, one after another. */
  #chain: Promise<void> = Promise.resolve()
  #timer: NodeJS.Timeout | undefined
  #failed: StoreError | undefined
  #closed = false

  private constructor(db: JournalledDb, dir: string, gen: number, recovered: JournalRecovery, files: JournalFiles, flushMs: number) {
    this.#db = db
    this.#flushMs = flushMs
    this.#dir = dir
    this.#gen = gen
    this.recovered = recovered
    this.#files = files
  }

  /**
   * The journal of the opened LevelDB `db` in `<location>/journal`: replays the files left there into LevelDB (one
   * synced batch), deletes them, and starts a new file. StoreError if the journal cannot be read or replayed.
   */
  static async open(db: JournalledDb, location: string, options: { files?: JournalFiles; flushMs?: number } = {}): Promise<JournalledLevel> {
    const files = options.files ?? { writeSync, unlinkSync }
    const flushMs = options.flushMs ?? JOURNAL_FLUSH_MS
    const dir = join(location, JOURNAL_DIRECTORY)
    try {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      const gens = readdirSync(dir)
        .map((f) => FILE_NAME.exec(f)?.[1])
        .filter((g): g is string => g !== undefined)
        .map(Number)
        .sort((a, b) => a - b)
      const ops: JournalOp[] = []
      let batches = 0
      let droppedBytes = 0
      let torn = false
      for (const gen of gens) {
        const path = join(dir, fileName(gen))
        const size = statSync(path).size
        if (size > MAX_JOURNAL_FILE_BYTES) throw new StoreError(`the journal file ${path} is ${size} bytes, over ${MAX_JOURNAL_FILE_BYTES}`)
        // after a torn record nothing is replayed: a later record would be applied without the one before it
        if (torn) {
          droppedBytes += size
          continue
        }
        const bytes = readFileSync(path)
        const file = decodeJournalFile(bytes)
        for (const b of file.batches) ops.push(...b)
        batches += file.batches.length
        droppedBytes += bytes.length - file.used
        torn = file.used < bytes.length
      }
      if (ops.length > 0) await db.batch(ops, SYNC)
      for (const gen of gens) files.unlinkSync(join(dir, fileName(gen)))
      return new JournalledLevel(db, dir, (gens.at(-1) ?? 0) + 1, { batches, droppedBytes }, files, flushMs)
    } catch (err) {
      if (err instanceof StoreError) throw err
      throw new StoreError(`could not replay the store's journal in ${dir}: ${(err as Error).message}`, { cause: err })
    }
  }

  get supports(): object {
    return this.#db.supports
  }

  /** Journals `ops` and makes them readable; with `sync`, resolves once LevelDB has them on the disk. */
  batch(ops: JournalOp[], options?: { sync?: boolean }): Promise<void> {
    return this.#write(ops, options)
  }

  put(key: Uint8Array, value: Uint8Array, options?: { sync?: boolean }): Promise<void> {
    return this.#write([{ type: 'put', key, value }], options)
  }

  del(key: Uint8Array, options?: { sync?: boolean }): Promise<void> {
    return this.#write([{ type: 'del', key }], options)
  }

  /** The LevelDB handle underneath (tools and tests: its properties, its memory). */
  get level(): JournalledDb {
    return this.#db
  }

  #write(ops: JournalOp[], options?: { sync?: boolean }): Promise<void> {
    try {
      this.#usable()
      if (ops.length === 0) return Promise.resolve()
      this.#append(ops)
    } catch (err) {
      return Promise.reject(err)
    }
    for (const op of ops) {
      this.#pending.set(keyText(op.key), op)
      this.#pendingBytes += op.key.length + (op.type === 'put' ? op.value.length : 0)
    }
    if (options?.sync === true) return this.#flush(true)
    if (this.#pendingBytes >= JOURNAL_FLUSH_BYTES) void this.#flush(false).catch(() => {})
    else this.#timer ??= setTimeout(() => void this.#flush(false).catch(() => {}), this.#flushMs).unref()
    return Promise.resolve()
  }

  getSync(key: Uint8Array): Uint8Array | undefined {
    const op = this.#latest(key)
    if (op !== undefined) return op.type === 'put' ? op.value : undefined
    return this.#db.getSync(key)
  }

  get(key: Uint8Array): Promise<Uint8Array | undefined> {
    const op = this.#latest(key)
    if (op !== undefined) return Promise.resolve(op.type === 'put' ? op.value : undefined)
    return this.#db.get(key)
  }

  /** LevelDB's iterator, made once every batch written before this call is in LevelDB. */
  iterator(options?: Range): LevelIterator<[Uint8Array, Uint8Array]> {
    return this.#after((db) => db.iterator(options))
  }

  keys(options?: Range): LevelIterator<Uint8Array> {
    return this.#after((db) => db.keys(options))
  }

  /** Writes what is journalled to LevelDB, deletes the journal and closes LevelDB. */
  async close(): Promise<void> {
    if (this.#closed) return
    const flushed = this.#failed === undefined ? this.#flush(false).then(() => true, () => false) : Promise.resolve(false)
    this.#closed = true
    const ok = await flushed
    this.#closeFile()
    try {
      // a failed write leaves the journal for the next opening to replay
      if (ok) while (this.#live.length > 0) this.#unlink(this.#live.shift()!)
    } finally {
      await this.#db.close()
    }
  }

  #usable(): void {
    if (this.#closed) throw new StoreError('the store is closed')
    if (this.#failed !== undefined) throw this.#failed
  }

  /** The newest op journalled for `key` that LevelDB may not have yet. */
  #latest(key: Uint8Array): JournalOp | undefined {
    if (this.#pending.size === 0 && this.#inFlight.length === 0) return undefined
    const k = keyText(key)
    const op = this.#pending.get(k)
    if (op !== undefined) return op
    for (let i = this.#inFlight.length - 1; i >= 0; i--) {
      const o = this.#inFlight[i]!.get(k)
      if (o !== undefined) return o
    }
    return undefined
  }

  #append(ops: readonly JournalOp[]): void {
    const record = encodeJournalRecord(ops)
    if (this.#fd === undefined) {
      this.#fd = openSync(join(this.#dir, fileName(this.#gen)), 'w', 0o600)
      this.#offset = 0
      this.#live.push(this.#gen)
    }
    try {
      // at an explicit position: after a failed write, the next record goes where the failed one began
      for (let at = 0; at < record.length; ) at += this.#files.writeSync(this.#fd, record, at, record.length - at, this.#offset + at)
    } catch (err) {
      try {
        // a record cut short would end the replay there: cut it off, so that later records are read
        ftruncateSync(this.#fd, this.#offset)
      } catch {
        this.#failed = new StoreError('the store could not write its journal, nor cut off a partial record', { cause: err })
      }
      throw new StoreError(`the store could not write its journal: ${(err as Error).message}`, { cause: err })
    }
    this.#offset += record.length
  }

  /**
   * Deletes a file LevelDB has all of. One that cannot be deleted fails the store: left behind with later ones
   * deleted, a replay would put its older values back over theirs.
   */
  #unlink(gen: number): void {
    try {
      this.#files.unlinkSync(join(this.#dir, fileName(gen)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      this.#failed = new StoreError(`the store could not delete its journal file ${fileName(gen)}: ${(err as Error).message}`, { cause: err })
      throw this.#failed
    }
  }

  #closeFile(): void {
    if (this.#fd === undefined) return
    closeSync(this.#fd)
    this.#fd = undefined
    this.#gen++
  }

  /**
   * Hands every journalled op to LevelDB (with `sync`: synced), after the writes before; resolves when LevelDB has
   * them, and then deletes the journal files that held them.
   */
  #flush(sync: boolean): Promise<void> {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const ops = this.#pending
    // a file is deleted once LevelDB has all of it: the closed ones, here, once this write and those before it
    // completed; the open one goes on (creating and deleting a file per write cost more than the write)
    if (this.#offset >= JOURNAL_ROTATE_BYTES) this.#closeFile()
    const upTo = this.#fd === undefined ? (this.#live.at(-1) ?? -1) : this.#gen - 1
    this.#pending = new Map()
    this.#pendingBytes = 0
    if (ops.size > 0) this.#inFlight.push(ops)
    const write = async (): Promise<void> => {
      if (this.#failed !== undefined) throw this.#failed
      if (ops.size === 0 && !sync) return
      try {
        await this.#db.batch([...ops.values()], sync ? SYNC : undefined)
      } catch (err) {
        this.#failed = new StoreError(`the store could not write to LevelDB: ${(err as Error).message}`, { cause: err })
        throw this.#failed
      }
      // LevelDB has every op of the files this write covered (earlier writes completed first)
      while (this.#live.length > 0 && this.#live[0]! <= upTo) {
        this.#unlink(this.#live[0]!)
        this.#live.shift()
      }
      this.#inFlight.splice(this.#inFlight.indexOf(ops), 1)
    }
    const done = this.#chain.then(write)
    this.#chain = done.catch(() => {})
    return done
  }

  #after<T>(make: (db: JournalledDb) => LevelIterator<T>): LevelIterator<T> {
    let inner: LevelIterator<T> | undefined
    const ready = (async () => {
      this.#usable()
      await this.#flush(false)
      inner = make(this.#db)
    })()
    ready.catch(() => {})
    return {
      nextv: async (size) => {
        await ready
        return inner!.nextv(size)
      },
      close: async () => {
        await ready.catch(() => {})
        await inner?.close()
      }
    }
  }
}
