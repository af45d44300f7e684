// Attack 20: what a network observer learns. A plain libp2p node (gossipsub with StrictNoSign, and kad-dht
// on sotto's DHT protocol storing whatever it is sent) is the bootstrap peer of two real users. It joins
// every topic it sees them subscribe to and keeps every DHT record and provider record put to it.
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { type GossipSub, gossipsub, type Message, StrictNoSign } from '@libp2p/gossipsub'
import { identify } from '@libp2p/identify'
import type { Libp2p } from '@libp2p/interface'
import { type KadDHT, kadDHT, passthroughMapper } from '@libp2p/kad-dht'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { MemoryDatastore } from 'datastore-core'
import { createLibp2p } from 'libp2p'
import { fromString } from 'uint8arrays/from-string'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { concatBytes, fromHex, toHex, utf8 } from '../../src/crypto/primitives.js'
import { DHT_PROTOCOL } from '../../src/node/index.js'
import { ENVELOPE_BUCKETS, PREKEY_RECORD_NAMESPACE } from '../../src/protocol/index.js'
import { cleanup, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'
import { containsBytes, until } from './helpers.js'

const COMMUNITY = 'Secret Garden Society'
const CANARIES = ['CANARY-direct-7f3a91', 'CANARY-community-c0ffee', 'CANARY-first-b4d5e6']

describe('attack 20: what the network sees', () => {
  let observer: Libp2p<{ pubsub: GossipSub; dht: KadDHT }>
  const datastore = new MemoryDatastore()
  const seen: Message[] = []
  let alice: TestUser
  let bob: TestUser
  const secrets: Array<[string, Uint8Array]> = []
  /**
   * True once the observer has joined a topic of each of `kinds` and both users' nodes count it among the subscribers
   * of every such topic: their publishes then go to it (its own subscription alone does not say they know of it).
   */
  const observerKnown = (kinds: string[]) => (): boolean => {
    const me = observer.peerId.toString()
    const topics = observer.services.pubsub.getTopics().filter((t) => kinds.some((k) => t.includes(k)))
    return kinds.every((k) => topics.some((t) => t.includes(k))) && topics.every((t) => [alice, bob].every((u) => u.node.topicPeers(t).includes(me)))
  }

  beforeAll(async () => {
    observer = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      datastore,
      services: {
        identify: identify(),
        ping: ping(),
        pubsub: gossipsub({ globalSignaturePolicy: StrictNoSign }),
        dht: kadDHT({
          protocol: DHT_PROTOCOL,
          clientMode: false,
          peerInfoMapper: passthroughMapper,
          validators: { [PREKEY_RECORD_NAMESPACE]: async () => undefined },
          selectors: { [PREKEY_RECORD_NAMESPACE]: () => 0 }
        })
      }
    })
    const pubsub = observer.services.pubsub
    pubsub.addEventListener('message', (e) => seen.push(e.detail))
    // Join every topic a peer announces.
    pubsub.addEventListener('subscription-change', (e) => {
      for (const s of e.detail.subscriptions) if (s.subscribe && !pubsub.getTopics().includes(s.topic)) pubsub.subscribe(s.topic)
    })
    const boot = observer.getMultiaddrs().map((a) => a.toString())
    alice = await startUser('alice wonderland', boot)
    bob = await startUser('bob zebrafinch', [...boot, ...alice.node.addresses()])
    for (const u of [alice, bob]) {
      const id = IdentityKeyPair.deserialize((await u.store.getIdentity())!)
      secrets.push([`${u.name} signing key`, id.publicKey.signingKey], [`${u.name} DH key`, id.publicKey.dhKey], [`${u.name} name`, utf8(u.name)])
    }
    secrets.push(['community name', utf8(COMMUNITY)], ...CANARIES.map((c): [string, Uint8Array] => [c, utf8(c)]))
    // The observer is on both inbox topics before the first message.
    await until(() => pubsub.getTopics().filter((t) => t.includes('/inbox/')).length >= 2, 10_000, 'the observer on both inboxes')
    await until(observerKnown(['/inbox/']), 10_000, 'both users knowing the observer on both inboxes')
  }, 60_000)

  afterAll(async () => {
    await Promise.all([alice?.stop(), bob?.stop()])
    await observer?.stop()
    await cleanup()
  })

  it('attack 20: gossipsub messages carry no PeerId or sequence number, only padded ciphertext on opaque topics', async () => {
    const pubsub = observer.services.pubsub
    await alice.contactAdd((await bob.id()).invite, 'bob')
    const first = await alice.send('bob', CANARIES[2]!)
    await waitForMessage(bob, (m) => m.id === first.id)
    await alice.communityCreate(COMMUNITY)
    await bob.communityJoin(await alice.communityInvite(COMMUNITY))
    // Once the observer is on the conversation and community topics too, both sides write.
    await until(observerKnown(['/d/', '/c/']), 10_000, 'both users knowing the observer on the conversation and community topics')
    const direct = await alice.send('bob', CANARIES[0]!)
    const post = await bob.send(`#${COMMUNITY}`, CANARIES[1]!)
    await waitForMessage(bob, (m) => m.id === direct.id)
    await waitForMessage(alice, (m) => m.id === post.id)
    await until(() => ['/inbox/', '/d/', '/c/'].every((k) => seen.some((m) => m.topic.includes(k))), 10_000, 'the observer to see every kind of topic')

    for (const m of seen) {
      // StrictNoSign: no author, no sequence number, no signature, no key. Only the topic and the bytes.
      expect(m.type).toBe('unsigned')
      expect(Object.keys(m).sort()).toEqual(['data', 'topic', 'type'])
      expect(ENVELOPE_BUCKETS).toContain(m.data.length)
      // No message, the first of a session included (its initial header is sealed, §4), holds a key, name or plaintext.
      for (const [what, bytes] of secrets) {
        expect(containsBytes(m.data, bytes), `${what} in a message`).toBe(false)
        expect(containsBytes(m.data, utf8(toHex(bytes))), `${what} (hex) in a message`).toBe(false)
      }
    }
    for (const topic of pubsub.getTopics()) {
      expect(topic).toMatch(/^\/sotto\/1\/(inbox|d|c)\/[0-9a-f]{64}$/)
      for (const [what, bytes] of secrets) {
        expect(topic.includes(toHex(bytes)), `${what} in topic ${topic}`).toBe(false)
        expect(containsBytes(fromHex(topic.slice(-64)), bytes.subarray(0, 8)), `${what} in topic ${topic}`).toBe(false)
      }
      expect(topic.toLowerCase()).not.toContain('garden')
    }
    expect(seen.length).toBeGreaterThanOrEqual(3)
  })

  it("attack 20: the first message of a session does not reveal the initiator's identity key (the initial header is sealed to the responder's signed prekey)", () => {
    const firsts = seen.filter((m) => m.topic.includes('/inbox/'))
    expect(firsts.length).toBeGreaterThan(0)
    for (const m of firsts) for (const [what, bytes] of secrets) expect(containsBytes(m.data, bytes), `${what} in a first message`).toBe(false)
  })

  it('attack 20: DHT record keys and rendezvous keys reveal no identity key and no community name', async () => {
    // Alice's bundle and the community rendezvous reach the observer's DHT store.
    const keys = async (): Promise<string[]> => {
      const out: string[] = []
      for await (const k of datastore.queryKeys({ prefix: '/dht' })) out.push(k.toString())
      return out
    }
    await until(async () => {
      const k = await keys()
      return k.some((x) => x.startsWith('/dht/record/')) && k.some((x) => x.startsWith('/dht/provider/'))
    }, 20_000, 'a prekey record and a provider record at the observer')
    const stored = await keys()
    const bytesOfKeys = concatBytes(...stored.map((k) => utf8(k)))
    for (const [what, bytes] of secrets) {
      expect(containsBytes(bytesOfKeys, utf8(toHex(bytes))), `${what} (hex) in a DHT key`).toBe(false)
      expect(containsBytes(bytesOfKeys, bytes), `${what} in a DHT key`).toBe(false)
    }
    // Record keys are the base32 of "/sotto-prekeys/<hash>": decoded, they hold only the hash.
    for (const k of stored.filter((x) => x.startsWith('/dht/record/'))) {
      const raw = new TextDecoder().decode(fromString(k.slice('/dht/record/'.length), 'base32'))
      expect(raw).toMatch(/^\/sotto-prekeys\/[0-9a-f]{64}$/)
      for (const [what, bytes] of secrets) expect(raw.includes(toHex(bytes)), `${what} in ${raw}`).toBe(false)
    }
  })
})
