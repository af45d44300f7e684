import { mkdtemp, rm } from 'node:fs/promises'
import { createConnection, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { DaemonNotRunningError, RemoteError } from '../../src/cli/errors.js'
import {
  checkParams,
  FrameTooLargeError,
  LineDecoder,
  RemoteApi,
  RpcClient,
  RpcErrorCode,
  RpcServer
} from '../../src/cli/rpc.js'
import { FakeApi } from './fake-api.js'

describe('LineDecoder', () => {
  it('splits on newlines across chunks, drops \\r and empty lines', () => {
    const d = new LineDecoder(100)
    expect(d.push(Buffer.from('{"a":'))).toEqual([])
    expect(d.push(Buffer.from('1}\r\n\n{"b":2}\n{"c"'))).toEqual(['{"a":1}', '{"b":2}'])
    expect(d.push(Buffer.from(':3}\n'))).toEqual(['{"c":3}'])
  })
  it('keeps multi-byte UTF-8 split between chunks intact', () => {
    const d = new LineDecoder(100)
    const bytes = Buffer.from('"héllo ✓✓"\n')
    expect([...d.push(bytes.subarray(0, 3)), ...d.push(bytes.subarray(3))]).toEqual(['"héllo ✓✓"'])
  })
  it('refuses a line longer than its bound, even without a newline yet', () => {
    const d = new LineDecoder(8)
    expect(() => d.push(Buffer.from('123456789'))).toThrow(FrameTooLargeError)
    const e = new LineDecoder(8)
    expect(e.push(Buffer.from('12345678\n'))).toEqual(['12345678'])
  })
})

describe('checkParams', () => {
  it('accepts positional params with omitted optionals as null or missing', () => {
    expect(checkParams('contactAdd', ['invite:x'])).toEqual(['invite:x', undefined])
    expect(checkParams('contactAdd', ['invite:x', null])).toEqual(['invite:x', undefined])
    expect(checkParams('read', [])).toEqual([undefined, undefined])
    expect(checkParams('id', undefined)).toEqual([])
  })
  it('rejects wrong types, missing required, too many, and non-arrays', () => {
    expect(() => checkParams('send', ['bob'])).toThrow(/required/)
    expect(() => checkParams('send', ['bob', 5])).toThrow(/string/)
    expect(() => checkParams('read', ['bob', 1.5])).toThrow(/integer/)
    expect(() => checkParams('id', [1])).toThrow(/at most/)
    expect(() => checkParams('send', { to: 'bob' })).toThrow(/array/)
  })
})

describe('RpcServer and RemoteApi over a Unix socket', () => {
  let dir: string
  let path: string
  let api: FakeApi
  let server: RpcServer
  const clients: Socket[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'sotto-rpc-'))
    path = join(dir, 'sotto.sock')
    api = new FakeApi()
    server = new RpcServer(api, 4096)
    await server.listen(path)
  })
  afterEach(async () => {
    for (const c of clients) c.destroy()
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })

  /** A raw connection that collects response lines. */
  const raw = async (): Promise<{ socket: Socket; next: () => Promise<Record<string, unknown>>; ended: Promise<void> }> => {
    const socket = createConnection(path)
    clients.push(socket)
    await new Promise((r) => socket.once('connect', r))
    const decoder = new LineDecoder(1 << 20)
    const lines: Record<string, unknown>[] = []
    let wake: (() => void) | undefined
    socket.on('data', (chunk: Buffer) => {
      for (const l of decoder.push(chunk)) lines.push(JSON.parse(l) as Record<string, unknown>)
      wake?.()
    })
    const ended = new Promise<void>((r) => socket.once('close', () => r()))
    const next = async (): Promise<Record<string, unknown>> => {
      while (lines.length === 0) await new Promise<void>((r) => (wake = r))
      return lines.shift()!
    }
    return { socket, next, ended }
  }

  it('answers a call with the API result', async () => {
    const c = await raw()
    c.socket.write('{"jsonrpc":"2.0","id":7,"method":"contactAdd","params":["invite:bob",null]}\n')
    const res = await c.next()
    expect(res).toMatchObject({ jsonrpc: '2.0', id: 7, result: { name: 'bob', state: 'accepted' } })
  })

  it('maps app errors to -32000 with the app code, and returns null for void results', async () => {
    const c = await raw()
    c.socket.write('{"jsonrpc":"2.0","id":"a","method":"contactRemove","params":["nobody"]}\n')
    expect(await c.next()).toEqual({
      jsonrpc: '2.0',
      id: 'a',
      error: { code: RpcErrorCode.appError, message: 'no contact named nobody', data: { code: 'UNKNOWN_CONTACT' } }
    })
    c.socket.write('{"jsonrpc":"2.0","id":"b","method":"contactAdd","params":["invite:bob"]}\n')
    await c.next()
    c.socket.write('{"jsonrpc":"2.0","id":"c","method":"contactRemove","params":["bob"]}\n')
    expect(await c.next()).toEqual({ jsonrpc: '2.0', id: 'c', result: null })
  })

  it('answers malformed requests with JSON-RPC errors and keeps the connection', async () => {
    const c = await raw()
    c.socket.write('not json\n')
    expect(await c.next()).toMatchObject({ id: null, error: { code: RpcErrorCode.parseError } })
    c.socket.write('[{"jsonrpc":"2.0","id":1,"method":"id"}]\n')
    expect(await c.next()).toMatchObject({ id: null, error: { code: RpcErrorCode.invalidRequest } })
    c.socket.write('{"jsonrpc":"1.0","id":2,"method":"id"}\n')
    expect(await c.next()).toMatchObject({ id: 2, error: { code: RpcErrorCode.invalidRequest } })
    c.socket.write('{"jsonrpc":"2.0","id":3,"method":"toString"}\n')
    expect(await c.next()).toMatchObject({ id: 3, error: { code: RpcErrorCode.methodNotFound } })
    c.socket.write('{"jsonrpc":"2.0","id":4,"method":"send","params":["bob"]}\n')
    expect(await c.next()).toMatchObject({ id: 4, error: { code: RpcErrorCode.invalidParams } })
    c.socket.write('{"jsonrpc":"2.0","id":5,"method":"id"}\n')
    expect(await c.next()).toMatchObject({ id: 5, result: { name: 'me' } })
  })

  it('answers a client that sent its request and shut down its side (half-close), then closes', async () => {
    const socket = createConnection({ path, allowHalfOpen: true })
    clients.push(socket)
    let text = ''
    socket.on('data', (d: Buffer) => (text += d.toString()))
    const closed = new Promise<void>((r) => socket.once('end', () => r()))
    socket.end('{"jsonrpc":"2.0","id":1,"method":"contactAdd","params":["invite:bob"]}\n')
    await closed
    expect(JSON.parse(text)).toMatchObject({ id: 1, result: { name: 'bob' } })
  })

  it('does not answer notifications (requests without id)', async () => {
    const c = await raw()
    c.socket.write('{"jsonrpc":"2.0","method":"contactAdd","params":["invite:carol"]}\n')
    c.socket.write('{"jsonrpc":"2.0","id":1,"method":"contactList"}\n')
    const res = await c.next()
    expect(res.id).toBe(1)
    expect((res.result as { name: string }[]).map((x) => x.name)).toEqual(['carol'])
  })

  it('closes the connection on a request larger than the bound', async () => {
    const c = await raw()
    c.socket.write(`{"jsonrpc":"2.0","id":1,"method":"send","params":["bob","${'x'.repeat(5000)}"]}\n`)
    expect(await c.next()).toMatchObject({ id: null, error: { code: RpcErrorCode.invalidRequest } })
    await c.ended
    expect(c.socket.destroyed).toBe(true)
  })

  it('streams subscription notifications until unsubscribe', async () => {
    const c = await raw()
    c.socket.write('{"jsonrpc":"2.0","id":1,"method":"subscribe"}\n')
    const sub = await c.next()
    expect(sub).toMatchObject({ id: 1, result: { subscription: 1 } })
    api.receive('alice', 'alice', 'hello')
    expect(await c.next()).toMatchObject({
      method: 'message',
      params: { subscription: 1, message: { conversation: 'alice', from: 'alice', text: 'hello', status: 'received' } }
    })
    c.socket.write('{"jsonrpc":"2.0","id":2,"method":"unsubscribe","params":[1]}\n')
    expect(await c.next()).toMatchObject({ id: 2, result: null })
    expect(api.listeners.size).toBe(0)
  })

  it('drops a connection’s subscriptions when it closes', async () => {
    const remote = await RemoteApi.connect(path)
    remote.subscribe(() => {})
    await remote.subscribed()
    expect(api.listeners.size).toBe(1)
    remote.close()
    await expect.poll(() => api.listeners.size).toBe(0)
  })

  it('RemoteApi calls every method and surfaces app errors as RemoteError', async () => {
    const remote = await RemoteApi.connect(path)
    const got: string[] = []
    remote.subscribe((m) => got.push(`${m.text}:${m.status}`))
    await remote.subscribed()
    await remote.contactAdd('invite:bob')
    const m = await remote.send('bob', 'hi')
    expect(m).toMatchObject({ conversation: 'bob', from: 'me', text: 'hi', status: 'sent' })
    api.deliverAll()
    await expect.poll(() => got).toEqual(['hi:sent', 'hi:delivered'])
    expect((await remote.read('bob')).map((x) => x.status)).toEqual(['delivered'])
    expect(await remote.communityCreate('garden')).toMatchObject({ name: 'garden', role: 'admin' })
    expect(await remote.communityRotate('garden')).toMatchObject({ epoch: 1 })
    expect(api.calls.at(-1)).toEqual({ method: 'communityRotate', args: ['garden', undefined] })
    const err = await remote.contactVerify('nobody', false).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(RemoteError)
    expect(err).toMatchObject({ appCode: 'UNKNOWN_CONTACT', message: 'no contact named nobody' })
    remote.close()
  })

  it('reports a stopped daemon to pending calls and close handlers', async () => {
    const remote = await RemoteApi.connect(path)
    const closed = new Promise<void>((r) => remote.onClose(r))
    await server.close()
    await closed
    await expect(remote.id()).rejects.toBeInstanceOf(DaemonNotRunningError)
  })
})

describe('RpcClient.connect', () => {
  it('says the daemon is not running when there is no socket', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-rpc-'))
    await expect(RpcClient.connect(join(dir, 'sotto.sock'))).rejects.toBeInstanceOf(DaemonNotRunningError)
    await rm(dir, { recursive: true, force: true })
  })
})

describe('RpcServer backpressure', () => {
  it('answers every one of many pipelined requests, in spite of the in-flight bound', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sotto-rpc-'))
    const path = join(dir, 'sotto.sock')
    const server = new RpcServer(new FakeApi())
    await server.listen(path)
    const remote = await RemoteApi.connect(path)
    const results = await Promise.all(Array.from({ length: 500 }, () => remote.status()))
    expect(results).toHaveLength(500)
    expect(new Set(results.map((r) => r.peerId))).toEqual(new Set(['12D3KooWFake']))
    remote.close()
    await server.close()
    await rm(dir, { recursive: true, force: true })
  })
})
