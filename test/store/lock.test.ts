// Two processes, one data directory: the second gets StoreLockedError naming the directory, not a corruption.
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import {
  createLevelStore,
  openLevelStore,
  StoreExistsError,
  StoreLockedError,
  StoreNotFoundError,
  storeDirectory
} from '../../src/store/index.js'
import { buildStoreForChildren } from './harness.js'

const holder = resolve('test/store/fixtures/holder.mjs')
let storeModule: string
let home: string

beforeAll(() => {
  storeModule = join(buildStoreForChildren('lock'), 'store/index.js')
  home = mkdtempSync(join(tmpdir(), 'sotto-lock-'))
}, 120_000)

afterAll(() => {
  rmSync(home, { recursive: true, force: true })
})

function startHolder(dir: string): Promise<ChildProcess> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [holder, storeModule, dir], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString()
    })
    child.stdout?.on('data', (d: Buffer) => {
      if (d.toString().includes('ready')) resolvePromise(child)
    })
    child.on('exit', (code) => reject(new Error(`holder exited early (${code}): ${stderr}`)))
  })
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) r()
    else child.once('exit', () => r())
  })
}

describe('LevelStore locking', () => {
  it('refuses a second process with StoreLockedError naming the directory', async () => {
    const dir = storeDirectory(join(home, 'a'))
    const child = await startHolder(dir)
    try {
      const err = await openLevelStore(dir, 'lock passphrase', { argon2: TEST_ARGON2 }).catch((e: unknown) => e)
      expect(err).toBeInstanceOf(StoreLockedError)
      expect((err as StoreLockedError).directory).toBe(dir)
      expect((err as Error).message).toContain(dir)
    } finally {
      child.stdin?.end()
      await exited(child)
    }
    // After the holder closed, the store opens normally.
    const store = await openLevelStore(dir, 'lock passphrase', { argon2: TEST_ARGON2 })
    await store.close()
  })

  it('a killed holder leaves no stale lock', async () => {
    const dir = storeDirectory(join(home, 'b'))
    const child = await startHolder(dir)
    child.kill('SIGKILL')
    await exited(child)
    const store = await openLevelStore(dir, 'lock passphrase', { argon2: TEST_ARGON2 })
    await store.close()
  })

  it('refuses a second open in the same process too', async () => {
    const dir = storeDirectory(join(home, 'c'))
    const first = await createLevelStore(dir, 'p', { argon2: TEST_ARGON2 })
    try {
      await expect(openLevelStore(dir, 'p', { argon2: TEST_ARGON2 })).rejects.toBeInstanceOf(StoreLockedError)
    } finally {
      await first.close()
    }
  })

  it('create and open say when the database is there or missing', async () => {
    const dir = storeDirectory(join(home, 'd'))
    await expect(openLevelStore(dir, 'p', { argon2: TEST_ARGON2 })).rejects.toBeInstanceOf(StoreNotFoundError)
    const store = await createLevelStore(dir, 'p', { argon2: TEST_ARGON2 })
    await store.close()
    await expect(createLevelStore(dir, 'p', { argon2: TEST_ARGON2 })).rejects.toBeInstanceOf(StoreExistsError)
  })
})
