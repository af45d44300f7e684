/**
 * The `sotto` command line: `sotto <noun> <verb>`, built with commander. `run(argv, context)` parses,
 * runs one command and returns its exit code; every dependency (streams, environment, the daemon
 * connection, the app layer) comes from the context so that tests can drive it in-process.
 */
import { Command, CommanderError, InvalidArgumentError } from 'commander'
import { join, resolve } from 'node:path'
import { logger } from '../app/log.js'
import type { MessageStatus, MessageView, SottoApi } from '../app/api.js'
import { AGE_FORMAT, parseAge, retentionLine } from './age.js'
import { type AppModule, loadApp } from './app-module.js'
import { runChat } from './chat.js'
import { claimSocket, listenError, startDaemon } from './daemon.js'
import { runDemo } from './demo.js'
import { CliError, DaemonNotRunningError, ExitCode, errorLine, exitCodeFor, UsageError } from './errors.js'
import { ensureHome, resolveHome, socketPath } from './home.js'
import { clean, fields, messageLine, type Out, printJsonLines, statusRank, table } from './output.js'
import { argon2FromEnv, getPassphrase, type PromptIo } from './passphrase.js'
import { type ApiConnection, RemoteApi } from './rpc.js'
import { packageVersion } from './version.js'

const log = logger('sotto:cli')


/** Everything a command touches outside itself. */
export interface CliContext {
  env: NodeJS.ProcessEnv
  stdin: PromptIo['stdin']
  stdout: Out & { isTTY?: boolean; columns?: number; rows?: number }
  stderr: Out
  /** Connects to the daemon of a data directory. */
  connect(home: string): Promise<ApiConnection>
  loadApp(): Promise<AppModule>
  /** Calls `handler` on SIGINT/SIGTERM (or a test's equivalent); returns a function that detaches it. */
  onInterrupt(handler: () => void): () => void
}

/** The context of a real process. */
export function processContext(): CliContext {
  return {
    env: process.env,
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    connect: (home) => RemoteApi.connect(socketPath(home)),
    loadApp,
    onInterrupt(handler) {
      process.once('SIGINT', handler)
      process.once('SIGTERM', handler)
      return () => {
        process.off('SIGINT', handler)
        process.off('SIGTERM', handler)
      }
    }
  }
}

const collect = (value: string, previous: string[]): string[] => [...previous, value]

const positiveInt = (value: string): number => {
  const n = Number(value)
  if (!Number.isSafeInteger(n) || n <= 0) throw new InvalidArgumentError('must be a positive integer')
  return n
}

/** An age option (`7d`), in milliseconds. */
const duration = (value: string): number => {
  const ms = parseAge(value)
  if (ms === undefined) throw new InvalidArgumentError(`must be ${AGE_FORMAT}`)
  return ms
}

/** `#garden` and `garden` name the same community in community commands. */
const communityName = (name: string): string => name.replace(/^#/, '')

/** Builds the program for one run. */
export function buildProgram(ctx: CliContext): Command {
  const out = ctx.stdout
  const program = new Command()
  program
    .name('sotto')
    .description('Peer-to-peer, end-to-end encrypted messenger.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .helpOption('-h, --help', 'show help for a command')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => out.write(s),
      writeErr: (s) => ctx.stderr.write(s),
      // One line on stderr: commander's "error: ..." (and its "Did you mean" hint) joined.
      outputError: (s, write) => write(`sotto: ${s.replace(/^error: /, '').trim().split('\n').join(' ')}\n`)
    })
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      '\nEnvironment: SOTTO_HOME (data directory), SOTTO_PASSPHRASE (SOTTO_NEW_PASSPHRASE for `sotto passphrase`),\n' +
        'DEBUG=sotto:* (logs).\n' +
        'Exit codes: 0 ok, 1 error, 2 usage, 3 daemon not running, 4 wrong passphrase, 5 not initialised.'
    )

  const home = (): string => resolveHome(ctx.env)
  const withApi = async <T>(fn: (api: ApiConnection) => Promise<T>): Promise<T> => {
    const api = await ctx.connect(home())
    try {
      return await fn(api)
    } finally {
      api.close()
    }
  }
  const passphrase = (confirm = false): Promise<string> => getPassphrase(ctx.env, { stdin: ctx.stdin, stderr: ctx.stderr }, { confirm })

  program
    .command('init')
    .description('create your identity in the data directory')
    .option('--name <name>', 'your name, as shown to contacts')
    .option('--json', 'print the new identity as JSON')
    .action(async (opts: { name?: string; json?: boolean }) => {
      const dir = home()
      const argon2 = argon2FromEnv(ctx.env)
      await ensureHome(dir)
      const pass = await passphrase(true)
      const app = await ctx.loadApp()
      const id = await app.initSotto({ home: dir, passphrase: pass, name: opts.name, argon2 })
      if (opts.json) return printJsonLines(out, [id])
      out.write(`created ${clean(id.name)}'s identity in ${dir}\n`)
      out.write(fields([['fingerprint', id.fingerprint], ...(id.invite ? [['invite', id.invite] as [string, string]] : [])]))
      out.write('next: run `sotto daemon`, then share your invite (`sotto id --qr`)\n')
    })

  program
    .command('daemon')
    .description('run your node in the foreground until Ctrl-C (other commands talk to it)')
    .option('--listen <multiaddr>', 'listen address (repeatable; default /ip4/0.0.0.0/tcp/0)', collect, [])
    .option('--bootstrap <multiaddr>', 'peer to connect to first, with /p2p/ id (repeatable)', collect, [])
    .option('--no-mdns', 'do not discover peers on the local network')
    .option('--json', 'print events as JSON lines')
    .action(async (opts: { listen: string[]; bootstrap: string[]; mdns: boolean; json?: boolean }) => {
      const dir = home()
      const argon2 = argon2FromEnv(ctx.env)
      await ensureHome(dir)
      await claimSocket(dir) // refuse before asking for the passphrase
      const pass = await passphrase()
      const app = await ctx.loadApp()
      const daemon = await startDaemon(app.openSotto, {
        home: dir,
        passphrase: pass,
        listen: opts.listen.length > 0 ? opts.listen : undefined,
        bootstrap: opts.bootstrap,
        mdns: opts.mdns,
        argon2
      })
      const { id } = daemon
      if (opts.json) {
        printJsonLines(out, [{ event: 'ready', peerId: id.peerId, addresses: id.addresses, socket: daemon.socketPath }])
      } else {
        out.write(`sotto daemon ready: peer ${id.peerId} on ${id.addresses.join(' ') || '(no addresses)'}\n`)
      }
      const progress = watchSync(daemon.app, (line, event) => {
        if (opts.json) printJsonLines(out, [event])
        else out.write(line + '\n')
      })
      await interrupted(ctx)
      log('stopping')
      clearInterval(progress)
      await stopping(ctx, () => daemon.stop())
      if (opts.json) printJsonLines(out, [{ event: 'stopped' }])
      else out.write('sotto daemon stopped\n')
    })

  program
    .command('passphrase')
    .description('change the passphrase that encrypts your data directory (with the daemon stopped)')
    .action(async () => {
      const dir = home()
      const argon2 = argon2FromEnv(ctx.env)
      // The store is rewrapped while it is closed: refuse before asking for anything.
      await claimSocket(dir).catch((err: Error) => {
        throw new CliError(`${err.message}: stop it first, then change the passphrase`)
      })
      const old = await passphrase()
      const fresh = await getPassphrase(ctx.env, { stdin: ctx.stdin, stderr: ctx.stderr }, { confirm: true, fresh: true })
      if (fresh === old) throw new UsageError('the new passphrase is the same as the old one')
      const app = await ctx.loadApp()
      if (typeof app.changePassphrase !== 'function') throw new CliError('changing the passphrase is not available in this version of sotto')
      await app.changePassphrase({ home: dir, passphrase: old, newPassphrase: fresh, argon2 })
      out.write(`passphrase changed for ${dir}\n`)
    })

  program
    .command('id')
    .description('your invite, peer id and addresses')
    .option('--qr', 'draw the invite as a QR code')
    .option('--json', 'print as JSON')
    .action((opts: { qr?: boolean; json?: boolean }) =>
      withApi(async (api) => {
        const id = await api.id()
        if (opts.json) return printJsonLines(out, [id])
        if (opts.qr) out.write(await qr(id.invite))
        // The invite comes last so that scripts can take the last line.
        out.write(fields([
          ['name', clean(id.name)],
          ['fingerprint', id.fingerprint],
          ['safety number', id.safetyNumber],
          ['peer id', id.peerId],
          ['addresses', id.addresses],
          ['invite', id.invite]
        ]))
      })
    )

  program
    .command('status')
    .description('peers, addresses, topics, outbox and sync progress (fails when the daemon is not running)')
    .option('--json', 'print as JSON')
    .action((opts: { json?: boolean }) =>
      withApi(async (api) => {
        const s = await api.status()
        if (opts.json) return printJsonLines(out, [s])
        const sync =
          s.sync.envelopesToFetch > s.sync.envelopesFetched
            ? `catching up: ${s.sync.envelopesFetched}/${s.sync.envelopesToFetch} envelopes`
            : 'up to date'
        out.write(fields([
          ['peer id', s.peerId],
          ['addresses', s.addresses],
          ['peers', String(s.peers)],
          ['topics', String(s.topics)],
          ['outbox', `${s.outbox} waiting`],
          ['sync', sync],
          ['relays', s.relays]
        ]))
      })
    )

  const contact = program.command('contact').description('add, list, accept, verify and remove contacts')
  contact
    .command('add')
    .description("add a contact from their invite (`sotto id` on their side)")
    .argument('<invite>', 'their invite code')
    .option('--name <name>', 'what to call them (default: the name in the invite)')
    .option('--json', 'print as JSON')
    .action((invite: string, opts: { name?: string; json?: boolean }) =>
      withApi(async (api) => {
        const c = await api.contactAdd(invite, opts.name)
        if (opts.json) return printJsonLines(out, [c])
        out.write(`added ${clean(c.name)} (fingerprint ${c.fingerprint}); verify with \`sotto contact verify ${clean(c.name)}\`\n`)
      })
    )
  contact
    .command('list')
    .description('your contacts and contact requests')
    .option('--json', 'one JSON object per contact per line')
    .action((opts: { json?: boolean }) =>
      withApi(async (api) => {
        const list = await api.contactList()
        if (opts.json) return printJsonLines(out, list)
        if (list.length === 0) return void out.write('no contacts yet: `sotto contact add INVITE`\n')
        const rows = list.map((c) => [
          clean(c.name),
          c.state === 'request' ? 'request' : 'contact',
          c.identityChanged ? 'IDENTITY CHANGED' : c.verified ? 'verified' : 'unverified',
          c.fingerprint
        ])
        out.write(table([['NAME', 'STATE', 'TRUST', 'FINGERPRINT'], ...rows]))
      })
    )
  contact
    .command('accept')
    .description('accept a contact request')
    .argument('<name>', 'the request, as listed by `sotto contact list`')
    .option('--json', 'print as JSON')
    .action((name: string, opts: { json?: boolean }) =>
      withApi(async (api) => {
        const c = await api.contactAccept(name)
        if (opts.json) return printJsonLines(out, [c])
        out.write(`accepted ${clean(c.name)}\n`)
      })
    )
  contact
    .command('verify')
    .description('show the safety number to compare with a contact; --confirm once it matches')
    .argument('<name>', 'the contact')
    .option('--confirm', 'mark the contact verified (the numbers matched)')
    .option('--json', 'print as JSON')
    .action((name: string, opts: { confirm?: boolean; json?: boolean }) =>
      withApi(async (api) => {
        const v = await api.contactVerify(name, opts.confirm === true)
        if (opts.json) return printJsonLines(out, [v])
        if (v.identityChanged) {
          out.write(
            `!!! ${clean(v.name)}'S IDENTITY KEY HAS CHANGED !!!\n` +
              'Someone may be impersonating them, or they reinstalled. Compare the safety number in person\n' +
              `before trusting it, then run \`sotto contact verify ${clean(v.name)} --confirm\`.\n`
          )
        }
        out.write(`safety number with ${clean(v.name)}:\n  ${v.safetyNumber}\n`)
        out.write(v.verified ? `${clean(v.name)} is verified\n` : 'compare it with theirs; if it matches, run again with --confirm\n')
      })
    )
  contact
    .command('remove')
    .description('remove a contact')
    .argument('<name>', 'the contact')
    .action((name: string) =>
      withApi(async (api) => {
        await api.contactRemove(name)
        out.write(`removed ${clean(name)}\n`)
      })
    )

  program
    .command('send')
    .description("send a message to a contact or to a community ('#name', quoted in the shell)")
    .argument('<to>', "contact name or '#community'")
    .argument('<text...>', "the message (words are joined with spaces; '-' reads it from stdin)")
    .option('--json', 'print the stored message as JSON')
    .action((to: string, words: string[], opts: { json?: boolean }) =>
      withApi(async (api) => {
        const text = words.length === 1 && words[0] === '-' ? (await readAll(ctx.stdin)).replace(/\n$/, '') : words.join(' ')
        if (text.trim() === '') throw new UsageError('the message is empty')
        const m = await api.send(to, text)
        if (opts.json) return printJsonLines(out, [m])
        out.write(`${m.id}\n`)
      })
    )

  program
    .command('read')
    .description('show messages (all conversations, or one); --follow waits for new ones')
    .argument('[to]', "contact name or '#community'")
    .option('-f, --follow', 'keep printing new messages until Ctrl-C')
    .option('--limit <n>', 'how many past messages (default 50)', positiveInt)
    .option('--json', 'one JSON object per message per line')
    .action((to: string | undefined, opts: { follow?: boolean; limit?: number; json?: boolean }) =>
      withApi((api) => readMessages(api, ctx, to, opts))
    )

  program
    .command('clear')
    .description("delete this node's copy of a conversation's messages (others keep theirs)")
    .argument('<to>', "contact name or '#community'")
    .option('--older-than <age>', 'only messages stored longer ago than this: a number with s, m, h, d or w (e.g. 30d)', duration)
    .option('--json', 'print {"deleted": n} as JSON')
    .action((to: string, opts: { olderThan?: number; json?: boolean }) =>
      withApi(async (api) => {
        const deleted = await api.clear(to, opts.olderThan)
        if (opts.json) return printJsonLines(out, [{ deleted }])
        out.write(`deleted ${deleted} message${deleted === 1 ? '' : 's'} of ${clean(to)} from this node\n`)
      })
    )

  program
    .command('retention')
    .description("show or set how long this node keeps a conversation's messages (others keep theirs)")
    .argument('<to>', "contact name or '#community'")
    .argument('[age]', "delete messages once stored longer ago than this (e.g. 7d; s, m, h, d or w), or 'off'")
    .option('--json', 'print {"conversation", "retentionMs"} as JSON (0: kept)')
    .action((to: string, age: string | undefined, opts: { json?: boolean }) =>
      withApi(async (api) => {
        const ageMs = age === undefined ? undefined : age === 'off' ? 0 : parseAge(age)
        if (age !== undefined && ageMs === undefined) throw new UsageError(`the age must be 'off' or ${AGE_FORMAT}, not '${clean(age)}'`)
        const retentionMs = await api.retention(to, ageMs)
        if (opts.json) return printJsonLines(out, [{ conversation: to, retentionMs }])
        out.write(`${retentionLine(to, retentionMs)}\n`)
      })
    )

  const community = program.command('community').description('create, join and manage communities')
  community
    .command('create')
    .description('create a community (you are its admin)')
    .argument('<name>', 'its name')
    .option('--json', 'print as JSON')
    .action((name: string, opts: { json?: boolean }) =>
      withApi(async (api) => {
        const c = await api.communityCreate(communityName(name))
        if (opts.json) return printJsonLines(out, [c])
        out.write(`created #${clean(c.name)} (topic ${c.topicId}); invite people with \`sotto community invite ${clean(c.name)}\`\n`)
      })
    )
  community
    .command('invite')
    .description('print an invite to a community (its last line is the code)')
    .argument('<name>', 'the community')
    .action((name: string) =>
      withApi(async (api) => {
        const invite = await api.communityInvite(communityName(name))
        out.write(`anyone holding this invite can read #${clean(communityName(name))} until the key is rotated; share it privately:\n`)
        out.write(`${invite}\n`)
      })
    )
  community
    .command('join')
    .description('join a community from an invite')
    .argument('<invite>', 'the invite code')
    .option('--name <name>', 'local name for the community')
    .option('--json', 'print as JSON')
    .action((invite: string, opts: { name?: string; json?: boolean }) =>
      withApi(async (api) => {
        const c = await api.communityJoin(invite, opts.name === undefined ? undefined : communityName(opts.name))
        if (opts.json) return printJsonLines(out, [c])
        out.write(`joined #${clean(c.name)}\n`)
      })
    )
  community
    .command('list')
    .description('your communities')
    .option('--json', 'one JSON object per community per line')
    .action((opts: { json?: boolean }) =>
      withApi(async (api) => {
        const list = await api.communityList()
        if (opts.json) return printJsonLines(out, list)
        if (list.length === 0) return void out.write('no communities yet: `sotto community create NAME`\n')
        const rows = list.map((c) => [`#${clean(c.name)}`, c.role, String(c.members), String(c.epoch), c.topicId])
        out.write(table([['NAME', 'ROLE', 'MEMBERS', 'EPOCH', 'TOPIC'], ...rows]))
      })
    )
  community
    .command('members')
    .description('the members of a community')
    .argument('<name>', 'the community')
    .option('--json', 'one JSON object per member per line')
    .action((name: string, opts: { json?: boolean }) =>
      withApi(async (api) => {
        const list = await api.communityMembers(communityName(name))
        if (opts.json) return printJsonLines(out, list)
        const rows = list.map((m) => [
          clean(m.name),
          m.role,
          m.fingerprint,
          m.lastSeen === undefined ? '-' : new Date(m.lastSeen).toISOString()
        ])
        out.write(table([['NAME', 'ROLE', 'FINGERPRINT', 'LAST SEEN'], ...rows]))
      })
    )
  community
    .command('leave')
    .description('leave a community')
    .argument('<name>', 'the community')
    .action((name: string) =>
      withApi(async (api) => {
        await api.communityLeave(communityName(name))
        out.write(`left #${clean(communityName(name))}\n`)
      })
    )
  community
    .command('rotate')
    .description('rotate the community key (admins); --remove locks a member out of what follows')
    .argument('<name>', 'the community')
    .option('--remove <member>', 'member to remove')
    .option('--json', 'print as JSON')
    .action((name: string, opts: { remove?: string; json?: boolean }) =>
      withApi(async (api) => {
        const c = await api.communityRotate(communityName(name), opts.remove)
        if (opts.json) return printJsonLines(out, [c])
        const removed = opts.remove ? `, ${clean(opts.remove)} removed` : ''
        out.write(`#${clean(c.name)} is at epoch ${c.epoch}${removed}\n`)
      })
    )
  community
    .command('promote')
    .description('make a member an admin (admins)')
    .argument('<name>', 'the community')
    .argument('<member>', 'the member')
    .option('--json', 'print as JSON')
    .action((name: string, member: string, opts: { json?: boolean }) =>
      withApi(async (api) => {
        const m = await api.communityPromote(communityName(name), member)
        if (opts.json) return printJsonLines(out, [m])
        out.write(`${clean(m.name)} is now an ${m.role} of #${clean(communityName(name))}\n`)
      })
    )

  const relay = program
    .command('relay')
    .description('run an always-on relay that keeps and serves ciphertext of the topics it is given (it can read none)')
    .option('--home <dir>', 'the relay\'s own data directory (default: <data directory>/relay)')
    .option('--listen <multiaddr>', 'listen address (repeatable; default /ip4/0.0.0.0/tcp/0)', collect, [])
    .option('--bootstrap <multiaddr>', 'peer to connect to first, with /p2p/ id (repeatable)', collect, [])
    .option('--serve <topicId>', 'community topic id to keep and serve (repeatable; `sotto community list` shows it)', collect, [])
    .option('--open', 'also serve topics that any peer asks for (default: only --serve and --allow peers)')
    .option('--allow <peerId>', 'peer whose requests to serve topics are accepted (repeatable)', collect, [])
    .option('--mdns', 'discover peers on the local network (off by default for a relay)')
    .option('--json', 'print events as JSON lines')
    .action(
      async (opts: {
        home?: string
        listen: string[]
        bootstrap: string[]
        serve: string[]
        open?: boolean
        allow: string[]
        mdns?: boolean
        json?: boolean
      }) => {
        const app = await ctx.loadApp()
        if (typeof app.runRelay !== 'function') throw new CliError('the relay is not available in this version of sotto yet')
        const dir = opts.home === undefined ? join(home(), 'relay') : resolve(opts.home)
        await ensureHome(dir)
        const handle = await app.runRelay({
          home: dir,
          listen: opts.listen.length > 0 ? opts.listen : undefined,
          bootstrap: opts.bootstrap,
          serve: opts.serve,
          open: opts.open === true,
          allow: opts.allow,
          mdns: opts.mdns === true,
          // Without a passphrase the relay keeps a random store key in <dir>/relay.key (0600).
          passphrase: ctx.env.SOTTO_PASSPHRASE || undefined,
          argon2: argon2FromEnv(ctx.env)
        }).catch((err: unknown) => {
          throw listenError(err) ?? err
        })
        const status = await handle.status()
        if (opts.json) {
          printJsonLines(out, [{ event: 'ready', peerId: handle.peerId, addresses: handle.addresses, home: dir, topics: status.topics.length }])
        } else {
          out.write(
            `sotto relay ready: peer ${handle.peerId} on ${handle.addresses.join(' ') || '(no addresses)'}, ` +
              `serving ${status.topics.length} topic${status.topics.length === 1 ? '' : 's'}${status.open ? ' (open)' : ''}\n`
          )
        }
        await interrupted(ctx)
        await stopping(ctx, () => handle.stop())
        if (opts.json) printJsonLines(out, [{ event: 'stopped' }])
        else out.write('sotto relay stopped\n')
      }
    )
  relay
    .command('use')
    .description('tell your daemon to use a relay (its multiaddr with /p2p/ id)')
    .argument('<multiaddr>', 'the relay')
    .action((address: string) =>
      withApi(async (api) => {
        // A cheap shape check for a clear message; the app parses it fully.
        if (!/^(\/[^/\s]+\/[^/\s]+)+$/.test(address) || !address.includes('/p2p/')) {
          throw new CliError(`not a relay address: ${address} (expected a multiaddr with /p2p/, e.g. /ip4/203.0.113.7/tcp/4001/p2p/12D3KooW...)`)
        }
        const relays = await api.relayUse(address)
        out.write(`using ${relays.length} relay${relays.length === 1 ? '' : 's'}:\n`)
        for (const r of relays) out.write(`  ${r}\n`)
      })
    )

  program
    .command('chat')
    .description('the interactive chat screen (Tab switches conversations, /help lists commands)')
    .argument('[to]', 'conversation to open first')
    .option('--plain', 'line mode without screen drawing (the default when not on a terminal)')
    .action((to: string | undefined, opts: { plain?: boolean }) =>
      withApi(async (api) => {
        const tty = ctx.stdout.isTTY === true && ctx.stdin.isTTY === true && opts.plain !== true
        await runChat(api, {
          input: ctx.stdin,
          output: ctx.stdout,
          tty,
          onInterrupt: ctx.onInterrupt
        }, { to })
      })
    )

  program
    .command('demo')
    .description('start several real nodes on this machine and show them talking (then clean up)')
    .option('--nodes <n>', 'how many nodes (3 or more)', positiveInt, 3)
    .action(async (opts: { nodes: number }) => {
      if (opts.nodes < 3) throw new UsageError('the demo needs at least 3 nodes')
      const app = await ctx.loadApp()
      const ok = await runDemo(app, { out, nodes: opts.nodes })
      if (!ok) throw new CliError('the demo failed (see the step marked ✗ above)')
    })

  return program
}

/** Resolves on the first SIGINT/SIGTERM. */
function interrupted(ctx: CliContext): Promise<void> {
  return new Promise<void>((resolve) => {
    const detach = ctx.onInterrupt(() => {
      detach()
      resolve()
    })
  })
}

/** Runs a clean stop; a second SIGINT/SIGTERM meanwhile gives up waiting and exits at once. */
async function stopping(ctx: CliContext, stop: () => Promise<void>): Promise<void> {
  const detach = ctx.onInterrupt(() => {
    ctx.stderr.write('sotto: stopping without waiting\n')
    process.exit(ExitCode.error)
  })
  try {
    await stop()
  } finally {
    detach()
  }
}

/** How often the daemon looks at sync progress to report catching up. */
const SYNC_REPORT_MS = 2000

/**
 * Reports sync progress while the node catches up (quiet otherwise): one line when catching up starts
 * or advances, one when it is done. Returns the interval to clear.
 */
function watchSync(api: SottoApi, report: (line: string, event: object) => void): NodeJS.Timeout {
  let last = ''
  let catching = false
  const timer = setInterval(() => {
    api
      .status()
      .then(({ sync }) => {
        if (sync.envelopesToFetch > sync.envelopesFetched) {
          const key = `${sync.envelopesFetched}/${sync.envelopesToFetch}`
          if (key === last) return
          last = key
          catching = true
          report(`catching up: ${key} envelopes (${sync.bytesFetched}/${sync.bytesToFetch} bytes)`, { event: 'sync', ...sync })
        } else if (catching) {
          catching = false
          last = ''
          report('caught up', { event: 'synced', ...sync })
        }
      })
      .catch((err: unknown) => log('status failed %e', err))
  }, SYNC_REPORT_MS)
  timer.unref()
  return timer
}

/** `sotto read`: history, then with --follow new messages until interrupted. */
async function readMessages(
  api: ApiConnection,
  ctx: CliContext,
  to: string | undefined,
  opts: { follow?: boolean; limit?: number; json?: boolean }
): Promise<void> {
  const out = ctx.stdout
  const seen = new Map<string, MessageStatus>()
  const emit = (m: MessageView): void => {
    if (to !== undefined && m.conversation !== to) return
    const previous = seen.get(m.id)
    if (previous !== undefined && statusRank(m.status) <= statusRank(previous)) return
    const isNew = previous === undefined
    seen.set(m.id, m.status)
    // JSON streams every change (a status change repeats the id); humans see each message once.
    if (opts.json) printJsonLines(out, [m])
    else if (isNew) out.write(messageLine(m, to === undefined) + '\n')
  }
  if (!opts.follow) {
    const history = await api.read(to, opts.limit)
    for (const m of history) emit(m)
    if (to !== undefined) await api.markRead(to)
    return
  }
  let live = false
  const early: MessageView[] = []
  const unsubscribe = api.subscribe((m) => {
    if (!live) return void early.push(m)
    emit(m)
    if (to !== undefined && m.from !== 'me' && m.status === 'received') api.markRead(to).catch(() => {})
  })
  try {
    await api.subscribed()
    const history = await api.read(to, opts.limit)
    for (const m of history) emit(m)
    for (const m of early) emit(m)
    live = true
    if (to !== undefined) await api.markRead(to)
    const reason = await new Promise<'closed' | 'interrupted'>((resolve) => {
      const detach = ctx.onInterrupt(() => {
        detach()
        resolve('interrupted')
      })
      api.onClose(() => {
        detach()
        resolve('closed')
      })
    })
    if (reason === 'closed') throw new DaemonNotRunningError('the daemon stopped')
  } finally {
    unsubscribe()
  }
}

/** Largest message read from stdin by `send TO -` (the app enforces its own limit below this). */
const MAX_STDIN_BYTES = 1024 * 1024

/** Reads a stream to its end as UTF-8, refusing more than MAX_STDIN_BYTES. */
async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stream) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += bytes.length
    if (size > MAX_STDIN_BYTES) throw new UsageError(`the message on stdin is longer than ${MAX_STDIN_BYTES} bytes`)
    chunks.push(bytes)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function qr(text: string): Promise<string> {
  return import('qrcode-terminal').then(
    ({ default: qrcode }) => new Promise<string>((resolve) => qrcode.generate(text, { small: true }, (s) => resolve(s + '\n')))
  )
}

/** Runs the command line `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], ctx: CliContext): Promise<number> {
  const program = buildProgram(ctx)
  try {
    await program.parseAsync([...argv], { from: 'user' })
    return ExitCode.ok
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return ExitCode.ok
      // A group without a subcommand shows its help on stderr (commander.help): usage too.
      return ExitCode.usage
    }
    log.error('command failed %e', err)
    ctx.stderr.write(`sotto: ${errorLine(err)}\n`)
    return exitCodeFor(err)
  }
}

