// Attack 18: someone with the user's disk. Two real users talk 1:1 and in a community, stop, and their
// data directories are searched byte for byte; then the store is opened with a wrong passphrase, and its
// records are altered and moved on disk (LevelDB opened directly, as an attacker would).
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openSotto, WrongPassphraseAppError } from '../../src/app/index.js'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { LocalPrekeys } from '../../src/crypto/prekeys.js'
import { CommunityEpoch } from '../../src/crypto/community.js'
import { CryptoError } from '../../src/crypto/errors.js'
import { utf8 } from '../../src/crypto/primitives.js'
import { openLevelStore, StoreError, storeDirectory, WrongPassphraseError } from '../../src/store/index.js'
import { ARGON2, cleanup, PASSPHRASE, startUser, type TestUser, waitForMessage } from '../integration/helpers.js'

const CANARY = 'CANARY-at-rest-5e1f0a9c'
const COMMUNITY = 'Quiet Orchard Circle'

/** The private key of the current signed prekey, from the stored LocalPrekeys. */
function signedPrekeyPrivate(bytes: Uint8Array, identity: IdentityKeyPair): Uint8Array {
  const prekeys = LocalPrekeys.deserialize(bytes)
  return prekeys.signedPrekey(prekeys.bundle(identity).signedPrekey.id).privateKey
}

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

describe('attack 18: at rest', () => {
  let alice: TestUser
  let bob: TestUser
  const needles: Array<[string, Uint8Array]> = []
  const publicKeys: Array<[string, Uint8Array]> = []

  beforeAll(async () => {
    alice = await startUser('Alice Kestrel-Hollow')
    bob = await startUser('Bob Marrowfield', alice.node.addresses())
    await alice.contactAdd((await bob.id()).invite, 'Bobby Contactname')
    const m = await alice.send('Bobby Contactname', `${CANARY} direct`)
    await waitForMessage(bob, (x) => x.id === m.id)
    await alice.communityCreate(COMMUNITY)
    await bob.communityJoin(await alice.communityInvite(COMMUNITY))
    const p = await bob.send(`#${COMMUNITY}`, `${CANARY} community`)
    await waitForMessage(alice, (x) => x.id === p.id)
    await waitForMessage(alice, (x) => x.id === m.id && x.status === 'delivered')
    for (const u of [alice, bob]) {
      const identity = (await u.store.getIdentity())!
      const c = (await u.store.getCommunityByName(COMMUNITY))!
      const epoch = CommunityEpoch.deserialize((await u.store.getEpochKey(c.id, c.epoch))!)
      needles.push(
        [`${u.name}: identity secret`, identity.subarray(1)],
        [`${u.name}: signed prekey private key`, signedPrekeyPrivate((await u.store.getPrekeys())!, IdentityKeyPair.deserialize(identity))],
        [`${u.name}: epoch key`, epoch.exportEpochKey()],
        [`${u.name}: community id`, epoch.communityId]
      )
      for (const contact of await u.store.listContacts()) {
        const session = await u.store.getSession(contact.id)
        if (session !== undefined) needles.push([`${u.name}: session state`, session.subarray(2, 34)])
      }
    }
    const peerKeys = await Promise.all([alice, bob].map(async (u) => IdentityKeyPair.deserialize((await u.store.getIdentity())!).publicKey.signingKey))
    publicKeys.push(['alice public key', peerKeys[0]!], ['bob public key', peerKeys[1]!])
    needles.push(
      ['canary', utf8(CANARY)],
      ['community name', utf8(COMMUNITY)],
      ['contact name', utf8('Bobby Contactname')],
      ['own name', utf8('Alice Kestrel-Hollow')],
      ['peer name', utf8('Bob Marrowfield')]
    )
    await Promise.all([alice.stop(), bob.stop()])
  }, 60_000)

  afterAll(async () => {
    await cleanup()
  })

  it('attack 18: no plaintext, name or key is in any file of the data directory', () => {
    const leaks: string[] = []
    let files = 0
    for (const u of [alice, bob]) {
      for (const file of filesUnder(u.home)) {
        files++
        const content = readFileSync(file)
        for (const [what, needle] of needles) {
          const b = Buffer.from(needle)
          for (const form of [b, Buffer.from(b.toString('hex')), Buffer.from(b.toString('base64'))]) {
            if (content.includes(form)) leaks.push(`${what} in ${file.slice(u.home.length)}`)
          }
        }
      }
    }
    expect(files).toBeGreaterThan(4)
    expect(leaks).toEqual([])
  })

  it("attack 18: no contact's identity key is on disk in clear", () => {
    // peers/ is libp2p's own LevelDB, unencrypted: it holds the peer store only (peer ids, transport keys,
    // addresses). The DHT records this node holds (prekey bundles and peer records, which carry identity
    // keys) are kept in memory only (PROTOCOL.md 13.10), so no contact's identity key reaches the disk.
    const found: string[] = []
    for (const u of [alice, bob]) {
      for (const file of filesUnder(u.home)) {
        const content = readFileSync(file)
        for (const [what, needle] of publicKeys) if (!what.startsWith(u === alice ? 'alice' : 'bob') && content.includes(Buffer.from(needle))) found.push(`${what} in ${u.name}'s ${file.slice(u.home.length)}`)
      }
    }
    expect(found).toEqual([])
  })

  it('attack 18: a wrong passphrase is refused', async () => {
    await expect(openSotto({ home: alice.home, passphrase: 'wrong horse', argon2: ARGON2, listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false })).rejects.toBeInstanceOf(
      WrongPassphraseAppError
    )
    await expect(openLevelStore(storeDirectory(alice.home), `${PASSPHRASE} `, { argon2: ARGON2 })).rejects.toBeInstanceOf(WrongPassphraseError)
  })

  it('attack 18: a tampered or moved record is detected', async () => {
    const dir = storeDirectory(alice.home)
    const raw = async <T>(fn: (db: ClassicLevel<Uint8Array, Uint8Array>) => Promise<T>): Promise<T> => {
      const db = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
      await db.open()
      try {
        return await fn(db)
      } finally {
        await db.close()
      }
    }
    /** Opens the store and reads every record; resolves with the error, or undefined when all is well. */
    const check = async (): Promise<unknown> => {
      try {
        const s = await openLevelStore(dir, PASSPHRASE, { argon2: ARGON2 })
        try {
          await s.verify()
        } finally {
          await s.close()
        }
        return undefined
      } catch (err) {
        return err
      }
    }
    expect(await check()).toBeUndefined()
    const entries = await raw(async (db) => (await db.iterator().all()).map(([k, v]) => [new Uint8Array(k), new Uint8Array(v)] as const))
    expect(entries.length).toBeGreaterThan(20)
    // A flipped bit in a sample of records spread over the whole database (every record is sealed the same way).
    const step = Math.max(1, Math.floor(entries.length / 24))
    for (let i = 0; i < entries.length; i += step) {
      const [key, value] = entries[i]!
      const bad = value.slice()
      bad[(i * 13) % bad.length]! ^= 1 << i % 8
      await raw((db) => db.put(key, bad))
      const err = await check()
      // The wrapped-key record fails as a crypto error (version, passphrase), every other one as a StoreError.
      expect(err instanceof StoreError || err instanceof CryptoError, `record ${i}: ${String(err)}`).toBe(true)
      await raw((db) => db.put(key, value))
    }
    // A record moved under another key (two values swapped).
    const sealed = entries.filter(([k]) => k[0] !== 0x00)
    const [a, b] = [sealed[1]!, sealed[sealed.length - 2]!]
    await raw(async (db) => {
      await db.put(a[0], b[1])
      await db.put(b[0], a[1])
    })
    expect(await check()).toBeInstanceOf(StoreError)
    await raw(async (db) => {
      await db.put(a[0], a[1])
      await db.put(b[0], b[1])
    })
    // Restored: the history is readable again with the right passphrase.
    expect(await check()).toBeUndefined()
    const s = await openLevelStore(dir, PASSPHRASE, { argon2: ARGON2 })
    try {
      expect(IdentityKeyPair.deserialize((await s.getIdentity())!).publicKey.signingKey.length).toBe(32)
    } finally {
      await s.close()
    }
  })
})
