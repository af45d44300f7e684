/** The in-memory store for unit tests: the same sealed store over memory-level (nothing touches disk). */
import { MemoryLevel } from 'memory-level'
import type { Argon2idParams, DatabaseKey } from '../crypto/atrest.js'
import { TEST_ARGON2 } from '../crypto/atrest.js'
import { type BinaryLevel, SealedStore } from './sealed-store.js'
import type { StoreOptions } from './types.js'

/** The memory-level database a MemoryStore runs on (pass one to reopen its contents). */
export type MemoryBackend = MemoryLevel<Uint8Array, Uint8Array>

/** A new empty memory-level database with the encodings the store uses. */
export function createMemoryBackend(): MemoryBackend {
  return new MemoryLevel<Uint8Array, Uint8Array>({ keyEncoding: 'view', valueEncoding: 'view', storeEncoding: 'view' })
}

/** A Store in memory. Make one with openMemoryStore. */
export class MemoryStore extends SealedStore {
  /** @internal use openMemoryStore. */
  static async openOnBackend(backend: MemoryBackend, passphrase: string, opts: StoreOptions): Promise<MemoryStore> {
    await backend.open()
    const make = (d: BinaryLevel, location: string, key: DatabaseKey, version: number, argon2: Argon2idParams) =>
      new MemoryStore(d, location, key, version, argon2)
    const mode = opts.create === false ? 'open' : 'open-or-create'
    return SealedStore.openOn(make, backend as unknown as BinaryLevel, ':memory:', passphrase, mode, opts)
  }
}

/**
 * Opens a store in memory. Without `backend` it is new and empty; with one (kept from an earlier store,
 * which was closed) its contents are opened again. Argon2id defaults to TEST_ARGON2 here (tests only).
 */
export function openMemoryStore(
  passphrase: string,
  opts: StoreOptions & { backend?: MemoryBackend } = {}
): Promise<MemoryStore> {
  const { backend, ...rest } = opts
  return MemoryStore.openOnBackend(backend ?? createMemoryBackend(), passphrase, { argon2: TEST_ARGON2, ...rest })
}
