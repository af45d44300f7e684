// Attacks 1, 4, 5, 9, 10, 11, 12 and 15 (the node keeps working) against real users: real libp2p nodes on
// 127.0.0.1 and real LevelDB stores (test/integration/helpers.ts). Alice is the admin of #club; Bob and
// Mallory are members; Mallory turns bad. Eve is a bare sotto node (no keys, no validator) that connects
// to Bob and publishes whatever she likes. Tests run in order and share the users.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CommunityEpoch, createReceiverState, openCommunityMessage, SenderChainState, sealCommunityMessage, verifyCommunityEnvelope } from '../../src/crypto/community.js'
import { createAdminAddStatement, encodeControlStatement } from '../../src/crypto/community-control.js'
import { IdentityKeyPair, IdentityPublicKey } from '../../src/crypto/identity.js'
import { pad } from '../../src/crypto/padding.js'
import { PrekeyBundle } from '../../src/crypto/prekeys.js'
import { fromHex, randomBytes, toHex, utf8 } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import { InitialHeader, initiateSession } from '../../src/crypto/x3dh.js'
import { IdentityChangedError, NotAllowedError } from '../../src/app/index.js'
import { createSottoNode, messageId, type NodeMessage, type SottoNode } from '../../src/node/index.js'
import {
  coarseTimestamp,
  communityTopic,
  decodeEnvelope,
  decodePrekeyRecord,
  encodeContent,
  encodeEnvelope,
  envelopeId,
  inboxTopic,
  PREKEY_RECORD_NAMESPACE,
  parseInvite,
  prekeyRecordKey,
  selectPrekeyRecord,
  validatePrekeyRecord
} from '../../src/protocol/index.js'
import { forge, sender } from '../crypto/community-helpers.js'
import { cleanup, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'
import { until } from './helpers.js'

const users: TestUser[] = []
let alice: TestUser
let bob: TestUser
let mallory: TestUser
let eve: SottoNode
/** Every message Bob's node accepted from gossip (after its validator), in order. */
const atBob: NodeMessage[] = []
const atAlice: NodeMessage[] = []
/** Every message view Bob's app emitted. */
const shownToBob: string[] = []

/** Eve joins a topic and waits until Bob is her topic peer. */
async function eveOn(topic: string): Promise<void> {
  if (!eve.topics().includes(topic)) eve.subscribe(topic)
  await eve.waitForTopicPeers(topic, 1, AbortSignal.timeout(10_000))
}

/** Eve publishes on a topic; resolves once Bob's node accepted it and Bob's app has processed it. */
async function evePublishAccepted(topic: string, data: Uint8Array): Promise<void> {
  const id = toHex(messageId(topic, data))
  const seen = bob.node.once('message', (m) => m.id === id, AbortSignal.timeout(10_000))
  // When a check below fails first, `seen` still rejects once its time is up: handled, not an unhandled rejection.
  seen.catch(() => undefined)
  const res = await eve.publish(topic, data)
  expect(res.recipients).toBeGreaterThan(0)
  await seen
  await flush(bob)
}

/** Waits until every envelope queued on a user's serial queue before now has been handled. */
async function flush(user: TestUser): Promise<void> {
  await user.markRead('alice').catch(() => user.markRead('#club'))
}

const texts = async (user: TestUser, conversation: string): Promise<string[]> => (await user.read(conversation, 1000)).map((m) => m.text)

async function identityOf(user: TestUser): Promise<IdentityKeyPair> {
  return IdentityKeyPair.deserialize((await user.store.getIdentity())!)
}

async function epochOf(user: TestUser, name = 'club'): Promise<{ epoch: CommunityEpoch; id: string }> {
  const c = (await user.store.getCommunityByName(name))!
  return { epoch: CommunityEpoch.deserialize((await user.store.getEpochKey(c.id, c.epoch))!), id: c.id }
}

/** The community topic as a user sees it now. */
async function clubTopic(user: TestUser): Promise<string> {
  return communityTopic((await epochOf(user)).epoch.topicId)
}

beforeAll(async () => {
  alice = await startUser('alice')
  bob = await startUser('bob', alice.node.addresses())
  mallory = await startUser('mallory', alice.node.addresses())
  users.push(alice, bob, mallory)
  bob.node.on('message', (m) => atBob.push(m))
  alice.node.on('message', (m) => atAlice.push(m))
  bob.subscribe((m) => shownToBob.push(m.id))
  // Alice and Bob talk 1:1 in both directions.
  await alice.contactAdd((await bob.id()).invite, 'bob')
  const hello = await alice.send('bob', 'hello bob')
  await waitForMessage(bob, (m) => m.id === hello.id)
  await until(async () => (await bob.contactList()).some((c) => c.name === 'alice'), 15_000, "alice's profile at bob")
  await bob.contactAccept('alice')
  await waitForMessage(alice, (m) => m.id === hello.id && m.status === 'delivered')
  // The community: Alice admin, Bob and Mallory members who have announced themselves.
  await alice.communityCreate('club')
  const invite = await alice.communityInvite('club')
  await bob.communityJoin(invite)
  await mallory.communityJoin(invite)
  await until(async () => (await alice.communityMembers('club')).length === 3, 15_000, 'three members')
  await until(async () => (await bob.communityMembers('club')).some((m) => m.name === 'mallory'), 15_000, 'bob to know mallory')
  // Eve: a bare node on the network, connected to Bob only, with the DHT record type (to read bundles).
  eve = await createSottoNode({
    listen: ['/ip4/127.0.0.1/tcp/0'],
    mdns: false,
    records: { [PREKEY_RECORD_NAMESPACE]: { validate: (k, v) => void validatePrekeyRecord(k, v), select: (k, v) => selectPrekeyRecord(k, v) } }
  })
  await eve.start()
  await eve.dial(bob.node.addresses()[0]!)
  // Eve reads Bob's prekey record over the DHT (attack 4): Bob must be in her routing table first, which
  // kad-dht fills only after it has pinged him.
  await eve.waitForDhtPeers(1, AbortSignal.timeout(15_000))
}, 60_000)

afterAll(async () => {
  await eve?.stop()
  await Promise.all(users.map((u) => u.stop()))
  await cleanup()
})

describe('attacks on real users', () => {
  it('attack 1: a replayed 1:1 or community message is rejected and shown once at most', async () => {
    // 1:1: capture Alice's envelope as it reaches Bob.
    const before = atBob.length
    const sent = await alice.send('bob', 'replay me')
    await waitForMessage(bob, (m) => m.id === sent.id)
    const direct = atBob.slice(before).find((m) => m.topic.startsWith('/sotto/1/d/'))!
    expect(direct).toBeDefined()
    // Community: capture Alice's post.
    const before2 = atBob.length
    const post = await alice.send('#club', 'replay me too')
    await waitForMessage(bob, (m) => m.id === post.id)
    const club = atBob.slice(before2).find((m) => m.topic.startsWith('/sotto/1/c/'))!
    expect(club).toBeDefined()

    for (const captured of [direct, club]) {
      await eveOn(captured.topic)
      // The same bytes again: gossip and the app's seen-ids drop it.
      await eve.publish(captured.topic, captured.data)
      // Re-wrapped with a later timestamp: a new envelope id, so only the crypto layer can tell.
      const env = decodeEnvelope(captured.data)
      const rewrapped = encodeEnvelope({ ...env, timestamp: env.timestamp + 1000 })
      await evePublishAccepted(captured.topic, rewrapped)
      expect(await bob.store.getEnvelope(utf8(captured.topic), envelopeId(rewrapped))).toBeUndefined()
    }
    expect((await texts(bob, 'alice')).filter((t) => t === 'replay me')).toHaveLength(1)
    expect((await texts(bob, '#club')).filter((t) => t === 'replay me too')).toHaveLength(1)
    expect(shownToBob.filter((id) => id === sent.id)).toHaveLength(1)
    expect(shownToBob.filter((id) => id === post.id)).toHaveLength(1)
  })

  it("attack 4: a first message claiming Alice's identity but set up with another key is rejected, and Bob's session with Alice keeps working", { timeout: 60_000 }, async () => {
    const bobKey = (await identityOf(bob)).publicKey.signingKey
    // getRecord returns when its DHT query ends: Bob answers first, but the query goes on to the peers he
    // names (Eve dials Alice and Mallory), 3.5-4 s of a single 5 s limit on a starved CPU. Asked again until
    // found, with a limit that is not the whole budget.
    let record: Uint8Array | undefined
    await until(async () => (record = await eve.getRecord(prekeyRecordKey(bobKey), { timeoutMs: 10_000 })) !== undefined, 40_000, "Bob's prekey record at Eve")
    const bundle = PrekeyBundle.decode(decodePrekeyRecord(record!))
    // Eve runs a real X3DH/PQXDH with her own identity, then seals a header naming Alice with the same
    // ephemeral key and prekeys: Bob will derive the session from Alice's identity key, which Eve lacks.
    const eveId = IdentityKeyPair.generate()
    const drawn: Uint8Array[] = []
    const setup = initiateSession(eveId, bundle, {
      random: (n) => {
        const b = randomBytes(n)
        drawn.push(b)
        return b
      }
    })
    const h = setup.initialHeader
    const aliceInvite = parseInvite((await alice.id()).invite)
    if (aliceInvite.type !== 'contact') throw new Error('expected a contact invite')
    const claimed = InitialHeader.create({
      initiator: IdentityPublicKey.deserialize(aliceInvite.invite.identity.serialize()),
      ephemeralPrivateKey: drawn[0]!,
      signedPrekey: { id: bundle.signedPrekey.id, publicKey: bundle.signedPrekey.publicKey },
      ...(h.oneTimePrekeyId !== undefined ? { oneTimePrekeyId: h.oneTimePrekeyId } : {}),
      ...(h.pqPrekeyId !== undefined ? { pqPrekeyId: h.pqPrekeyId, kemCiphertext: h.kemCiphertext! } : {})
    })
    expect(claimed.ephemeralKey).toEqual(h.ephemeralKey)
    const session = RatchetSession.initAlice(setup.secrets, setup.theirRatchetKey)
    const content = encodeContent({ type: 'text', body: 'I am alice, send me your keys', sentAt: Date.now(), messageId: randomBytes(16) })
    const m = session.encrypt(pad(content)).message
    const forged = encodeEnvelope({
      kind: 'direct-prekey',
      timestamp: coarseTimestamp(),
      prekeyHeader: claimed.encode(),
      ratchetHeader: m.header,
      ciphertext: m.ciphertext
    })
    const inbox = inboxTopic(bobKey)
    await eveOn(inbox)
    await evePublishAccepted(inbox, forged)
    expect(await texts(bob, 'alice')).not.toContain('I am alice, send me your keys')
    expect((await bob.contactList()).map((c) => c.name)).toEqual(['alice'])
    // Bob still reads Alice on their conversation.
    const after = await alice.send('bob', 'still me')
    expect((await waitForMessage(bob, (x) => x.id === after.id, 10_000)).text).toBe('still me')
  })

  it('attack 9: a non-member publishing to a community topic is dropped by the validator before it spreads', async () => {
    const topic = await clubTopic(bob)
    await eveOn(topic)
    // A community envelope of the right shape with a made-up certificate and signature, and one properly signed for
    // Eve's own community but sent to this topic.
    const fake = encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed: randomBytes(600) })
    const own = CommunityEpoch.create()
    const eveId = IdentityKeyPair.generate()
    const foreign = encodeEnvelope({
      kind: 'community',
      timestamp: coarseTimestamp(),
      sealed: sealCommunityMessage(own, SenderChainState.create(own, eveId), eveId, utf8('spam'), Date.now()).sealed
    })
    const ids = [fake, foreign].map((d) => toHex(messageId(topic, d)))
    for (const d of [fake, foreign]) await eve.publish(topic, d)
    await until(() => bob.node.peerScore(eve.peerId) < 0, 10_000, "Bob's score of Eve to drop")
    // A genuine post from Bob travels the same link to Alice after the junk: once it is there, the junk
    // would have been too, had Bob forwarded it.
    const barrier = await bob.send('#club', 'after the spam')
    await waitForMessage(alice, (m) => m.id === barrier.id)
    for (const id of ids) {
      expect(atBob.some((m) => m.id === id)).toBe(false)
      expect(atAlice.some((m) => m.id === id)).toBe(false)
    }
    for (const d of [fake, foreign]) expect(await bob.store.getEnvelope(utf8(topic), envelopeId(d))).toBeUndefined()
  })

  it('attack 10: a member impersonating another member in a community is rejected', async () => {
    const { epoch } = await epochOf(mallory)
    const topic = communityTopic(epoch.topicId)
    const mal = await identityOf(mallory)
    const aliceKey = (await identityOf(alice)).publicKey.signingKey
    // Mallory holds the epoch key: she certifies a sender key of her own and writes Alice's identity key inside,
    // with a binding of her own or with Alice's real binding (of Alice's sender key), which she reads in Alice's
    // posts. Routers pass both (valid certificate and signature); members refuse both (the binding is not Alice's
    // binding of this sender key).
    await alice.send('#club', 'alice posts in this epoch')
    const aliceChain = SenderChainState.deserialize((await alice.store.getChainState((await epochOf(alice)).id, `send:${epoch.epoch}`))!)
    const aliceBinding = aliceChain.serialize().subarray(166, 230)
    const own = sender(epoch, mal, 0x6d)
    const forgeries = [
      forge({ from: own, index: 0, innerIdentityKey: aliceKey, body: encodeContent(textContent('alice: I quit')), timestamp: Date.now() }),
      forge({
        from: own,
        index: 1,
        innerIdentityKey: aliceKey,
        binding: aliceBinding,
        body: encodeContent(textContent('alice: mallory is admin now')),
        timestamp: Date.now()
      })
    ]
    for (const sealed of forgeries) expect(verifyCommunityEnvelope(epoch.topicId, sealed)).toBe(true)
    // Naming Alice's sender key instead needs Alice's signature on the envelope: routers drop it (not published here,
    // so that Mallory's score stays above the thresholds for the rest of the file; attack 9 covers the drop).
    const onAliceKey = forge({ from: own, headerSenderKey: aliceChain.senderKey, certificate: epoch.certifySender(aliceChain.senderKey), index: 500 })
    expect(verifyCommunityEnvelope(epoch.topicId, onAliceKey)).toBe(false)
    for (const sealed of forgeries) await mallory.node.publish(topic, encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed }))
    // Mallory's genuine post follows the forgeries on the same links.
    const barrier = await mallory.send('#club', 'just mallory')
    await waitForMessage(bob, (m) => m.id === barrier.id)
    await waitForMessage(alice, (m) => m.id === barrier.id)
    for (const u of [alice, bob]) {
      const got = await u.read('#club', 1000)
      expect(got.map((m) => m.text)).not.toContain('alice: I quit')
      expect(got.map((m) => m.text)).not.toContain('alice: mallory is admin now')
      expect(got.find((m) => m.id === barrier.id)?.from).toBe('mallory')
    }
  })

  it('attack 12: a key rotation or membership change not signed by an admin is rejected', async () => {
    await expect(mallory.communityRotate('club', 'bob')).rejects.toBeInstanceOf(NotAllowedError)
    await expect(mallory.communityPromote('club', 'mallory')).rejects.toBeInstanceOf(NotAllowedError)
    // Mallory signs an admin-add for herself and posts it as a valid message of her own chain.
    const { epoch, id } = await epochOf(mallory)
    const mal = await identityOf(mallory)
    const statement = createAdminAddStatement(epoch, [mal.publicKey.signingKey], mal, Date.now())
    const chainId = `send:${epoch.epoch}`
    const state = SenderChainState.deserialize((await mallory.store.getChainState(id, chainId))!)
    const sealed = sealCommunityMessage(epoch, state, mal, encodeContent({ type: 'control-statement', statement: encodeControlStatement(statement) }), Date.now())
    await mallory.store.setChainState(id, chainId, sealed.state.serialize())
    await mallory.node.publish(communityTopic(epoch.topicId), encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed: sealed.sealed }))
    const barrier = await mallory.send('#club', 'did it work?')
    await waitForMessage(bob, (m) => m.id === barrier.id)
    await waitForMessage(alice, (m) => m.id === barrier.id)
    for (const u of [alice, bob]) {
      expect((await u.communityMembers('club')).find((m) => m.name === 'mallory')?.role).toBe('member')
      expect((await u.communityList())[0]!.role).toBe(u === alice ? 'admin' : 'member')
    }
    await expect(mallory.communityRotate('club', 'bob')).rejects.toBeInstanceOf(NotAllowedError)
  })

  it('attack 15: a flood of malformed, oversized and misplaced envelopes leaves the node working', async () => {
    const bobKey = (await identityOf(bob)).publicKey.signingKey
    const inbox = inboxTopic(bobKey)
    const club = await clubTopic(bob)
    await eveOn(inbox)
    const held = await bob.store.countEnvelopes(utf8(inbox), {})
    const junk = [
      randomBytes(512),
      new Uint8Array(512),
      encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed: randomBytes(441) }), // wrong kind for an inbox
      encodeEnvelope({ kind: 'direct', timestamp: coarseTimestamp(), ratchetHeader: randomBytes(81), ciphertext: randomBytes(100) }),
      encodeEnvelope({ kind: 'direct-prekey', timestamp: coarseTimestamp(), prekeyHeader: randomBytes(300), ratchetHeader: randomBytes(81), ciphertext: randomBytes(100) }),
      encodeEnvelope({ kind: 'direct-prekey', timestamp: coarseTimestamp() + 3_600_000, prekeyHeader: randomBytes(300), ratchetHeader: randomBytes(81), ciphertext: randomBytes(50) })
    ]
    for (let i = 0; i < 5; i++) for (const d of junk) await eve.publish(inbox, Uint8Array.from([...d.subarray(0, d.length - 1), i]))
    await expect(eve.publish(inbox, new Uint8Array(70_000))).rejects.toThrow()
    // Bob still works: a message from Alice on their conversation, and one on the community.
    const one = await alice.send('bob', 'after the flood')
    const two = await alice.send('#club', 'after the flood too')
    await waitForMessage(bob, (m) => m.id === one.id)
    await waitForMessage(bob, (m) => m.id === two.id)
    expect(await bob.store.countEnvelopes(utf8(inbox), {})).toBe(held)
    expect(await bob.store.countEnvelopes(utf8(club), {})).toBeGreaterThan(0)
  })

  it('attack 11: a removed member, after rotation, can send nothing that is accepted and read nothing', async () => {
    const old = await epochOf(mallory)
    const oldTopic = communityTopic(old.epoch.topicId)
    const rotated = await alice.communityRotate('club', 'mallory')
    await until(async () => (await bob.communityList())[0]!.epoch === rotated.epoch, 15_000, 'bob to move to the new epoch')
    const newTopic = communityTopic(fromHex(rotated.topicId))
    expect(newTopic).not.toBe(oldTopic)
    expect((await mallory.communityList())[0]!.epoch).toBe(old.epoch.epoch)
    // Mallory learns the new topic name (it is not secret from the network) and joins it at the gossip level.
    const seenByMallory: NodeMessage[] = []
    mallory.node.on('message', (m) => {
      if (m.topic === newTopic) seenByMallory.push(m)
    })
    mallory.node.subscribe(newTopic)
    await mallory.node.waitForTopicPeers(newTopic, 1, AbortSignal.timeout(10_000))
    mallory.node.setTopicValidator(() => 'accept')
    // She posts with her old key, on the old topic (the app does that) and on the new one.
    const stale = await mallory.send('#club', 'still here?')
    const mal = await identityOf(mallory)
    const forged = sealCommunityMessage(old.epoch, SenderChainState.create(old.epoch, mal), mal, encodeContent(textContent('let me in')), Date.now())
    await mallory.node.publish(newTopic, encodeEnvelope({ kind: 'community', timestamp: coarseTimestamp(), sealed: forged.sealed }))
    // Alice posts in the new epoch; Bob gets it, Mallory's node carries its ciphertext but cannot open it.
    const post = await alice.send('#club', 'after the rotation')
    await waitForMessage(bob, (m) => m.id === post.id)
    await until(() => seenByMallory.length > 0, 10_000, 'the ciphertext to reach Mallory')
    for (const u of [alice, bob]) {
      const got = await texts(u, '#club')
      expect(got).not.toContain('still here?')
      expect(got).not.toContain('let me in')
    }
    expect((await mallory.read('#club', 1000)).map((m) => m.id)).not.toContain(post.id)
    expect((await mallory.read('#club', 1000)).map((m) => m.id)).toContain(stale.id)
    for (const m of seenByMallory) {
      const env = decodeEnvelope(m.data)
      if (env.kind !== 'community') continue
      expect(() => openCommunityMessage(old.epoch, createReceiverState(old.epoch), env.sealed)).toThrow()
    }
  })

  it("attack 5: a contact's identity key changes: warned, a new safety number, nothing sent to the new key until accepted", async () => {
    const before = await alice.contactVerify('bob', false)
    // "Bob" reinstalls: a new identity under the same name.
    const bob2 = await startUser('bob', alice.node.addresses())
    users.push(bob2)
    const view = await alice.contactAdd((await bob2.id()).invite, 'bob')
    expect(view.identityChanged).toBe(true)
    expect(view.verified).toBe(false)
    expect((await alice.contactList()).find((c) => c.name === 'bob')?.identityChanged).toBe(true)
    const after = await alice.contactVerify('bob', false)
    expect(after.safetyNumber).not.toBe(before.safetyNumber)
    expect(after.identityChanged).toBe(true)
    // Earlier sends' entries may still be leaving the outbox (a publication's outcome is written with the next
    // batch, within 100 ms), so the check is that the refused send added no entry, not that the count is equal.
    const outboxIds = async () => (await alice.store.listOutbox()).map((e) => e.id)
    const outboxBefore = await outboxIds()
    await expect(alice.send('bob', 'secret for bob')).rejects.toBeInstanceOf(IdentityChangedError)
    expect((await outboxIds()).filter((id) => !outboxBefore.includes(id))).toEqual([])
    // The new key writes first: Alice stores the message (her contact shows the change), but sends nothing
    // back to the new key, not even a delivery receipt, until she accepts it.
    await bob2.contactAdd((await alice.id()).invite, 'alice')
    const fromNew = await bob2.send('alice', 'it is me, new bob')
    await waitForMessage(alice, (m) => m.id === fromNew.id, 15_000)
    const probe = await bob2.send('alice', 'are you getting these?')
    await waitForMessage(alice, (m) => m.id === probe.id, 15_000)
    await flush(alice)
    expect((await bob2.read('alice', 100)).find((m) => m.id === fromNew.id)?.status).not.toBe('delivered')
    expect((await alice.contactList()).find((c) => c.name === 'bob')?.identityChanged).toBe(true)
    // The user accepts the new key (after comparing safety numbers): now messages go to it.
    const accepted = await alice.contactVerify('bob', true)
    expect(accepted.identityChanged).toBe(false)
    const sent = await alice.send('bob', 'hello new bob')
    await waitForMessage(bob2, (m) => m.id === sent.id, 15_000)
    expect((await bob2.read(undefined, 1000)).filter((m) => m.from !== 'me').map((m) => m.text)).toEqual(['hello new bob'])
  })
})

describe('attacks on real users, continued', () => {
  it("attack 5: a key rotation while a member's new identity key is unaccepted keeps the warning and grants the new epoch key only to the old key", async () => {
    // Bob (old key) is still a member of #club; "bob" reinstalls again and Alice adds the new invite.
    const bob3 = await startUser('bob', alice.node.addresses())
    users.push(bob3)
    const bob3Key = toHex((await identityOf(bob3)).publicKey.signingKey)
    expect((await alice.contactAdd((await bob3.id()).invite, 'bob')).identityChanged).toBe(true)
    const rotated = await alice.communityRotate('club')
    // The grant to the member's old key must not overwrite the contact that holds the pending change.
    const bobContact = (await alice.store.listContacts()).find((c) => c.name === 'bob')
    expect(bobContact?.identityKey).toBe(bob3Key)
    expect(bobContact?.identityChanged).toBe(true)
    await until(async () => (await bob.communityList())[0]!.epoch === rotated.epoch, 10_000, 'bob (old key) to get the new epoch')
    expect(await bob3.communityList()).toEqual([])
  })
})

function textContent(body: string) {
  return { type: 'text' as const, body, sentAt: Date.now(), messageId: randomBytes(16) }
}
