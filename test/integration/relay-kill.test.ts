// A node killed (SIGKILL, a real child process) in the middle of a big sync comes back on the same data
// directory and completes it: nothing lost, nothing twice. Real nodes on 127.0.0.1 TCP, real LevelDB stores
// (Argon2id: TEST_ARGON2, a test-only setting). The child runs the TypeScript sources through
// relay-ts-register.mjs.
import { type ChildProcess, spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { PASSPHRASE } from './helpers.js'
import { communityCount, expectHistory, Running, relayCount, relayOnlyHistory } from './relay-helpers.js'

const POSTERS = 2
const PER_POSTER = 500
const TOTAL = POSTERS * PER_POSTER
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url))

/** Starts the member in a child process; `onCount` gets each count of community messages it stored. */
function child(home: string, bootstrap: string[], onCount: (n: number) => void): ChildProcess {
  const proc = spawn(process.execPath, ['--import', here('./relay-ts-register.mjs'), here('./relay-kill-child.ts'), home, PASSPHRASE, ...bootstrap], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    const msg = JSON.parse(line) as { ready?: string; count?: number }
    if (msg.count !== undefined) onCount(msg.count)
  })
  return proc
}

describe('a node killed in the middle of a sync (SIGKILL)', () => {
  const running = new Running()
  const user = running.user.bind(running)
  const children: ChildProcess[] = []
  afterEach(() => {
    for (const c of children.splice(0)) c.kill('SIGKILL')
  })

  it('completes the sync after a restart on the same data directory, nothing lost or duplicated', { timeout: 180_000 }, async () => {
    const { relay, topic, home, ids } = await relayOnlyHistory(running, 's', PER_POSTER)

    // The member comes back in a child process; only the relay has the history. SIGKILL at a quarter.
    let killedAt = 0
    let proc: ChildProcess | undefined
    const exited = new Promise<void>((resolve) => {
      proc = child(home, relay.addresses, (n) => {
        if (n < TOTAL / 4 || killedAt > 0) return
        killedAt = n
        proc!.kill('SIGKILL')
      })
      children.push(proc)
      proc.once('exit', () => resolve())
    })
    await exited
    expect(killedAt).toBeGreaterThanOrEqual(TOTAL / 4)
    expect(killedAt).toBeLessThan(TOTAL)

    const back = await user('member', relay.addresses, home)
    const atRestart = await communityCount(back, 'lobby')
    expect(atRestart).toBeGreaterThanOrEqual(killedAt)
    expect(atRestart).toBeLessThan(TOTAL)
    await expect.poll(() => communityCount(back, 'lobby'), { timeout: 90_000, interval: 1000 }).toBe(TOTAL)
    await expectHistory(back, '#lobby', ids)
    expect(await relayCount(relay, topic)).toBe(TOTAL + 2)
  })
})
