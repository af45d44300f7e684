/**
 * The on-disk store: LevelDB through classic-level, in `<home>/db` (docs/PROTOCOL.md §10). The only module
 * that imports classic-level. LevelDB's own lock file keeps a second process out (StoreLockedError).
 */
import { existsSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import type { Argon2idParams, DatabaseKey } from '../crypto/atrest.js'
import { StoreError, StoreLockedError, StoreNotFoundError } from './errors.js'
import { type JournalledDb, JournalledLevel } from './journal.js'
import { type BinaryLevel, type OpenMode, SealedStore } from './sealed-store.js'
import type { StoreOptions } from './types.js'

/**
 * LevelDB's memory per store: a 2 MiB block cache and a 1 MiB write buffer (memtable; LevelDB holds a second
 * one while the first is written to disk). classic-level's defaults, 8 MiB and 4 MiB, are sized for a server's
 * database; one user's store reads mostly recent records, and the memtable of each store filled up to its size
 * in resident memory before its first flush (the soak benchmark, ten stores in one process, grew by that).
 */
export const LEVEL_STORE_MEMORY: Readonly<{ cacheSize: number; writeBufferSize: number }> = Object.freeze({
  cacheSize: 2 * 1024 * 1024,
  writeBufferSize: 1024 * 1024
})

/** The database directory inside a sotto data directory. */
export function storeDirectory(home: string): string {
  return join(home, 'db')
}

function isLockError(err: unknown): boolean {
  const e = err as { code?: string; cause?: { code?: string } } | undefined
  return e?.code === 'LEVEL_LOCKED' || e?.cause?.code === 'LEVEL_LOCKED'
}

/** A Store on LevelDB. Make one with openLevelStore or createLevelStore. */
export class LevelStore extends SealedStore {
  /** @internal use openLevelStore / createLevelStore. */
  static async openAt(dir: string, passphrase: string, mode: OpenMode, opts: StoreOptions): Promise<LevelStore> {
    const exists = existsSync(join(dir, 'CURRENT'))
    if (!exists && mode === 'open') throw new StoreNotFoundError(dir)
    if (!exists) await mkdir(dir, { recursive: true, mode: 0o700 })
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: mode !== 'open',
      ...LEVEL_STORE_MEMORY
    })
    try {
      await db.open()
    } catch (err) {
      if (isLockError(err)) throw new StoreLockedError(dir, { cause: err })
      throw new StoreError(`could not open the database in ${dir}: ${(err as Error).cause ?? (err as Error).message}`, { cause: err })
    }
    // Writes go through the journal (PROTOCOL.md §10.8), which first replays what a process that did not close left.
    let journal: JournalledLevel
    try {
      journal = await JournalledLevel.open(db as unknown as JournalledDb, dir, { flushMs: opts.journalFlushMs })
    } catch (err) {
      await db.close().catch(() => {})
      throw err
    }
    const make = (d: BinaryLevel, location: string, key: DatabaseKey, version: number, argon2: Argon2idParams) =>
      new LevelStore(d, location, key, version, argon2)
    return SealedStore.openOn(make, journal as unknown as BinaryLevel, dir, passphrase, mode, opts)
  }
}

/**
 * Opens the store in the database directory `dir` (see storeDirectory). With `create: true` a missing
 * database is created. Throws StoreNotFoundError, StoreLockedError (another process has it open),
 * WrongPassphraseError, StoreVersionError (written by a newer sotto) or TamperedRecordError.
 */
export function openLevelStore(dir: string, passphrase: string, opts: StoreOptions = {}): Promise<LevelStore> {
  return LevelStore.openAt(dir, passphrase, opts.create === true ? 'open-or-create' : 'open', opts)
}

/** Creates a new store in `dir` (a fresh random database key wrapped under the passphrase); StoreExistsError if one is there. */
export function createLevelStore(dir: string, passphrase: string, opts: StoreOptions = {}): Promise<LevelStore> {
  return LevelStore.openAt(dir, passphrase, 'create', opts)
}
