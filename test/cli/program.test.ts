import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PassThrough } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { SottoOptions } from '../../src/app/api.js'
import type { AppModule } from '../../src/cli/app-module.js'
import { DaemonNotRunningError, ExitCode } from '../../src/cli/errors.js'
import { type CliContext, run } from '../../src/cli/program.js'
import { RemoteApi } from '../../src/cli/rpc.js'
import { FakeApp, FakeAppError, FakeConnection } from './fake-api.js'

interface Harness {
  ctx: CliContext
  out: () => string
  err: () => string
  interrupt: () => void
}

function harness(options: { api?: FakeConnection; env?: NodeJS.ProcessEnv; app?: Partial<AppModule> } = {}): Harness {
  let out = ''
  let err = ''
  const handlers = new Set<() => void>()
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean }
  const ctx: CliContext = {
    env: options.env ?? { SOTTO_HOME: '/nonexistent/sotto-test' },
    stdin,
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
    connect: async () => {
      if (options.api === undefined) throw new DaemonNotRunningError()
      return options.api
    },
    loadApp: async () => (options.app ?? {}) as AppModule,
    onInterrupt(handler) {
      handlers.add(handler)
      return () => handlers.delete(handler)
    }
  }
  return {
    ctx,
    out: () => out,
    err: () => err,
    interrupt: () => {
      for (const h of [...handlers]) h()
    }
  }
}

describe('usage and help', () => {
  it('prints the version and help with exit 0', async () => {
    const h = harness()
    expect(await run(['--version'], h.ctx)).toBe(0)
    expect(h.out()).toMatch(/^\d+\.\d+\.\d+\n$/)
    const h2 = harness()
    expect(await run(['contact', 'add', '--help'], h2.ctx)).toBe(0)
    expect(h2.out()).toContain('Usage: sotto contact add [options] <invite>')
  })
  it.each([
    [['bogus']],
    [['send', 'bob']],
    [['contact']],
    [['read', '--limit', '0']],
    [['id', '--frobnicate']],
    [['demo', '--nodes', '2']]
  ])('%j is a usage error (exit 2) with one line on stderr', async (argv) => {
    const h = harness({ api: new FakeConnection() })
    expect(await run(argv, h.ctx)).toBe(ExitCode.usage)
    const lines = h.err().trim().split('\n')
    if (argv[0] !== 'contact') expect(lines).toHaveLength(1)
    if (argv[0] !== 'contact') expect(lines[0]).toMatch(/^sotto: /)
  })
})

describe('commands against the daemon', () => {
  it('exit 3 with the standard line when the daemon is not running', async () => {
    const h = harness()
    expect(await run(['status'], h.ctx)).toBe(ExitCode.daemonNotRunning)
    expect(h.err()).toBe('sotto: the daemon is not running (start it with `sotto daemon`)\n')
    expect(h.out()).toBe('')
  })

  it('maps app errors to one line and their exit code', async () => {
    const api = new FakeConnection()
    const h = harness({ api })
    expect(await run(['contact', 'add', 'garbage'], h.ctx)).toBe(ExitCode.error)
    expect(h.err()).toBe('sotto: this is not a sotto invite\n')
    api.status = async () => {
      throw new FakeAppError('WRONG_PASSPHRASE', 'wrong passphrase')
    }
    const h2 = harness({ api })
    expect(await run(['status'], h2.ctx)).toBe(ExitCode.wrongPassphrase)
    expect(api.closed).toBe(true)
  })

  it('id: human fields end with the invite; --json is one object', async () => {
    const h = harness({ api: new FakeConnection('alice') })
    expect(await run(['id'], h.ctx)).toBe(0)
    expect(h.out().trim().split('\n').at(-1)).toMatch(/^invite {2,}invite:alice$/)
    const h2 = harness({ api: new FakeConnection('alice') })
    await run(['id', '--json'], h2.ctx)
    const lines = h2.out().trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(JSON.parse(lines[0]!)).toMatchObject({ invite: 'invite:alice', peerId: '12D3KooWFake', safetyNumber: expect.any(String) })
  })

  it('id --qr draws a QR code before the invite', async () => {
    const h = harness({ api: new FakeConnection('alice') })
    expect(await run(['id', '--qr'], h.ctx)).toBe(0)
    expect(h.out()).toMatch(/[▀▄█]{10}/)
    expect(h.out().trim().split('\n').at(-1)).toMatch(/^invite {2,}invite:alice$/)
  })

  it('contact add/list/verify/remove with aligned human output and JSON lines', async () => {
    const api = new FakeConnection()
    expect(await run(['contact', 'add', 'invite:bob'], harness({ api }).ctx)).toBe(0)
    expect(await run(['contact', 'add', 'invite:carol', '--name', 'caz'], harness({ api }).ctx)).toBe(0)
    const h = harness({ api })
    await run(['contact', 'list'], h.ctx)
    expect(h.out()).toBe(
      'NAME  STATE    TRUST       FINGERPRINT\n' + 'bob   contact  unverified  f00dfeed\n' + 'caz   contact  unverified  f00dfeed\n'
    )
    const j = harness({ api })
    await run(['contact', 'list', '--json'], j.ctx)
    expect(j.out().trim().split('\n').map((l) => JSON.parse(l).name)).toEqual(['bob', 'caz'])
    const v = harness({ api })
    await run(['contact', 'verify', 'bob', '--confirm'], v.ctx)
    expect(v.out()).toContain('bob is verified')
    api.contacts.get('caz')!.identityChanged = true
    const loud = harness({ api })
    await run(['contact', 'verify', 'caz'], loud.ctx)
    expect(loud.out()).toMatch(/IDENTITY KEY HAS CHANGED/)
    expect(await run(['contact', 'remove', 'bob'], harness({ api }).ctx)).toBe(0)
    const gone = harness({ api })
    expect(await run(['contact', 'remove', 'bob'], gone.ctx)).toBe(1)
    expect(gone.err()).toBe('sotto: no contact named bob\n')
  })

  it('send prints the message id; words are joined', async () => {
    const api = new FakeConnection()
    await api.contactAdd('invite:bob')
    const h = harness({ api })
    expect(await run(['send', 'bob', 'hello', 'there'], h.ctx)).toBe(0)
    expect(h.out()).toMatch(/^[0-9a-f]{16}\n$/)
    expect(api.calls.at(-1)).toEqual({ method: 'send', args: ['bob', 'hello there'] })
    expect(await run(['send', 'nobody', 'x'], harness({ api }).ctx)).toBe(1)
  })

  it("send TO - reads the message from stdin", async () => {
    const api = new FakeConnection()
    await api.contactAdd('invite:bob')
    const h = harness({ api })
    ;(h.ctx.stdin as PassThrough).end('line one\nline two\n')
    expect(await run(['send', 'bob', '-'], h.ctx)).toBe(0)
    expect(api.calls.at(-1)).toEqual({ method: 'send', args: ['bob', 'line one\nline two'] })
  })

  it('read --json prints one message per line with the documented fields, and marks read', async () => {
    const api = new FakeConnection()
    await api.contactAdd('invite:bob')
    api.receive('bob', 'bob', 'one')
    await api.send('bob', 'two')
    const h = harness({ api })
    expect(await run(['read', 'bob', '--json'], h.ctx)).toBe(0)
    const lines = h.out().trim().split('\n').map((l) => JSON.parse(l))
    expect(lines).toHaveLength(2)
    for (const l of lines) expect(Object.keys(l).sort()).toEqual(['conversation', 'from', 'id', 'receivedAt', 'sentAt', 'status', 'text'])
    expect(lines.map((l) => l.text)).toEqual(['one', 'two'])
    expect(api.calls.some((c) => c.method === 'markRead' && c.args[0] === 'bob')).toBe(true)
  })

  it('read without --json is one aligned line per message with marks; control characters are neutralised', async () => {
    const api = new FakeConnection()
    await api.contactAdd('invite:bob')
    api.receive('bob', 'bob', 'evil \u001b[2Jclear')
    await api.send('bob', 'mine')
    const h = harness({ api })
    await run(['read'], h.ctx)
    const lines = h.out().trim().split('\n')
    expect(lines[0]).toMatch(/\[bob\] {2}bob: evil {2}\[2Jclear$/)
    expect(lines[1]).toMatch(/\[bob\] {2}me: mine ✓$/)
    expect(h.out()).not.toContain('\u001b')
  })

  it('read --follow prints history, then new messages and status changes, until interrupted', async () => {
    const api = new FakeConnection()
    await api.contactAdd('invite:bob')
    api.receive('bob', 'bob', 'old')
    const h = harness({ api })
    const done = run(['read', 'bob', '--follow', '--json'], h.ctx)
    await expect.poll(() => h.out()).toContain('"old"')
    api.receive('bob', 'bob', 'new')
    api.receive('carol', 'carol', 'other conversation')
    await api.send('bob', 'reply')
    api.deliverAll()
    await expect.poll(() => h.out().trim().split('\n').length).toBe(4)
    h.interrupt()
    expect(await done).toBe(0)
    const events = h.out().trim().split('\n').map((l) => JSON.parse(l))
    expect(events.map((e) => `${e.text}/${e.status}`)).toEqual(['old/received', 'new/received', 'reply/sent', 'reply/delivered'])
  })

  it('read --follow exits 3 when the daemon goes away', async () => {
    const api = new FakeConnection()
    const h = harness({ api })
    const done = run(['read', '--follow'], h.ctx)
    await expect.poll(() => api.closeHandlers.length).toBe(1)
    api.drop()
    expect(await done).toBe(ExitCode.daemonNotRunning)
    expect(h.err()).toBe('sotto: the daemon stopped\n')
  })

  it('community commands accept #name and print the invite on the last line', async () => {
    const api = new FakeConnection()
    const c = harness({ api })
    expect(await run(['community', 'create', '#garden'], c.ctx)).toBe(0)
    expect(c.out()).toContain('created #garden')
    const i = harness({ api })
    expect(await run(['community', 'invite', 'garden'], i.ctx)).toBe(0)
    expect(i.out().trim().split('\n').at(-1)).toBe('community-invite:garden')
    const l = harness({ api })
    await run(['community', 'list', '--json'], l.ctx)
    expect(JSON.parse(l.out())).toMatchObject({ name: 'garden', role: 'admin' })
    const r = harness({ api })
    expect(await run(['community', 'rotate', 'garden', '--remove', 'mallory'], r.ctx)).toBe(0)
    expect(r.out()).toBe('#garden is at epoch 1, mallory removed\n')
    expect(api.calls.at(-1)).toEqual({ method: 'communityRotate', args: ['garden', 'mallory'] })
    const bad = harness({ api })
    expect(await run(['community', 'join', 'nonsense'], bad.ctx)).toBe(1)
    expect(bad.err()).toBe('sotto: this is not a community invite\n')
  })

  it('relay use checks the address shape before asking the daemon', async () => {
    const api = new FakeConnection()
    const bad = harness({ api })
    expect(await run(['relay', 'use', 'not-a-multiaddr'], bad.ctx)).toBe(1)
    expect(bad.err()).toMatch(/^sotto: not a relay address: not-a-multiaddr \(expected a multiaddr with \/p2p\//)
    expect(await run(['relay', 'use', '/ip4/127.0.0.1/tcp/4001'], harness({ api }).ctx)).toBe(1)
    const good = harness({ api })
    expect(await run(['relay', 'use', '/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRelay'], good.ctx)).toBe(0)
    expect(good.out()).toBe('using 1 relay:\n  /ip4/127.0.0.1/tcp/4001/p2p/12D3KooWRelay\n')
  })

  it('status --json is one object with the documented fields', async () => {
    const h = harness({ api: new FakeConnection() })
    await run(['status', '--json'], h.ctx)
    expect(Object.keys(JSON.parse(h.out()))).toEqual(['peerId', 'addresses', 'peers', 'topics', 'outbox', 'sync', 'relays'])
  })
})

describe('init, daemon and relay with an app module', () => {
  let dir: string
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sotto-cli-'))
  })
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('init needs a passphrase when not on a terminal (exit 2)', async () => {
    const h = harness({ env: { SOTTO_HOME: dir } })
    expect(await run(['init'], h.ctx)).toBe(ExitCode.usage)
    expect(h.err()).toBe('sotto: no passphrase: set SOTTO_PASSPHRASE or run in a terminal to be asked\n')
  })

  it('init passes home, passphrase, name and test Argon2 limits to the app', async () => {
    let got: (SottoOptions & { name?: string }) | undefined
    const app: Partial<AppModule> = {
      initSotto: async (o) => {
        got = o
        return (await new FakeApp(o.name).id()) as Awaited<ReturnType<AppModule['initSotto']>>
      }
    }
    const h = harness({ env: { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw', SOTTO_ARGON2: 'test' }, app })
    expect(await run(['init', '--name', 'alice'], h.ctx)).toBe(0)
    expect(got).toEqual({ home: dir, passphrase: 'pw', name: 'alice', argon2: { opsLimit: 1, memLimit: 8192 } })
    expect(h.out()).toContain("created alice's identity")
    const twice: Partial<AppModule> = {
      initSotto: async () => {
        throw new FakeAppError('ALREADY_INITIALISED', `an identity already exists in ${dir}`)
      }
    }
    const h2 = harness({ env: { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw' }, app: twice })
    expect(await run(['init'], h2.ctx)).toBe(1)
    expect(h2.err()).toBe(`sotto: an identity already exists in ${dir}\n`)
  })

  it('passphrase asks on the terminal for the old one and the new one twice, and passes them to the app', async () => {
    const answers = (replies: Record<string, string[]>): { h: Harness; asked: string[]; err: () => string } => {
      const asked: string[] = []
      let err = ''
      const h = harness({ env: { SOTTO_HOME: dir }, app })
      const stdin = h.ctx.stdin as PassThrough & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
      stdin.isTTY = true
      stdin.setRawMode = () => stdin
      h.ctx.stderr = {
        write: (s: string) => {
          err += s
          const reply = replies[s]?.shift()
          if (reply !== undefined) {
            asked.push(s)
            setImmediate(() => stdin.write(`${reply}\r`))
          }
          return true
        }
      }
      return { h, asked, err: () => err }
    }
    let got: (SottoOptions & { newPassphrase: string }) | undefined
    const app: Partial<AppModule> = {
      changePassphrase: async (o) => {
        got = o
      }
    }
    const ok = answers({ 'passphrase: ': ['old'], 'new passphrase: ': ['new'], 'new passphrase again: ': ['new'] })
    expect(await run(['passphrase'], ok.h.ctx)).toBe(0)
    expect(ok.asked).toEqual(['passphrase: ', 'new passphrase: ', 'new passphrase again: '])
    expect(got).toEqual({ home: dir, passphrase: 'old', newPassphrase: 'new', argon2: undefined })
    expect(ok.h.out()).toBe(`passphrase changed for ${dir}\n`)
    got = undefined
    const typo = answers({ 'passphrase: ': ['old'], 'new passphrase: ': ['new'], 'new passphrase again: ': ['mew'] })
    expect(await run(['passphrase'], typo.h.ctx)).toBe(ExitCode.usage)
    expect(typo.err()).toContain('sotto: the passphrases do not match\n')
    expect(got).toBeUndefined()
  })

  it('rejects an unknown SOTTO_ARGON2 value', async () => {
    const h = harness({ env: { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw', SOTTO_ARGON2: 'fast' } })
    expect(await run(['init'], h.ctx)).toBe(ExitCode.usage)
  })

  it('daemon serves the app on a 0600 socket, refuses a second daemon, and stops on interrupt', async () => {
    const fake = new FakeApp('alice')
    let opened: SottoOptions | undefined
    const app: Partial<AppModule> = {
      openSotto: async (o) => {
        opened = o
        return fake
      }
    }
    const env = { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw' }
    const h = harness({ env, app })
    const done = run(['daemon', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', '/ip4/127.0.0.1/tcp/1/p2p/x', '--no-mdns', '--json'], h.ctx)
    await expect.poll(() => h.out()).toContain('"ready"')
    const ready = JSON.parse(h.out().split('\n')[0]!)
    expect(ready).toEqual({ event: 'ready', peerId: '12D3KooWFake', addresses: expect.any(Array), socket: join(dir, 'sotto.sock') })
    expect(opened).toMatchObject({ home: dir, passphrase: 'pw', listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: ['/ip4/127.0.0.1/tcp/1/p2p/x'], mdns: false })
    expect((await stat(join(dir, 'sotto.sock'))).mode & 0o777).toBe(0o600)
    expect((await stat(dir)).mode & 0o777).toBe(0o700)

    const remote = await RemoteApi.connect(join(dir, 'sotto.sock'))
    expect((await remote.id()).name).toBe('alice')
    remote.close()

    const second = harness({ env, app })
    expect(await run(['daemon'], second.ctx)).toBe(1)
    expect(second.err()).toBe(`sotto: a sotto daemon is already running for ${dir}\n`)

    h.interrupt()
    expect(await done).toBe(0)
    expect(fake.stopped).toBe(true)
    await expect(stat(join(dir, 'sotto.sock'))).rejects.toThrow()
    expect(h.out().trim().split('\n').at(-1)).toBe('{"event":"stopped"}')
  })

  it('daemon removes a stale socket before starting', async () => {
    const { createServer } = await import('node:net')
    const stale = createServer()
    await new Promise<void>((r) => stale.listen(join(dir, 'sotto.sock'), r))
    // Closing a server without unlinking leaves the file behind, as a crashed daemon does.
    const fd = (stale as unknown as { _handle: { close(): void } })._handle
    fd.close()
    const fake = new FakeApp()
    const h = harness({ env: { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw' }, app: { openSotto: async () => fake } })
    const done = run(['daemon'], h.ctx)
    await expect.poll(() => h.out()).toContain('sotto daemon ready: peer 12D3KooWFake')
    h.interrupt()
    expect(await done).toBe(0)
  })

  it('daemon reports sync progress while catching up, then that it caught up', async () => {
    const fake = new FakeApp()
    const sync = { envelopesToFetch: 10, envelopesFetched: 3, bytesToFetch: 1000, bytesFetched: 300 }
    const base = await fake.status()
    fake.status = async () => ({ ...base, sync: { ...sync } })
    const h = harness({ env: { SOTTO_HOME: dir, SOTTO_PASSPHRASE: 'pw' }, app: { openSotto: async () => fake } })
    const done = run(['daemon'], h.ctx)
    await expect.poll(() => h.out(), { timeout: 10_000 }).toContain('catching up: 3/10 envelopes (300/1000 bytes)')
    sync.envelopesFetched = 10
    await expect.poll(() => h.out(), { timeout: 10_000 }).toContain('caught up\n')
    h.interrupt()
    expect(await done).toBe(0)
  })

  it('relay runs in <data dir>/relay by default with the options given, and stops on interrupt', async () => {
    let got: Parameters<NonNullable<AppModule['runRelay']>>[0] | undefined
    let stopped = false
    const app: Partial<AppModule> = {
      runRelay: async (o) => {
        got = o
        return {
          peerId: '12D3KooWRelay',
          addresses: ['/ip4/127.0.0.1/tcp/4002/p2p/12D3KooWRelay'],
          status: async () => ({ peerId: '12D3KooWRelay', addresses: [], peers: 0, open: true, topics: [], stored: 0, invalid: 0 }),
          stop: async () => {
            stopped = true
          }
        } as unknown as Awaited<ReturnType<NonNullable<AppModule['runRelay']>>>
      }
    }
    const h = harness({ env: { SOTTO_HOME: dir }, app })
    const done = run(['relay', '--serve', 'ab'.repeat(32), '--open', '--allow', '12D3KooWPeer', '--listen', '/ip4/127.0.0.1/tcp/0'], h.ctx)
    await expect.poll(() => h.out()).toContain('sotto relay ready: peer 12D3KooWRelay')
    expect(h.out()).toContain('serving 0 topics (open)')
    expect(got).toMatchObject({
      home: join(dir, 'relay'),
      serve: ['ab'.repeat(32)],
      open: true,
      allow: ['12D3KooWPeer'],
      mdns: false,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      passphrase: undefined
    })
    h.interrupt()
    expect(await done).toBe(0)
    expect(stopped).toBe(true)
  })

  it('relay says it is not available when the app has no relay', async () => {
    const h = harness({ env: { SOTTO_HOME: dir }, app: {} })
    expect(await run(['relay'], h.ctx)).toBe(1)
    expect(h.err()).toBe('sotto: the relay is not available in this version of sotto yet\n')
  })
})

describe('listen errors', () => {
  it('turn libp2p’s multi-line message into one line with the address and the reason', async () => {
    const { listenError } = await import('../../src/cli/daemon.js')
    const err = new Error(
      'Some configured addresses failed to be listened on, you may need to remove one or more listen addresses from your configuration or set `transportManager.faultTolerance` to NO_FATAL:\n' +
        '\n  /ip4/127.0.0.1/tcp/4001: listen EADDRINUSE: address already in use 127.0.0.1:4001\n'
    )
    err.name = 'UnsupportedListenAddressesError'
    expect(listenError(err)?.message).toBe('cannot listen on /ip4/127.0.0.1/tcp/4001: listen EADDRINUSE: address already in use 127.0.0.1:4001')
    expect(listenError(new Error('other'))).toBeUndefined()
  })
})
