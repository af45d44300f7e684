// Test helpers: one harness per Store implementation, so that one suite runs against both.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import {
  createMemoryBackend,
  type MemoryBackend,
  openLevelStore,
  openMemoryStore,
  type Store,
  type StoreOptions
} from '../../src/store/index.js'

/** Raw access to the database under a store (the store must be closed). */
export interface RawAccess {
  entries(): Promise<Array<[Uint8Array, Uint8Array]>>
  put(key: Uint8Array, value: Uint8Array): Promise<void>
  del(key: Uint8Array): Promise<void>
}

/** A store implementation under test: open (or create) the same database again and again. */
export interface StoreHarness {
  open(passphrase?: string, opts?: StoreOptions): Promise<Store>
  raw: RawAccess
  cleanup(): Promise<void>
}

export const PASSPHRASE = 'test passphrase'

/** LevelDB in a fresh directory under os.tmpdir(). Argon2id: TEST_ARGON2 (a test-only setting). */
export function levelHarness(): StoreHarness & { dir: string } {
  const home = mkdtempSync(join(tmpdir(), 'sotto-store-'))
  const dir = join(home, 'db')
  const withDb = async <T>(fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> => {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    try {
      return await fn(db)
    } finally {
      await db.close()
    }
  }
  return {
    dir,
    open: (passphrase = PASSPHRASE, opts = {}) => openLevelStore(dir, passphrase, { argon2: TEST_ARGON2, create: true, ...opts }),
    raw: {
      entries: () => withDb(async (db) => (await db.iterator().all()).map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)])),
      put: (k, v) => withDb((db) => db.put(k, v)),
      del: (k) => withDb((db) => db.del(k))
    },
    cleanup: async () => rmSync(home, { recursive: true, force: true })
  }
}

/** memory-level, kept across close/open through the same backend. */
export function memoryHarness(): StoreHarness {
  const backend: MemoryBackend = createMemoryBackend()
  const withDb = async <T>(fn: (db: MemoryBackend) => Promise<T>): Promise<T> => {
    await backend.open()
    try {
      return await fn(backend)
    } finally {
      await backend.close()
    }
  }
  return {
    open: (passphrase = PASSPHRASE, opts = {}) => openMemoryStore(passphrase, { argon2: TEST_ARGON2, ...opts, backend }),
    raw: {
      entries: () => withDb(async (db) => (await db.iterator().all()).map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)])),
      put: (k, v) => withDb((db) => db.put(k, v)),
      del: (k) => withDb((db) => db.del(k))
    },
    cleanup: async () => {}
  }
}

/**
 * Compiles src/store (and the crypto it imports) to plain JS for child processes run with `node`, in a
 * git-ignored folder inside node_modules so that the packages resolve. Returns the folder.
 */
export function buildStoreForChildren(name: string): string {
  const outDir = resolve('node_modules/.cache', `sotto-store-test-${name}`)
  rmSync(outDir, { recursive: true, force: true })
  execFileSync(
    process.execPath,
    [
      resolve('node_modules/typescript/bin/tsc'),
      '--outDir', outDir, '--rootDir', 'src',
      '--module', 'NodeNext', '--moduleResolution', 'NodeNext', '--target', 'ES2022',
      '--strict', '--skipLibCheck', '--esModuleInterop', '--types', 'node',
      'src/store/index.ts'
    ],
    { stdio: 'pipe' }
  )
  return outDir
}

/** Bytes for tests. */
export function bytes(...values: number[]): Uint8Array {
  return Uint8Array.from(values)
}

/** A 32-byte id whose bytes are all `n`. */
export function id32(n: number): Uint8Array {
  return new Uint8Array(32).fill(n)
}
