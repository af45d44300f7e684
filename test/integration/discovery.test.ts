import { afterAll, describe, expect, it } from 'vitest'
import { formatContactInvite, parseContactInvite } from '../../src/protocol/index.js'
import { cleanup, startUser, type TestUser, waitForMessage } from './helpers.js'

describe('three nodes that know one bootstrap address', () => {
  const users: TestUser[] = []
  afterAll(async () => {
    await Promise.all(users.map((u) => u.stop()))
    await cleanup()
  })

  it('find a contact from an invite with no address, through the DHT, and talk both ways', async () => {
    const hub = await startUser('hub')
    users.push(hub)
    const bob = await startUser('bob', hub.node.addresses())
    users.push(bob)
    const carol = await startUser('carol', hub.node.addresses())
    users.push(carol)
    // bob's invite stripped to the identity key and a name: no peer id, no address
    const full = parseContactInvite((await bob.id()).invite)
    const bare = formatContactInvite({ identity: full.identity, displayName: 'bob', addresses: [], relays: [] })
    expect(carol.node.peers()).not.toContain(bob.node.peerId)
    await carol.contactAdd(bare)
    const hello = await carol.send('bob', 'found you through the DHT')
    const got = await waitForMessage(bob, (m) => m.id === hello.id, 30_000)
    expect(got.text).toBe('found you through the DHT')
    expect(carol.node.peers()).toContain(bob.node.peerId)
    await bob.contactAccept('carol')
    const reply = await bob.send('carol', 'and back')
    expect((await waitForMessage(carol, (m) => m.id === reply.id)).text).toBe('and back')
    await waitForMessage(carol, (m) => m.id === hello.id && m.status === 'delivered')
  }, 60_000)
})
