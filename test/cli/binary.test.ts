/**
 * Black-box tests of the BUILT command (`node dist/cli/main.js`), run as child processes with separate
 * data directories (SOTTO_HOME in os.tmpdir()). The build is refreshed in beforeAll when src/cli is newer
 * than dist (normally `npm test` builds first, in its pretest step).
 *
 * SOTTO_ARGON2=test (test-only: minimum Argon2id limits) keeps them fast.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { type AddressInfo, createServer } from 'node:net'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'

const root = join(import.meta.dirname, '..', '..')
const main = join(root, 'dist', 'cli', 'main.js')
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs)
  }
  return newest
}

beforeAll(() => {
  const stale = !existsSync(main) || statSync(main).mtimeMs < newestMtime(join(root, 'src'))
  if (stale) {
    try {
      execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'pipe' })
    } catch {
      // Type errors elsewhere in a shared work-in-progress tree still emit JavaScript; main.js is what matters.
    }
  }
  expect(existsSync(main)).toBe(true)
}, 120_000)

const homes: string[] = []
async function newHome(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sotto-bin-'))
  homes.push(dir)
  return dir
}
afterAll(async () => {
  for (const dir of homes) await rm(dir, { recursive: true, force: true })
})

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

function env(home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const base: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: home, SOTTO_HOME: home, SOTTO_ARGON2: 'test' }
  return { ...base, ...extra }
}

/** Runs `sotto args...` to completion. */
function sotto(args: string[], home: string, extra: NodeJS.ProcessEnv = {}, input?: string): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [main, ...args], { env: env(home, extra), stdio: ['pipe', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    child.stdin.end(input ?? '')
  })
}

/** A long-running child whose stdout lines can be awaited. */
class Running {
  readonly child: ChildProcess
  stdout = ''
  stderr = ''
  readonly exited: Promise<number | null>
  #waiters: (() => void)[] = []

  constructor(args: string[], home: string, extra: NodeJS.ProcessEnv = {}) {
    this.child = spawn(process.execPath, [main, ...args], { env: env(home, extra), stdio: ['pipe', 'pipe', 'pipe'] })
    this.child.stdout!.on('data', (d: Buffer) => {
      this.stdout += d.toString()
      for (const w of this.#waiters.splice(0)) w()
    })
    this.child.stderr!.on('data', (d: Buffer) => (this.stderr += d.toString()))
    this.exited = new Promise((resolve) => this.child.on('close', (code) => {
      for (const w of this.#waiters.splice(0)) w()
      resolve(code)
    }))
  }

  /** Resolves with the first stdout line matching `test`; fails if the process exits first. */
  async line(test: (line: string) => boolean, timeoutMs = 60_000): Promise<string> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const hit = this.stdout.split('\n').find((l) => l !== '' && test(l))
      if (hit !== undefined) return hit
      if (this.child.exitCode !== null) throw new Error(`process exited (${this.child.exitCode}): ${this.stderr.trim()}`)
      if (Date.now() > deadline) throw new Error(`timed out; stdout so far:\n${this.stdout}\nstderr:\n${this.stderr}`)
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve)
        setTimeout(resolve, Math.max(0, deadline - Date.now())).unref()
      })
    }
  }

  write(text: string): void {
    this.child.stdin!.write(text)
  }

  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null) this.child.kill(signal)
    return this.exited
  }
}

const running: Running[] = []
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop()))
})

const DAEMON_ARGS = ['daemon', '--json', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0']

/** A new home with `name`'s identity and its daemon running (127.0.0.1, no mDNS); resolves once the daemon is ready. */
async function daemonFor(name: string, passphrase = 'pw'): Promise<{ home: string; daemon: Running; ready: { peerId: string } }> {
  const home = await newHome()
  expect((await sotto(['init', '--name', name], home, { SOTTO_PASSPHRASE: passphrase })).code).toBe(0)
  const daemon = new Running(DAEMON_ARGS, home, { SOTTO_PASSPHRASE: passphrase })
  running.push(daemon)
  const ready = JSON.parse(await daemon.line((l) => l.includes('"ready"'))) as { peerId: string }
  return { home, daemon, ready }
}

const oneLine = (r: Result): void => {
  expect(r.stderr.trim().split('\n')).toHaveLength(1)
  expect(r.stderr).toMatch(/^sotto: /)
  expect(r.stderr).not.toMatch(/\n\s+at /)
}

describe('the built sotto command', () => {
  it('--version prints the package version', async () => {
    const r = await sotto(['--version'], await newHome())
    expect(r).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' })
  })

  it('--help on the program and on each command', async () => {
    const home = await newHome()
    const top = await sotto(['--help'], home)
    expect(top.code).toBe(0)
    for (const cmd of ['init', 'daemon', 'passphrase', 'id', 'contact', 'send', 'read', 'clear', 'retention', 'community', 'status', 'relay', 'chat', 'demo']) {
      expect(top.stdout).toContain(`  ${cmd}`)
    }
    for (const cmd of [['contact', 'verify'], ['community', 'rotate'], ['read'], ['daemon']]) {
      const r = await sotto([...cmd, '--help'], home)
      expect(r.code).toBe(0)
      expect(r.stdout).toContain(`Usage: sotto ${cmd.join(' ')}`)
    }
  })

  it.each([['status'], ['id', '--json'], ['send', 'bob', 'hi'], ['read', '--json'], ['contact', 'list'], ['community', 'list'], ['chat', '--plain']])(
    '%j without a daemon: exit 3 and the standard line',
    async (...args) => {
      const r = await sotto(args, await newHome())
      expect(r.code).toBe(3)
      expect(r.stdout).toBe('')
      expect(r.stderr).toBe('sotto: the daemon is not running (start it with `sotto daemon`)\n')
    }
  )

  it.each([[['frobnicate']], [['send', 'bob']], [['read', '--limit', 'many']], [['community', 'join']], [['id', '--colour']]])(
    'bad usage %j: exit 2, one line',
    async (args) => {
      const r = await sotto(args, await newHome())
      expect(r.code).toBe(2)
      oneLine(r)
    }
  )

  it('init without SOTTO_PASSPHRASE and no terminal: exit 2 with what to do', async () => {
    const r = await sotto(['init'], await newHome())
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('sotto: no passphrase: set SOTTO_PASSPHRASE or run in a terminal to be asked\n')
  })
})

/** Creates users and starts their daemons on 127.0.0.1 (mDNS off), the first one bootstrapping the rest. */
async function network(users: readonly string[]): Promise<Record<string, string>> {
  const home: Record<string, string> = {}
  for (const u of users) {
    home[u] = await newHome()
    expect((await sotto(['init', '--name', u], home[u]!, { SOTTO_PASSPHRASE: `${u}-pw` })).code).toBe(0)
  }
  const start = async (u: string, bootstrap: string[]): Promise<{ peerId: string; addresses: string[] }> => {
    const args = ['daemon', '--json', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', ...bootstrap.flatMap((b) => ['--bootstrap', b])]
    const d = new Running(args, home[u]!, { SOTTO_PASSPHRASE: `${u}-pw` })
    running.push(d)
    return JSON.parse(await d.line((l) => l.includes('"ready"')))
  }
  const first = await start(users[0]!, [])
  const boot = first.addresses
    .filter((a) => a.includes('/127.0.0.1/'))
    .map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${first.peerId}`))
  expect(boot.length).toBeGreaterThan(0)
  for (const u of users.slice(1)) await start(u, boot)
  return home
}

/** `sotto id --json`'s invite. */
async function inviteOf(home: string): Promise<string> {
  return JSON.parse((await sotto(['id', '--json'], home)).stdout).invite
}

const hasTmux = ((): boolean => {
  try {
    execFileSync('tmux', ['-V'], { stdio: 'pipe' })
    return true
  } catch {
    return false
  }
})()

describe('the built sotto command with the app', () => {
  it('init twice fails the second time; the daemon refuses a wrong passphrase (4), a busy port (1) and an empty home (5)', async () => {
    const home = await newHome()
    const first = await sotto(['init', '--name', 'alice', '--json'], home, { SOTTO_PASSPHRASE: 'right' })
    expect(first.code).toBe(0)
    expect(JSON.parse(first.stdout)).toMatchObject({ name: 'alice', invite: expect.any(String) })
    const again = await sotto(['init'], home, { SOTTO_PASSPHRASE: 'right' })
    expect(again.code).toBe(1)
    oneLine(again)
    const wrong = await sotto(['daemon', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], home, { SOTTO_PASSPHRASE: 'wrong' })
    expect(wrong.code).toBe(4)
    oneLine(wrong)
    const busy = createServer()
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r))
    const port = (busy.address() as AddressInfo).port
    const inUse = await sotto(['daemon', '--no-mdns', '--listen', `/ip4/127.0.0.1/tcp/${port}`], home, { SOTTO_PASSPHRASE: 'right' })
    busy.close()
    expect(inUse.code).toBe(1)
    expect(inUse.stderr).toBe(`sotto: cannot listen on /ip4/127.0.0.1/tcp/${port}: listen EADDRINUSE: address already in use 127.0.0.1:${port}\n`)
    const empty = await sotto(['daemon', '--no-mdns'], await newHome(), { SOTTO_PASSPHRASE: 'x' })
    expect(empty.code).toBe(5)
    oneLine(empty)
  }, 60_000)

  it('passphrase changes the passphrase with the daemon stopped: the old one is refused after, the node and its history open with the new one', async () => {
    const { home, daemon: d, ready: before } = await daemonFor('pat', 'old pw')
    expect((await sotto(['community', 'create', 'notes'], home)).code).toBe(0)
    expect((await sotto(['send', '#notes', 'written under the old passphrase'], home)).code).toBe(0)
    // While the daemon runs: refused before any passphrase is read.
    const busy = await sotto(['passphrase'], home)
    expect(busy.code).toBe(1)
    expect(busy.stderr).toBe(`sotto: a sotto daemon is already running for ${home}: stop it first, then change the passphrase\n`)
    expect(await d.stop()).toBe(0)
    // A wrong old passphrase (4), no new one (2), the same one again (2): nothing changes.
    const wrong = await sotto(['passphrase'], home, { SOTTO_PASSPHRASE: 'nope', SOTTO_NEW_PASSPHRASE: 'new pw' })
    expect(wrong.code).toBe(4)
    oneLine(wrong)
    const none = await sotto(['passphrase'], home, { SOTTO_PASSPHRASE: 'old pw' })
    expect(none.code).toBe(2)
    expect(none.stderr).toBe('sotto: no new passphrase: set SOTTO_NEW_PASSPHRASE or run in a terminal to be asked\n')
    const same = await sotto(['passphrase'], home, { SOTTO_PASSPHRASE: 'old pw', SOTTO_NEW_PASSPHRASE: 'old pw' })
    expect(same.code).toBe(2)
    oneLine(same)
    const changed = await sotto(['passphrase'], home, { SOTTO_PASSPHRASE: 'old pw', SOTTO_NEW_PASSPHRASE: 'new pw' })
    expect(changed.code).toBe(0)
    expect(changed.stdout).toBe(`passphrase changed for ${home}\n`)
    const old = await sotto(DAEMON_ARGS, home, { SOTTO_PASSPHRASE: 'old pw' })
    expect(old.code).toBe(4)
    const again = new Running(DAEMON_ARGS, home, { SOTTO_PASSPHRASE: 'new pw' })
    running.push(again)
    expect(JSON.parse(await again.line((l) => l.includes('"ready"'))).peerId).toBe(before.peerId)
    expect(JSON.parse((await sotto(['id', '--json'], home)).stdout)).toMatchObject({ name: 'pat' })
    const read = (await sotto(['read', '#notes', '--json'], home)).stdout.trim().split('\n').map((l) => JSON.parse(l).text)
    expect(read).toEqual(['written under the old passphrase'])
    // A relay's data directory sealed under its random key file has no passphrase: refused, in one line.
    const relayHome = await newHome()
    writeFileSync(join(relayHome, 'relay.key'), `${'ab'.repeat(32)}\n`)
    const relay = await sotto(['passphrase'], relayHome, { SOTTO_PASSPHRASE: 'x', SOTTO_NEW_PASSPHRASE: 'y' })
    expect(relay.code).toBe(1)
    expect(relay.stderr).toBe(`sotto: ${relayHome} is a relay's data directory, sealed under the key in relay.key: it has no passphrase\n`)
  }, 60_000)

  it('clear deletes a conversation\'s messages on this node, all or those older than an age; retention shows and sets how long they are kept; bad ages and names are refused', async () => {
    const { home } = await daemonFor('cleo')
    expect((await sotto(['community', 'create', 'notes'], home)).code).toBe(0)
    for (const t of ['first', 'second']) expect((await sotto(['send', '#notes', t], home)).code).toBe(0)
    const texts = async (): Promise<string[]> => (await sotto(['read', '#notes', '--json'], home)).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).text)
    expect(await texts()).toEqual(['first', 'second'])
    const young = await sotto(['clear', '#notes', '--older-than', '1d'], home)
    expect(young.code).toBe(0)
    expect(young.stdout).toBe('deleted 0 messages of #notes from this node\n')
    expect(await texts()).toEqual(['first', 'second'])
    for (const bad of ['7', '7x', '-1d', 'soon', '36501d']) {
      const r = await sotto(['clear', '#notes', '--older-than', bad], home)
      expect(r.code, bad).toBe(2)
      oneLine(r)
    }
    const nobody = await sotto(['clear', 'nobody'], home)
    expect(nobody.code).toBe(1)
    oneLine(nobody)
    const all = await sotto(['clear', '#notes', '--json'], home)
    expect(all.code).toBe(0)
    expect(JSON.parse(all.stdout)).toEqual({ deleted: 2 })
    expect(await texts()).toEqual([])

    // retention: shown, set, shown as JSON, turned off; a bad age is a usage error and changes nothing.
    expect((await sotto(['retention', '#notes'], home)).stdout).toBe('#notes: messages are kept on this node\n')
    const set = await sotto(['retention', '#notes', '2w'], home)
    expect(set.code).toBe(0)
    expect(set.stdout).toBe('#notes: this node deletes messages 2w after storing them\n')
    const bad = await sotto(['retention', '#notes', 'forever'], home)
    expect(bad.code).toBe(2)
    expect(bad.stderr).toBe("sotto: the age must be 'off' or a number with s, m, h, d or w, at most 100 years (e.g. 7d), not 'forever'\n")
    const huge = await sotto(['retention', '#notes', '999999999w'], home)
    expect(huge.code).toBe(2)
    oneLine(huge)
    expect(JSON.parse((await sotto(['retention', '#notes', '--json'], home)).stdout)).toEqual({ conversation: '#notes', retentionMs: 14 * 86_400_000 })
    expect((await sotto(['retention', '#notes', 'off'], home)).stdout).toBe('#notes: messages are kept on this node\n')
    const unknown = await sotto(['retention', 'nobody', '1d'], home)
    expect(unknown.code).toBe(1)
    oneLine(unknown)
  }, 60_000)

  it('a daemon serves status and id, refuses a second daemon, and stops cleanly on SIGTERM', async () => {
    const { home, daemon: d, ready } = await daemonFor('solo')
    expect(ready.peerId).toMatch(/^12D3Koo/)
    expect(statSync(join(home, 'sotto.sock')).mode & 0o777).toBe(0o600)
    const status = await sotto(['status', '--json'], home)
    expect(status.code).toBe(0)
    expect(JSON.parse(status.stdout)).toMatchObject({ peerId: ready.peerId, outbox: expect.any(Number) })
    const id = await sotto(['id', '--json'], home)
    expect(JSON.parse(id.stdout)).toMatchObject({ name: 'solo', peerId: ready.peerId, invite: expect.any(String), safetyNumber: expect.any(String) })
    const second = await sotto(['daemon', '--no-mdns'], home, { SOTTO_PASSPHRASE: 'pw' })
    expect(second.code).toBe(1)
    expect(second.stderr).toBe(`sotto: a sotto daemon is already running for ${home}\n`)
    const bad = await sotto(['contact', 'add', 'not-an-invite'], home)
    expect(bad.code).toBe(1)
    oneLine(bad)
    const unknown = await sotto(['send', 'nobody', 'hi'], home)
    expect(unknown.code).toBe(1)
    oneLine(unknown)
    const noCommunity = await sotto(['community', 'invite', 'nowhere'], home)
    expect(noCommunity.code).toBe(1)
    oneLine(noCommunity)
    for (const args of [
      ['contact', 'accept', 'nobody'],
      ['contact', 'verify', 'nobody'],
      ['contact', 'remove', 'nobody'],
      ['community', 'join', 'not-an-invite'],
      ['community', 'members', 'nowhere'],
      ['community', 'leave', 'nowhere'],
      ['community', 'rotate', 'nowhere'],
      ['community', 'promote', 'nowhere', 'nobody'],
      ['relay', 'use', 'not-a-multiaddr'],
      ['send', 'nobody', '-']
    ]) {
      const r = await sotto(args, home, {}, 'text on stdin')
      expect(r.code, args.join(' ')).toBe(1)
      oneLine(r)
    }
    expect(await d.stop('SIGTERM')).toBe(0)
    expect(existsSync(join(home, 'sotto.sock'))).toBe(false)
    expect(d.stdout.trim().split('\n').at(-1)).toBe('{"event":"stopped"}')
  }, 60_000)

  it('three users: invites both ways, 1:1 messages, a community, chat, read back with read --json', async () => {
    const home = await network(['alice', 'bob', 'carol'])

    const invite = (u: string): Promise<string> => inviteOf(home[u]!)
    const run = async (u: string, ...args: string[]): Promise<Result> => {
      const r = await sotto(args, home[u]!)
      expect(r, `${u}: sotto ${args.join(' ')}`).toMatchObject({ code: 0 })
      return r
    }
    await run('alice', 'contact', 'add', await invite('bob'), '--name', 'bob')
    await run('bob', 'contact', 'add', await invite('alice'), '--name', 'alice')
    const contacts = (await run('alice', 'contact', 'list', '--json')).stdout.trim().split('\n').map((l) => JSON.parse(l))
    expect(contacts).toEqual([expect.objectContaining({ name: 'bob', state: 'accepted' })])

    const bobFollow = new Running(['read', 'alice', '--follow', '--json'], home.bob!)
    running.push(bobFollow)
    const sent = await run('alice', 'send', 'bob', 'hello bob')
    const id = sent.stdout.trim()
    expect(id).toMatch(/^[0-9a-f]+$/)
    const got = JSON.parse(await bobFollow.line((l) => l.includes('hello bob')))
    expect(got).toMatchObject({ id, conversation: 'alice', from: 'alice', text: 'hello bob' })
    expect(Object.keys(got).sort()).toEqual(['conversation', 'from', 'id', 'receivedAt', 'sentAt', 'status', 'text'])

    // alice chats with bob through the chat screen in plain mode, and sees her message delivered.
    const chat = new Running(['chat', 'bob', '--plain'], home.alice!)
    running.push(chat)
    await chat.line((l) => l === '* talking in bob')
    chat.write('hi again, from the chat screen\n')
    await chat.line((l) => l.startsWith('[bob] me: hi again, from the chat screen ✓✓'))
    await bobFollow.line((l) => l.includes('hi again, from the chat screen'))
    const reply = await run('bob', 'send', 'alice', 'got both')
    await chat.line((l) => l === '[bob] bob: got both')
    chat.write('/quit\n')
    expect(await chat.exited).toBe(0)
    expect(reply.stdout.trim()).toMatch(/^[0-9a-f]+$/)

    await run('alice', 'community', 'create', 'garden')
    const communityInvite = (await run('alice', 'community', 'invite', 'garden')).stdout.trim().split('\n').at(-1)!
    await run('bob', 'community', 'join', communityInvite)
    await run('carol', 'community', 'join', communityInvite)
    const aliceFollow = new Running(['read', '#garden', '--follow', '--json'], home.alice!)
    running.push(aliceFollow)
    await run('carol', 'send', '#garden', 'hello garden')
    const inGarden = JSON.parse(await aliceFollow.line((l) => l.includes('hello garden')))
    expect(inGarden).toMatchObject({ conversation: '#garden', text: 'hello garden' })
    const members = (await run('alice', 'community', 'members', 'garden', '--json')).stdout.trim().split('\n')
    expect(members.length).toBeGreaterThanOrEqual(1)

    const history = async (u: string, to: string): Promise<string[]> =>
      (await run(u, 'read', to, '--json')).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l).text)
    expect(await history('alice', 'bob')).toEqual(['hello bob', 'hi again, from the chat screen', 'got both'])
    expect(await history('carol', '#garden')).toEqual(['hello garden'])
    await expect.poll(() => history('bob', '#garden'), { timeout: 30_000, interval: 250 }).toEqual(['hello garden'])
  }, 180_000)

  it.skipIf(!hasTmux)('the chat screen in a real terminal (tmux): a request, /accept, ✓✓, a reply, Ctrl-C', async () => {
    const home = await network(['alice', 'carol'])
    expect((await sotto(['contact', 'add', await inviteOf(home.alice!), '--name', 'alice'], home.carol!)).code).toBe(0)
    expect((await sotto(['send', 'alice', 'hello from carol'], home.carol!)).code).toBe(0)
    const session = `sotto-test-${process.pid}`
    const tmux = (...args: string[]): string => execFileSync('tmux', args, { stdio: 'pipe' }).toString()
    const command = `env SOTTO_HOME='${home.alice}' '${process.execPath}' '${main}' chat`
    tmux('new-session', '-d', '-s', session, '-x', '80', '-y', '16', command)
    const screen = (): string => tmux('capture-pane', '-p', '-t', session)
    /** Waits until the screen shows `what`; on timeout the error includes the screen. */
    const shows = async (what: string | RegExp, timeoutMs = 30_000): Promise<void> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const text = screen()
        if (typeof what === 'string' ? text.includes(what) : what.test(text)) return
        if (Date.now() > deadline) throw new Error(`the screen did not show ${String(what)}:\n${text}`)
        await new Promise((r) => setTimeout(r, 100))
      }
    }
    try {
      // The request's name is the app's choice (the sender's chosen name, or a placeholder until known).
      await shows('contact request: ')
      await shows(': hello from carol')
      const contacts = (await sotto(['contact', 'list', '--json'], home.alice!)).stdout.trim().split('\n').map((l) => JSON.parse(l))
      const request = contacts.find((c: { state: string }) => c.state === 'request')?.name as string
      expect(request).toBeDefined()
      tmux('send-keys', '-t', session, `/accept ${request}`, 'Enter')
      await shows(`accepted ${request}`)
      tmux('send-keys', '-t', session, 'hi carol', 'Enter')
      await shows(/me: hi carol ✓✓/)
      expect((await sotto(['send', 'alice', 'see you'], home.carol!)).code).toBe(0)
      await shows(': see you')
      tmux('send-keys', '-t', session, 'C-c')
      await expect
        .poll(() => {
          try {
            tmux('has-session', '-t', session)
            return 'running'
          } catch {
            return 'ended'
          }
        }, { timeout: 10_000 })
        .toBe('ended')
    } finally {
      try {
        tmux('kill-session', '-t', session)
      } catch {
        // already ended
      }
    }
  }, 120_000)

  it('a relay serves a community topic; a daemon is told to use it; bad topics are one-line errors', async () => {
    const home = await network(['alice'])
    const created = await sotto(['community', 'create', 'garden', '--json'], home.alice!)
    const topicId = JSON.parse(created.stdout).topicId as string
    const relayHome = await newHome()
    const bad = await sotto(['relay', '--home', relayHome, '--serve', 'not-a-topic', '--listen', '/ip4/127.0.0.1/tcp/0'], relayHome)
    expect(bad.code).toBe(1)
    oneLine(bad)
    const relay = new Running(['relay', '--json', '--home', relayHome, '--serve', topicId, '--listen', '/ip4/127.0.0.1/tcp/0'], relayHome)
    running.push(relay)
    const ready = JSON.parse(await relay.line((l) => l.includes('"ready"')))
    expect(ready).toMatchObject({ peerId: expect.stringMatching(/^12D3Koo/), topics: 1, home: relayHome })
    const address = (ready.addresses as string[]).find((a) => a.includes('/127.0.0.1/'))!
    const full = address.includes('/p2p/') ? address : `${address}/p2p/${ready.peerId}`
    const use = await sotto(['relay', 'use', full], home.alice!)
    expect(use.code).toBe(0)
    expect(use.stdout).toContain(full)
    expect(JSON.parse((await sotto(['status', '--json'], home.alice!)).stdout).relays).toContain(full)
    expect(await relay.stop()).toBe(0)
    expect(relay.stdout.trim().split('\n').at(-1)).toBe('{"event":"stopped"}')
  }, 120_000)

  it('sotto demo runs its steps and cleans up', async () => {
    const r = await sotto(['demo'], await newHome())
    expect(r.stderr).toBe('')
    expect(r.code).toBe(0)
    expect(r.stdout).toContain('All steps passed.')
    expect(r.stdout).not.toContain('✗')
    const dataDir = /data in (\S+) \(removed/.exec(r.stdout)?.[1]
    expect(dataDir).toBeDefined()
    expect(existsSync(dataDir!)).toBe(false)
  }, 240_000)
})
