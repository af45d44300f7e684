/**
 * An in-memory SottoApi for unit tests of the CLI's own plumbing (RPC, commands, chat screen). It follows
 * the contract in src/app/api.ts loosely: invites are `invite:NAME`, sends become 'sent' at once and
 * 'delivered' on `deliverAll()`, errors carry app-style codes. Never used outside test/cli.
 */
import type {
  CommunityView,
  ContactView,
  IdView,
  MemberView,
  MessageView,
  SottoApi,
  SottoApp,
  StatusView,
  VerifyView
} from '../../src/app/api.js'
import type { ApiConnection } from '../../src/cli/rpc.js'

/** An app-style error: a `code` the CLI maps to exit codes. */
export class FakeAppError extends Error {
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.code = code
  }
}

export class FakeApi implements SottoApi {
  readonly name: string
  contacts = new Map<string, ContactView>()
  communities = new Map<string, CommunityView>()
  messages: MessageView[] = []
  listeners = new Set<(m: MessageView) => void>()
  calls: { method: string; args: unknown[] }[] = []
  stopped = false
  #next = 1

  constructor(name = 'me') {
    this.name = name
  }

  #record(method: string, args: unknown[]): void {
    this.calls.push({ method, args })
  }

  #emit(m: MessageView): void {
    for (const l of this.listeners) l({ ...m })
  }

  /** Adds a message from someone else, as if it arrived from the network. */
  receive(conversation: string, from: string, text: string): MessageView {
    const m: MessageView = {
      id: (this.#next++).toString(16).padStart(16, '0'),
      conversation,
      from,
      text,
      sentAt: 1_700_000_000_000 + this.#next,
      receivedAt: 1_700_000_000_500 + this.#next,
      status: 'received'
    }
    this.messages.push(m)
    this.#emit(m)
    return m
  }

  /** Marks every sent message delivered and notifies subscribers. */
  deliverAll(): void {
    for (const m of this.messages) {
      if (m.from === 'me' && m.status === 'sent') {
        m.status = 'delivered'
        this.#emit(m)
      }
    }
  }

  #contact(name: string): ContactView {
    const c = this.contacts.get(name)
    if (c === undefined) throw new FakeAppError('UNKNOWN_CONTACT', `no contact named ${name}`)
    return c
  }

  #community(name: string): CommunityView {
    const c = this.communities.get(name)
    if (c === undefined) throw new FakeAppError('UNKNOWN_COMMUNITY', `no community named ${name}`)
    return c
  }

  async id(): Promise<IdView> {
    this.#record('id', [])
    return {
      name: this.name,
      invite: `invite:${this.name}`,
      peerId: '12D3KooWFake',
      addresses: ['/ip4/127.0.0.1/tcp/4001/p2p/12D3KooWFake'],
      safetyNumber: '123451234512345123451234512345',
      fingerprint: 'abcdef0123456789'
    }
  }
  async status(): Promise<StatusView> {
    return {
      peerId: '12D3KooWFake',
      addresses: ['/ip4/127.0.0.1/tcp/4001'],
      peers: 2,
      topics: 1,
      outbox: 0,
      sync: { envelopesToFetch: 0, envelopesFetched: 0, bytesToFetch: 0, bytesFetched: 0 },
      relays: []
    }
  }
  async contactAdd(invite: string, name?: string): Promise<ContactView> {
    this.#record('contactAdd', [invite, name])
    if (!invite.startsWith('invite:')) throw new FakeAppError('BAD_INVITE', 'this is not a sotto invite')
    const c: ContactView = {
      name: name ?? invite.slice(7),
      fingerprint: 'f00dfeed',
      state: 'accepted',
      verified: false,
      identityChanged: false
    }
    this.contacts.set(c.name, c)
    return c
  }
  async contactList(): Promise<ContactView[]> {
    return [...this.contacts.values()]
  }
  async contactAccept(name: string): Promise<ContactView> {
    const c = this.#contact(name)
    c.state = 'accepted'
    return c
  }
  async contactVerify(name: string, confirm: boolean): Promise<VerifyView> {
    const c = this.#contact(name)
    if (confirm) c.verified = true
    return { name, safetyNumber: '12345 '.repeat(12).trim(), verified: c.verified, identityChanged: c.identityChanged }
  }
  async contactRemove(name: string): Promise<void> {
    this.#contact(name)
    this.contacts.delete(name)
  }
  async send(to: string, text: string): Promise<MessageView> {
    this.#record('send', [to, text])
    if (to.startsWith('#')) this.#community(to.slice(1))
    else this.#contact(to)
    const m: MessageView = {
      id: (this.#next++).toString(16).padStart(16, '0'),
      conversation: to,
      from: 'me',
      text,
      sentAt: 1_700_000_000_000 + this.#next,
      receivedAt: 1_700_000_000_000 + this.#next,
      status: 'sent'
    }
    this.messages.push(m)
    this.#emit(m)
    return { ...m }
  }
  async read(to?: string, limit = 50): Promise<MessageView[]> {
    this.#record('read', [to, limit])
    return this.messages.filter((m) => to === undefined || m.conversation === to).slice(-limit).map((m) => ({ ...m }))
  }
  async markRead(to: string): Promise<void> {
    this.#record('markRead', [to])
    for (const m of this.messages) if (m.conversation === to && m.status === 'received') m.status = 'read'
  }
  async clear(to: string, olderThanMs?: number): Promise<number> {
    this.#record('clear', [to, olderThanMs])
    const before = this.messages.length
    this.messages = this.messages.filter((m) => m.conversation !== to || (olderThanMs !== undefined && Date.now() - m.receivedAt <= olderThanMs))
    return before - this.messages.length
  }
  readonly retentions = new Map<string, number>()
  async retention(to: string, ageMs?: number): Promise<number> {
    this.#record('retention', [to, ageMs])
    if (ageMs !== undefined) this.retentions.set(to, ageMs)
    return this.retentions.get(to) ?? 0
  }
  subscribe(listener: (message: MessageView) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
  async communityCreate(name: string): Promise<CommunityView> {
    const c: CommunityView = { name, topicId: 'aa'.repeat(32), epoch: 0, role: 'admin', members: 1 }
    this.communities.set(name, c)
    return c
  }
  async communityInvite(name: string): Promise<string> {
    this.#community(name)
    return `community-invite:${name}`
  }
  async communityJoin(invite: string, name?: string): Promise<CommunityView> {
    if (!invite.startsWith('community-invite:')) throw new FakeAppError('BAD_INVITE', 'this is not a community invite')
    const c: CommunityView = { name: name ?? invite.slice(17), topicId: 'bb'.repeat(32), epoch: 0, role: 'member', members: 2 }
    this.communities.set(c.name, c)
    return c
  }
  async communityList(): Promise<CommunityView[]> {
    return [...this.communities.values()]
  }
  async communityMembers(name: string): Promise<MemberView[]> {
    this.#community(name)
    return [{ name: 'me', fingerprint: 'abcdef', role: 'admin' }]
  }
  async communityLeave(name: string): Promise<void> {
    this.#community(name)
    this.communities.delete(name)
  }
  async communityRotate(name: string, remove?: string): Promise<CommunityView> {
    this.#record('communityRotate', [name, remove])
    const c = this.#community(name)
    c.epoch++
    return c
  }
  async communityPromote(name: string, member: string): Promise<MemberView> {
    this.#community(name)
    return { name: member, fingerprint: 'beef', role: 'admin' }
  }
  async relayUse(address: string): Promise<string[]> {
    return [address]
  }
}

/** The fake as an app (with stop). */
export class FakeApp extends FakeApi implements SottoApp {
  async stop(): Promise<void> {
    this.stopped = true
  }
}

/** The fake as a daemon connection (what `withApi` hands to commands). */
export class FakeConnection extends FakeApi implements ApiConnection {
  closed = false
  closeHandlers: (() => void)[] = []
  close(): void {
    this.closed = true
  }
  onClose(handler: () => void): void {
    this.closeHandlers.push(handler)
  }
  async subscribed(): Promise<void> {}
  /** Simulates the daemon going away. */
  drop(): void {
    for (const h of this.closeHandlers) h()
  }
}
