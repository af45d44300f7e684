// 1:1 messages through a relay, when sender and recipient are never online together. Real nodes on
// 127.0.0.1 TCP, real LevelDB stores (Argon2id: TEST_ARGON2, a test-only setting).
import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { RelayTopicStatus, requestRelayService } from '../../src/node/relay-protocol.js'
import { inboxTopic, prekeyRecordKey } from '../../src/protocol/index.js'
import { type TestUser, tempHome, waitForMessage } from './helpers.js'
import { filesContaining, Running, relayCount } from './relay-helpers.js'

async function signingKey(user: TestUser): Promise<Uint8Array> {
  return IdentityKeyPair.deserialize((await user.store.getIdentity())!).publicKey.signingKey
}

describe('1:1 through a relay', () => {
  const running = new Running()
  const user = running.user.bind(running)


  it('a message sent while the recipient is offline, the sender then going offline, reaches the recipient', { timeout: 90_000 }, async () => {
    const canary = `canary${randomBytes(6).toString('hex')}`
    const relay = await running.relay({ open: true })
    const bob = await user('bob', relay.addresses)
    const bobKey = await signingKey(bob)
    const inbox = inboxTopic(bobKey)
    await bob.relayUse(relay.addresses[0]!)
    await expect.poll(async () => (await relay.status()).topics.map((t) => t.topic), { timeout: 10_000 }).toEqual([inbox])
    // Bob's prekey bundle is in the relay's DHT before he leaves (his node places it there when it has DHT
    // peers; the test waits for that by placing the same record itself and counting who took it).
    await bob.node.waitForDhtPeers(1, AbortSignal.timeout(10_000))
    let bundle: Uint8Array | undefined
    await expect
      .poll(async () => (bundle = await bob.node.getRecord(prekeyRecordKey(bobKey), { timeoutMs: 1_000 })), { timeout: 10_000 })
      .toBeDefined()
    await expect.poll(() => bob.node.putRecord(prekeyRecordKey(bobKey), bundle!, { timeoutMs: 2_000 }), { timeout: 20_000 }).toBe(1)
    const invite = (await bob.id()).invite
    await running.stop(bob)

    // Alice knows nobody: bob's invite names his relay, and that is enough.
    const alice = await user('alice', [])
    await alice.contactAdd(invite, 'bob')
    const sent = await alice.send('bob', `hello ${canary}`)
    // The relay holds her profile and her message on bob's inbox topic; her outbox saw someone take it.
    await expect.poll(() => relayCount(relay, inbox), { timeout: 30_000 }).toBe(2)
    await waitForMessage(alice, (m) => m.id === sent.id && m.status === 'sent', 10_000)
    await running.stop(alice)

    const back = await user('bob', [], bob.home)
    const got = await waitForMessage(back, (m) => m.id === sent.id, 30_000)
    expect(got.text).toBe(`hello ${canary}`)
    // Her profile came the same way (in either order with the text): bob lists her by her name.
    await expect.poll(async () => (await back.contactList()).map((c) => c.name), { timeout: 10_000 }).toEqual(['alice'])
    expect((await back.read('alice', 100)).map((m) => [m.id, m.from])).toEqual([[sent.id, 'alice']])

    await relay.stop()
    expect(await filesContaining(relay.home, [canary])).toEqual([])
  })

  it('the plaintext search finds a canary that a plain LevelDB holds (control for the relay checks)', async () => {
    const canary = `canary${randomBytes(6).toString('hex')}`
    const dir = await tempHome('sotto-control-')
    const db = new ClassicLevel<string, string>(join(dir, 'db'))
    for (let i = 0; i < 2000; i++) await db.put(`k${i}`, `${randomBytes(100).toString('base64')}${i === 1234 ? canary : ''}`)
    await db.close()
    expect((await filesContaining(dir, [canary])).length).toBeGreaterThan(0)
  })

  it('a relay that is not open serves only the topics it was given; an allowed peer may ask', { timeout: 30_000 }, async () => {
    const allowed = await running.relay({})
    const bob = await user('bob', allowed.addresses)
    const inbox = inboxTopic(await signingKey(bob))
    await bob.node.dial(allowed.addresses[0]!)
    expect(await requestRelayService(bob.node, allowed.peerId, [inbox, 'not a topic'])).toEqual([
      RelayTopicStatus.NotAllowed,
      RelayTopicStatus.Refused
    ])
    expect((await allowed.status()).topics).toEqual([])

    const open = await running.relay({ allow: [bob.node.peerId], quotas: { maxTopicsPerPeer: 1 } })
    await bob.node.dial(open.addresses[0]!)
    const other = inboxTopic(new Uint8Array(32).fill(7))
    expect(await requestRelayService(bob.node, open.peerId, [inbox, other])).toEqual([RelayTopicStatus.Served, RelayTopicStatus.OverQuota])
    expect((await open.status()).topics.map((t) => [t.topic, t.leases])).toEqual([[inbox, 1]])
  })
})
