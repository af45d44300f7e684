import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { type ChatIo, ChatModel, runChat } from '../../src/cli/chat.js'
import { DaemonNotRunningError } from '../../src/cli/errors.js'
import { FakeConnection } from './fake-api.js'

interface Screen {
  io: ChatIo
  input: PassThrough & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  text: () => string
  interrupt: () => void
}

function screen(tty: boolean): Screen {
  let text = ''
  const input = new PassThrough() as Screen['input']
  const handlers = new Set<() => void>()
  if (tty) {
    input.isTTY = true
    input.setRawMode = () => input
  }
  return {
    input,
    text: () => text,
    interrupt: () => {
      for (const h of handlers) h()
    },
    io: {
      input,
      output: { write: (s: string) => (text += s), columns: 60, rows: 12 },
      tty,
      onInterrupt(h) {
        handlers.add(h)
        return () => handlers.delete(h)
      }
    }
  }
}

/** A line-mode chat opened on bob's conversation; resolves once it says so. */
async function talkingToBob(api: FakeConnection): Promise<{ s: Screen; done: Promise<void> }> {
  const s = screen(false)
  const done = runChat(api, s.io, { to: 'bob' })
  await expect.poll(s.text).toContain('* talking in bob')
  return { s, done }
}

async function fixture(): Promise<FakeConnection> {
  const api = new FakeConnection()
  await api.contactAdd('invite:bob')
  await api.contactAdd('invite:carol')
  await api.communityCreate('garden')
  api.receive('bob', 'bob', 'hi there')
  api.receive('carol', 'carol', 'one')
  api.receive('carol', 'carol', 'two')
  await api.send('bob', 'earlier reply')
  return api
}

describe('ChatModel', () => {
  it('orders contacts before communities and counts unread outside the current conversation', () => {
    const m = new ChatModel()
    m.current = 'bob'
    const base = { sentAt: 1, receivedAt: 1, text: 't', status: 'received' as const }
    m.upsert({ ...base, id: '1', conversation: '#garden', from: 'x' })
    m.upsert({ ...base, id: '2', conversation: 'bob', from: 'bob' })
    m.upsert({ ...base, id: '3', conversation: 'alice', from: 'alice' })
    expect(m.names()).toEqual(['alice', 'bob', '#garden'])
    expect(m.conversation('alice').unread).toBe(1)
    expect(m.conversation('bob').unread).toBe(0)
    expect(m.upsert({ ...base, id: '3', conversation: 'alice', from: 'alice' })).toEqual({ isNew: false, changed: false })
    const mine = { ...base, id: '4', conversation: 'bob', from: 'me' }
    m.upsert({ ...mine, status: 'delivered' })
    expect(m.upsert({ ...mine, status: 'sent' })).toEqual({ isNew: false, changed: false })
    expect(m.conversation('bob').messages.find((x) => x.id === '4')!.status).toBe('delivered')
    expect(m.upsert({ ...mine, status: 'read' })).toEqual({ isNew: false, changed: true })
    expect(m.neighbour(1)).toBe('#garden')
    expect(m.find('gar')).toBe('#garden')
    expect(m.find('garden')).toBe('#garden')
  })
})

describe('chat, plain mode driven through stdin', () => {
  it('shows conversations with unread counts, sends, shows delivery marks, switches and quits', async () => {
    const api = await fixture()
    const { s, done } = await talkingToBob(api)
    expect(s.text()).toContain('* conversations: bob, carol (2 unread), #garden')
    expect(s.text()).toContain('[bob] bob: hi there')
    expect(s.text()).toContain('[bob] me: earlier reply ✓')

    s.input.write('how are you?\n')
    await expect.poll(s.text).toContain('[bob] me: how are you? ✓\n')
    expect(api.calls.filter((c) => c.method === 'send').at(-1)!.args).toEqual(['bob', 'how are you?'])
    api.deliverAll()
    await expect.poll(s.text).toContain('[bob] me: how are you? ✓✓\n')

    api.receive('carol', 'carol', 'three')
    await expect.poll(s.text).toContain('[carol] carol: three')
    s.input.write('/list\n')
    await expect.poll(s.text).toContain('carol (3 unread)')
    s.input.write('/switch carol\n')
    await expect.poll(s.text).toContain('* talking in carol')
    expect(api.calls.some((c) => c.method === 'markRead' && c.args[0] === 'carol')).toBe(true)
    s.input.write('/bogus\n')
    await expect.poll(s.text).toContain('* unknown command /bogus')
    s.input.write('/switch nobody\n')
    await expect.poll(s.text).toContain('* no conversation named nobody')
    s.input.write('/quit\n')
    await done
    expect(s.text().trim().split('\n').at(-1)).toBe('* bye')
  })

  it('/retention shows and sets how long this node keeps the open conversation', async () => {
    const api = await fixture()
    const { s, done } = await talkingToBob(api)
    s.input.write('/retention\n')
    await expect.poll(s.text).toContain('* bob: messages are kept on this node')
    s.input.write('/retention 3d\n')
    await expect.poll(s.text).toContain('* bob: this node deletes messages 3d after storing them')
    expect(api.calls.filter((c) => c.method === 'retention').map((c) => c.args)).toEqual([['bob', undefined], ['bob', 259_200_000]])
    // Redrawn after the retention deleted what was older: Bob's message, read by now, carries no delivery mark (those
    // are for what the user sent).
    expect(s.text().split('\n').filter((l) => l.startsWith('[bob] bob: hi there'))).toEqual(['[bob] bob: hi there', '[bob] bob: hi there'])
    s.input.write('/retention soon\n')
    await expect.poll(s.text).toContain('* usage: /retention [AGE|off]')
    expect(api.calls.filter((c) => c.method === 'retention')).toHaveLength(2)
    s.input.write('/retention off\n')
    await expect.poll(() => s.text().split('* bob: messages are kept on this node').length).toBe(3)
    expect(api.calls.filter((c) => c.method === 'retention').at(-1)!.args).toEqual(['bob', 0])
    s.input.write('/quit\n')
    await done
  })

  it('shows contact requests and accepts them', async () => {
    const api = await fixture()
    api.contacts.set('dave', { name: 'dave', fingerprint: 'dd', state: 'request', verified: false, identityChanged: false })
    const s = screen(false)
    const done = runChat(api, s.io)
    await expect.poll(s.text).toContain('* contact request from dave: /accept dave')
    s.input.write('/accept dave\n')
    await expect.poll(s.text).toContain('* accepted dave')
    expect(api.contacts.get('dave')!.state).toBe('accepted')
    s.input.end()
    await done
  })

  it('warns loudly about a contact whose identity key changed', async () => {
    const api = await fixture()
    api.contacts.get('bob')!.identityChanged = true
    const s = screen(false)
    const done = runChat(api, s.io)
    await expect.poll(s.text).toContain("* !!! bob's identity key changed: compare safety numbers (sotto contact verify bob)")
    s.input.end()
    await done
    const t = screen(true)
    const drawn = runChat(api, t.io)
    await expect.poll(t.text).toContain('!!! identity key changed: bob')
    t.input.write('\u0003')
    await drawn
  })

  it('reports send errors as a notice and keeps going', async () => {
    const api = await fixture()
    const s = screen(false)
    const done = runChat(api, s.io, { to: 'nobody' })
    s.input.write('hello?\n')
    await expect.poll(s.text).toContain('* error: no contact named nobody')
    s.interrupt()
    await done
  })

  it('ends with DaemonNotRunningError when the daemon goes away', async () => {
    const api = await fixture()
    const s = screen(false)
    const done = runChat(api, s.io)
    await expect.poll(s.text).toContain('* talking in')
    api.drop()
    await expect(done).rejects.toBeInstanceOf(DaemonNotRunningError)
  })
})

describe('chat, screen mode driven by keystrokes', () => {
  it('draws header, scrollback and input; Enter sends, Tab switches, Ctrl-C quits', async () => {
    const api = await fixture()
    const s = screen(true)
    const done = runChat(api, s.io, { to: 'bob' })
    await expect.poll(s.text).toContain('bob> ')
    // Alternate screen, header with the current conversation in inverse video and unread counts.
    expect(s.text()).toContain('\u001b[?1049h')
    expect(s.text()).toContain('\u001b[7m bob \u001b[27m')
    expect(s.text()).toContain(' carol (2) ')
    expect(s.text()).toContain('bob: hi there')

    s.input.write('typed')
    await expect.poll(s.text).toContain('bob> typed')
    s.input.write('\u007f!\r')
    await expect.poll(() => api.calls.filter((c) => c.method === 'send').length).toBe(2)
    expect(api.calls.filter((c) => c.method === 'send').at(-1)!.args).toEqual(['bob', 'type!'])
    await expect.poll(s.text).toMatch(/me: type! ✓/)
    api.deliverAll()
    await expect.poll(s.text).toMatch(/me: type! ✓✓/)

    s.input.write('\t')
    await expect.poll(s.text).toContain('carol> ')
    expect(s.text()).toContain('carol: two')

    s.input.write('\u0003')
    await done
    expect(s.text().endsWith('\u001b[?1049l')).toBe(true)
  })
})

describe('chat, delivery before the send returns', () => {
  it('keeps ✓✓ when the delivered event arrives before the send result', async () => {
    const api = await fixture()
    const send = api.send.bind(api)
    api.send = async (to, text) => {
      const m = await send(to, text)
      api.deliverAll() // the daemon's 'delivered' event overtakes the send's own response
      return m
    }
    const { s, done } = await talkingToBob(api)
    s.input.write('fast\n')
    await expect.poll(s.text).toContain('[bob] me: fast ✓✓\n')
    s.input.write('/quit\n')
    await done
    expect(s.text().split('\n').filter((l) => l.startsWith('[bob] me: fast')).at(-1)).toBe('[bob] me: fast ✓✓')
  })
})

describe('chat, names that change under it', () => {
  it('follows a request renamed by the app, accepts it and talks in it', async () => {
    const api = await fixture()
    const request = { name: 'request-1', fingerprint: 'ee', state: 'request' as const, verified: false, identityChanged: false }
    api.contacts.set('request-1', request)
    api.receive('request-1', 'request-1', 'hello from dave')
    const s = screen(false)
    const done = runChat(api, s.io, { to: 'request-1' })
    await expect.poll(s.text).toContain('* contact request from request-1')
    // The app learns the sender's name: the request and its history are now called dave.
    api.contacts.delete('request-1')
    api.contacts.set('dave', { ...request, name: 'dave' })
    for (const m of api.messages) if (m.conversation === 'request-1') Object.assign(m, { conversation: 'dave', from: 'dave' })
    api.receive('dave', 'dave', 'it is dave')
    await expect.poll(s.text).toContain('* contact request from dave: /accept dave')
    s.input.write('/accept dave\n')
    await expect.poll(s.text).toContain('* accepted dave')
    expect(s.text()).toContain('* talking in dave')
    s.input.write('hi dave\n')
    await expect.poll(s.text).toContain('[dave] me: hi dave ✓')
    s.input.write('/list\n')
    await expect.poll(s.text).toMatch(/\* bob \(1 unread\), carol \(2 unread\), dave, #garden\n/)
    s.input.write('/quit\n')
    await done
  })
})
