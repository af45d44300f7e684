/**
 * `sotto demo`: several real nodes on this machine (real libp2p over TCP 127.0.0.1, real LevelDB in
 * temporary directories), in one process, through the same app API the daemon serves. Each step says
 * what it shows in plain words and checks it; the first step that fails is marked ✗ and the demo
 * returns false (the command then exits non-zero). Temporary directories are removed at the end.
 *
 * The demo's identities use the minimum Argon2id limits (they are thrown away after a minute); real
 * identities use the app's defaults.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { MessageView, SottoApp } from '../app/api.js'
import type { AppModule } from './app-module.js'
import { mark, type Out } from './output.js'

/** Options of `runDemo`. */
export interface DemoOptions {
  out: Out
  /** Number of nodes (at least 3: alice, bob, carol; more only add peers). */
  nodes: number
  /** How long each step may take before it counts as failed (default 60 s). */
  stepTimeoutMs?: number
}

const NAMES = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi']
const DEMO_ARGON2 = { opsLimit: 1, memLimit: 8192 }
const PASSPHRASE = 'demo passphrase (thrown away)'

class StepFailed extends Error {}

interface DemoNode {
  name: string
  home: string
  app: SottoApp | undefined
}

/** Runs the demo; resolves true when every step passed. */
export async function runDemo(appModule: AppModule, options: DemoOptions): Promise<boolean> {
  const { out } = options
  const timeout = options.stepTimeoutMs ?? 60_000
  const say = (text: string): void => void out.write(text + '\n')
  const root = await mkdtemp(join(tmpdir(), 'sotto-demo-'))
  const nodes: DemoNode[] = []
  for (let i = 0; i < options.nodes; i++) {
    const name = NAMES[i] ?? `node${i + 1}`
    nodes.push({ name, home: join(root, name), app: undefined })
  }
  const [alice, bob, carol] = nodes as [DemoNode, DemoNode, DemoNode]
  const app = (n: DemoNode): SottoApp => {
    if (n.app === undefined) throw new StepFailed(`${n.name}'s node is not running`)
    return n.app
  }
  let bootstrap: string[] = []
  const open = async (n: DemoNode, first: boolean): Promise<void> => {
    n.app = await appModule.openSotto({
      home: n.home,
      passphrase: PASSPHRASE,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      bootstrap: first ? [] : bootstrap,
      mdns: false,
      argon2: DEMO_ARGON2
    })
  }

  /** Polls `check` until it returns a value (not undefined), or fails the step after the timeout. */
  const waitFor = async <T>(what: string, check: () => Promise<T | undefined>): Promise<T> => {
    const deadline = Date.now() + timeout
    for (;;) {
      const value = await check()
      if (value !== undefined) return value
      if (Date.now() > deadline) throw new StepFailed(`timed out waiting for ${what}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }
  const received = (n: DemoNode, conversation: string, text: string): Promise<MessageView> =>
    waitFor(`${n.name} to receive "${text}"`, async () =>
      (await app(n).read(conversation, 200)).find((m) => m.text === text && m.from !== 'me')
    )
  const delivered = (n: DemoNode, conversation: string, id: string): Promise<MessageView> =>
    waitFor(`delivery of ${id.slice(0, 8)}`, async () =>
      (await app(n).read(conversation, 200)).find((m) => m.id === id && (m.status === 'delivered' || m.status === 'read'))
    )

  let step = 0
  const run = async (title: string, body: () => Promise<void>): Promise<void> => {
    step++
    say(`\n${step}. ${title}`)
    await body()
  }

  say(`sotto demo: ${nodes.length} nodes on this machine, data in ${root} (removed at the end)`)
  try {
    await run('Creating identities', async () => {
      for (const n of nodes) {
        const id = await appModule.initSotto({ home: n.home, passphrase: PASSPHRASE, name: n.name, argon2: DEMO_ARGON2 })
        say(`   ${n.name}: identity key fingerprint ${id.fingerprint}`)
      }
    })

    await run('Starting the nodes and letting them find each other', async () => {
      await open(alice, true)
      const aliceId = await app(alice).id()
      bootstrap = aliceId.addresses
        .filter((a) => a.includes('/127.0.0.1/'))
        .map((a) => (a.includes('/p2p/') ? a : `${a}/p2p/${aliceId.peerId}`))
      if (bootstrap.length === 0) throw new StepFailed(`alice has no loopback address (${aliceId.addresses.join(', ')})`)
      say(`   alice listens on ${bootstrap[0]}`)
      for (const n of nodes.slice(1)) await open(n, false)
      for (const n of nodes) {
        const peers = await waitFor(`${n.name} to see a peer`, async () => {
          const s = await app(n).status()
          return s.peers > 0 ? s.peers : undefined
        })
        say(`   ✓ ${n.name} is connected to ${peers} peer${peers === 1 ? '' : 's'}`)
      }
    })

    await run('alice and bob add each other by invite', async () => {
      const bobId = await app(bob).id()
      const aliceId = await app(alice).id()
      say(`   bob's invite: ${bobId.invite.slice(0, 40)}…`)
      const b = await app(alice).contactAdd(bobId.invite, 'bob')
      say(`   ✓ alice added bob (fingerprint ${b.fingerprint})`)
      const a = await app(bob).contactAdd(aliceId.invite, 'alice')
      say(`   ✓ bob added alice (fingerprint ${a.fingerprint})`)
    })

    await run('A private conversation, end-to-end encrypted', async () => {
      const hello = 'Hi Bob! This is Alice, over sotto.'
      const sent = await app(alice).send('bob', hello)
      say(`   alice → bob: "${hello}" ${mark(sent)}`)
      const got = await received(bob, 'alice', hello)
      say(`   ✓ bob received it from ${got.from}`)
      await delivered(alice, 'bob', sent.id)
      say('   ✓ alice sees it delivered ✓✓')
      const reply = 'Hello Alice, loud and clear.'
      await app(bob).send('alice', reply)
      await received(alice, 'bob', reply)
      say(`   ✓ bob → alice: "${reply}" arrived`)
    })

    await run('A community: alice creates #garden, carol and bob join by invite', async () => {
      const c = await app(alice).communityCreate('garden')
      say(`   alice created #garden (topic ${c.topicId.slice(0, 16)}…)`)
      const invite = await app(alice).communityInvite('garden')
      await app(carol).communityJoin(invite)
      say('   ✓ carol joined #garden')
      await app(bob).communityJoin(invite)
      say('   ✓ bob joined #garden')
      const first = 'Welcome to the garden, everyone.'
      await app(alice).send('#garden', first)
      await received(carol, '#garden', first)
      await received(bob, '#garden', first)
      say(`   ✓ alice → #garden: "${first}" reached carol and bob`)
      const second = 'Thanks! Carol here.'
      await app(carol).send('#garden', second)
      await received(alice, '#garden', second)
      say(`   ✓ carol → #garden: "${second}" reached alice`)
    })

    await run('bob goes offline, misses messages, and catches up when he is back', async () => {
      await app(bob).stop()
      bob.app = undefined
      say('   bob stopped his node')
      const direct = 'Bob, call me when you are back.'
      const group = 'Bob missed this one in the garden.'
      await app(alice).send('bob', direct)
      await app(carol).send('#garden', group)
      say('   alice wrote to bob and carol wrote to #garden while bob was away')
      await open(bob, false)
      say('   bob started his node again')
      await received(bob, 'alice', direct)
      say(`   ✓ bob caught up with alice's message: "${direct}"`)
      await received(bob, '#garden', group)
      say(`   ✓ bob caught up with #garden: "${group}"`)
    })
    say('\nAll steps passed.')
    return true
  } catch (err) {
    say(`   ✗ ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`)
    return false
  } finally {
    say('Stopping the nodes and removing their data.')
    await Promise.all(nodes.map((n) => n.app?.stop().catch(() => {})))
    await rm(root, { recursive: true, force: true })
  }
}
