/** Shared set-up of the relay integration tests: a relay in a temp dir, batched posting, checks on history. */
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { afterEach, expect } from 'vitest'
import { type RelayHandle, type RelayOptions, runRelay } from '../../src/app/relay.js'
import { fromHex } from '../../src/crypto/primitives.js'
import { communityTopic } from '../../src/protocol/index.js'
import { cleanup, startUser, type TestUser, tempHome } from './helpers.js'

/**
 * What one describe block has running: users and relays started through it are stopped, and the temp dirs
 * removed, after each test. Create it inside `describe` (it registers the afterEach hook).
 */
export class Running {
  readonly #all: Array<{ stop(): Promise<void> }> = []

  constructor() {
    afterEach(async () => {
      await Promise.all(this.#all.splice(0).map((u) => u.stop().catch(() => undefined)))
      await cleanup()
    })
  }

  /** Keeps `thing` to stop after the test; returns it. */
  add<T extends { stop(): Promise<void> }>(thing: T): T {
    this.#all.push(thing)
    return thing
  }

  /** Starts a user (startUser) kept to stop after the test. */
  async user(name: string, bootstrap: string[], home?: string): Promise<TestUser> {
    return this.add(await startUser(name, bootstrap, home))
  }

  /** Starts a relay (startRelay) kept to stop after the test. */
  async relay(options: Partial<RelayOptions> = {}): Promise<RelayHandle & { home: string }> {
    return this.add(await startRelay(options))
  }

  /** Stops `thing` now (a user going offline); it is no longer stopped after the test. */
  async stop(thing: { stop(): Promise<void> }): Promise<void> {
    const i = this.#all.indexOf(thing)
    if (i >= 0) this.#all.splice(i, 1)
    await thing.stop()
  }
}

/** Starts a relay on 127.0.0.1 in a new temp data directory (removed by cleanup()). */
export async function startRelay(options: Partial<RelayOptions> = {}): Promise<RelayHandle & { home: string }> {
  const home = options.home ?? (await tempHome('sotto-relay-'))
  const relay = await runRelay({ listen: ['/ip4/127.0.0.1/tcp/0'], syncIntervalMs: 2_000, ...options, home })
  return Object.assign(relay, { home })
}

/** Envelopes the relay holds on one topic. */
export async function relayCount(relay: RelayHandle, topic: string): Promise<number> {
  return (await relay.status()).topics.find((t) => t.topic === topic)?.envelopes ?? 0
}

/** Posts `count` messages `${prefix}-${i}` (i = 0..count-1) to a conversation, `batch` sends at a time. */
export async function post(user: TestUser, to: string, prefix: string, count: number, batch = 50): Promise<string[]> {
  const ids: string[] = []
  for (let b = 0; b < count; b += batch) {
    const n = Math.min(batch, count - b)
    const sent = await Promise.all(Array.from({ length: n }, (_, k) => user.send(to, `${prefix}-${b + k}`)))
    ids.push(...sent.map((s) => s.id))
  }
  return ids
}

/**
 * Checks a conversation's history: exactly the expected ids, each once, and each sender's messages in the
 * order they were sent (texts `${prefix}-${i}` with increasing i).
 */
export async function expectHistory(user: TestUser, to: string, expectedIds: string[]): Promise<void> {
  const history = await user.read(to, 10_000)
  const ids = history.map((m) => m.id)
  expect(ids.length).toBe(expectedIds.length)
  expect(new Set(ids).size).toBe(ids.length)
  expect([...ids].sort()).toEqual([...expectedIds].sort())
  const last = new Map<string, number>()
  for (const m of history) {
    const dash = m.text.lastIndexOf('-')
    const prefix = m.text.slice(0, dash)
    const i = Number(m.text.slice(dash + 1))
    expect(i).toBeGreaterThan(last.get(prefix) ?? -1)
    last.set(prefix, i)
  }
}

/** Every file under `dir` (recursively) that contains one of `needles` as UTF-8 bytes. */
export async function filesContaining(dir: string, needles: string[]): Promise<string[]> {
  const hits: string[] = []
  const patterns = needles.map((n) => Buffer.from(n, 'utf8'))
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue
    const path = join(entry.parentPath, entry.name)
    const bytes = await readFile(path)
    if (patterns.some((p) => bytes.includes(p))) hits.push(path)
  }
  return hits
}

/** How many messages a user holds in a community (a cheap count, for polling: no views are built). */
export async function communityCount(user: TestUser, name: string): Promise<number> {
  const c = (await user.store.listCommunities()).find((x) => x.name === name)
  return c === undefined ? 0 : user.store.countMessages(c.id)
}

/**
 * The set-up both "killed mid-sync" tests share: an admin and a poster post `perPoster` messages each into
 * #lobby while the member is away, a relay keeps them all, then the posters stop. The member's data dir is
 * returned, with the ids posted; only the relay (left running in `running`) holds the history then.
 */
export async function relayOnlyHistory(
  running: Running,
  prefix: string,
  perPoster: number
): Promise<{ relay: RelayHandle & { home: string }; topic: string; home: string; ids: string[] }> {
  const admin = await running.user('p0', [])
  await admin.communityCreate('lobby')
  const topicId = (await admin.communityList())[0]!.topicId
  const topic = communityTopic(fromHex(topicId))
  const relay = await running.relay({ serve: [topicId], bootstrap: admin.node.addresses() })
  const poster = await running.user('p1', relay.addresses)
  const member = await running.user('member', relay.addresses)
  const invite = await admin.communityInvite('lobby')
  await poster.communityJoin(invite)
  await member.communityJoin(invite)
  await expect.poll(() => relayCount(relay, topic), { timeout: 20_000 }).toBe(2)
  const home = member.home
  await running.stop(member)

  const ids = (await Promise.all([admin, poster].map((u, k) => post(u, '#lobby', `${prefix}-p${k}`, perPoster)))).flat()
  await expect.poll(() => relayCount(relay, topic), { timeout: 60_000, interval: 500 }).toBe(2 * perPoster + 2)
  for (const u of [admin, poster]) await running.stop(u)
  return { relay, topic, home, ids }
}
