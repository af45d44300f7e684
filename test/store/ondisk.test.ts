// On-disk test: after a realistic session, no file in the data directory holds a plaintext canary, a contact
// or community name, an id that would link the user to a contact, or the raw database key or identity secret.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ClassicLevel } from 'classic-level'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_ARGON2, unwrapDatabaseKey } from '../../src/crypto/atrest.js'
import { createLevelStore, type Store, storeDirectory } from '../../src/store/index.js'

const home = mkdtempSync(join(tmpdir(), 'sotto-ondisk-'))
const dir = storeDirectory(home)
const passphrase = 'on-disk passphrase'

afterAll(() => {
  rmSync(home, { recursive: true, force: true })
})

function filesUnder(root: string): string[] {
  return readdirSync(root).flatMap((name) => {
    const p = join(root, name)
    return statSync(p).isDirectory() ? filesUnder(p) : [p]
  })
}

/** Every needle, in raw bytes and as hex and base64 text, must be absent from every file. */
function findLeaks(needles: Array<[string, Uint8Array]>): string[] {
  const leaks: string[] = []
  for (const file of filesUnder(home)) {
    const content = readFileSync(file)
    for (const [label, needle] of needles) {
      const forms = [Buffer.from(needle), Buffer.from(Buffer.from(needle).toString('hex')), Buffer.from(Buffer.from(needle).toString('base64'))]
      if (forms.some((f) => f.length >= 4 && content.includes(f))) leaks.push(`${label} in ${file}`)
    }
  }
  return leaks
}

const text = (s: string) => new TextEncoder().encode(s)

describe('on disk', () => {
  it('holds no plaintext, name, linking id or secret key bytes', async () => {
    const canaries = Array.from({ length: 20 }, (_, i) => `CANARY-${i}-${randomBytes(6).toString('hex')}`)
    const contactNames = ['Alice Wunderland-Canary', 'Bob Zebrafinch', 'Carol Quetzal']
    const communityName = 'Secret Garden Society'
    const identitySecret = new Uint8Array(randomBytes(64))
    const peerKey = new Uint8Array(randomBytes(68))
    const sessionState = new Uint8Array(randomBytes(200))
    const epochKey = new Uint8Array(randomBytes(32))
    const contactIds = contactNames.map(() => randomBytes(32).toString('hex'))
    const communityId = randomBytes(32).toString('hex')
    const topic = new Uint8Array(randomBytes(32))

    const store: Store = await createLevelStore(dir, passphrase, { argon2: TEST_ARGON2 })
    await store.setIdentity(identitySecret)
    await store.setPeerKey(peerKey)
    await store.setSettings({ displayName: contactNames[0] as string })
    for (const [i, name] of contactNames.entries()) {
      const id = contactIds[i] as string
      await store.putContact({
        id,
        name,
        state: 'accepted',
        identityKey: id,
        verified: true,
        identityChanged: false,
        identityHistory: [{ identityKey: id, seenAt: 1 }],
        createdAt: 1
      })
      await store.setSession(id, sessionState)
    }
    await store.putCommunity({ id: communityId, name: communityName, role: 'admin', epoch: 1, createdAt: 1 })
    await store.setEpochKey(communityId, 1, epochKey)
    for (const [i, canary] of canaries.entries()) {
      const conversation = i % 2 === 0 ? (contactIds[i % 3] as string) : communityId
      await store
        .batch()
        .putMessage({
          id: `msg-${i}`,
          conversation,
          direction: i % 3 === 0 ? 'out' : 'in',
          sender: contactIds[0] as string,
          text: canary,
          sentAt: i,
          receivedAt: i,
          status: 'received'
        })
        .setSession(contactIds[0] as string, sessionState)
        .markSeen(conversation, text(`seen-${canary}`))
        .commit()
    }
    await store.putOutbox({ id: 'o1', conversation: contactIds[1] as string, payload: text(canaries[0] as string), attempts: 0, nextAttemptAt: 1, createdAt: 1 })
    await store.putEnvelope(topic, new Uint8Array(randomBytes(32)), 5, text(canaries[1] as string))
    await store.prune({ messages: { maxCount: 1000 } })

    const needles: Array<[string, Uint8Array]> = [
      ...canaries.map((c, i): [string, Uint8Array] => [`canary ${i}`, text(c)]),
      ...contactNames.map((n): [string, Uint8Array] => [`contact name ${n}`, text(n)]),
      [`community name`, text(communityName)],
      ...contactIds.map((id, i): [string, Uint8Array] => [`contact id ${i}`, text(id)]),
      ...contactIds.map((id, i): [string, Uint8Array] => [`contact id bytes ${i}`, Buffer.from(id, 'hex')]),
      ['community id', text(communityId)],
      ['topic id', topic],
      ['identity secret', identitySecret],
      ['peer key', peerKey],
      ['session state', sessionState],
      ['epoch key', epochKey]
    ]
    // While open (LevelDB's write-ahead log holds everything written so far) and after close (compacted tables).
    expect(findLeaks(needles)).toEqual([])
    await store.close()

    const raw = new ClassicLevel<Uint8Array, Uint8Array>(dir, { keyEncoding: 'view', valueEncoding: 'view' })
    const wrapped = await raw.get(new TextEncoder().encode('\u0000dbkey'))
    await raw.compactRange(Uint8Array.of(0), Uint8Array.of(0xff))
    await raw.close()
    const dbKey = unwrapDatabaseKey(new Uint8Array(wrapped as Uint8Array), passphrase).exportBytes()
    needles.push(['database key', dbKey])
    expect(findLeaks(needles)).toEqual([])
    // Control: the scan does find what is on disk in plain (the name of the wrapped-key record).
    expect(findLeaks([['control', text('dbkey')]]).length).toBeGreaterThan(0)
  })
})
