/** Shared set-up of the multi-node integration tests: real nodes on 127.0.0.1, real LevelDB in temp dirs. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { initSotto, type MessageView, openSotto, type Sotto, type SottoApp, type SottoTimings } from '../../src/app/index.js'
import { TEST_ARGON2 } from '../../src/crypto/atrest.js'
import { afterAll } from 'vitest'

/** Test-only Argon2id limits (the minimum libsodium allows) so that opening a store takes milliseconds. */
export const ARGON2 = TEST_ARGON2
export const PASSPHRASE = 'correct horse battery staple'

/** Timers short enough for tests. */
export const FAST = { outboxIntervalMs: 100, outboxBackoffMs: 200, outboxMaxBackoffMs: 1_000, syncIntervalMs: 2_000 }

export type TestUser = SottoApp & Sotto & { home: string; name: string }

const dirs: string[] = []

/** A fresh data directory, removed by cleanup(). */
export async function tempHome(prefix = 'sotto-it-'): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), prefix))
  dirs.push(d)
  return d
}

/** Creates and starts a user in a new data directory (or `home`) on 127.0.0.1, with FAST timings unless given. */
export async function startUser(name: string, bootstrap: string[] = [], home?: string, timings: Partial<SottoTimings> = FAST): Promise<TestUser> {
  const dir = home ?? (await tempHome())
  if (home === undefined) await initSotto({ home: dir, passphrase: PASSPHRASE, name, argon2: ARGON2 })
  const app = await openSotto({
    home: dir,
    passphrase: PASSPHRASE,
    argon2: ARGON2,
    listen: ['/ip4/127.0.0.1/tcp/0'],
    bootstrap,
    mdns: false,
    timings
  })
  return Object.assign(app, { home: dir, name }) as TestUser
}

/**
 * startUser for the tests of one file: every user it starts is stopped after them (a failed stop ignored), and the
 * temp dirs removed. Call it at the top level of the file.
 */
export function usersOfThisFile(): typeof startUser {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop().catch(() => undefined)))
    await cleanup()
  })
  return async (...args) => {
    const u = await startUser(...args)
    users.push(u)
    return u
  }
}

/** Removes every temp dir made by tempHome(). */
export async function cleanup(): Promise<void> {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })))
}

/** Resolves with the first message view for which `pred` holds (already stored or arriving later). */
export function waitForMessage(user: SottoApp, pred: (m: MessageView) => boolean, timeoutMs = 15_000): Promise<MessageView> {
  return new Promise((resolve, reject) => {
    let done = false
    const finish = (m?: MessageView, err?: Error) => {
      if (done) return
      done = true
      clearTimeout(timer)
      off()
      if (m) resolve(m)
      else reject(err)
    }
    const off = user.subscribe((m) => {
      if (pred(m)) finish(m)
    })
    const timer = setTimeout(() => finish(undefined, new Error('timed out waiting for a message')), timeoutMs)
    // The message may have arrived before the subscription. Once it is found, the read may still be running when the
    // test stops the user; its StoreClosedError then settles nothing.
    user.read(undefined, 10_000).then(
      (all) => {
        const hit = all.find(pred)
        if (hit) finish(hit)
      },
      (err: Error) => finish(undefined, err)
    )
  })
}
