// Attack 19: the daemon's local control socket (src/cli/daemon.ts, src/cli/rpc.ts) with a real node behind
// it. Only the user may connect (socket 0600 inside a 0700 data directory; run as root, the test also tries
// as another user); malformed requests get JSON-RPC errors and the daemon keeps answering.
import { spawnSync } from 'node:child_process'
import { chmod, mkdir, stat } from 'node:fs/promises'
import { createConnection, type Socket } from 'node:net'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { initSotto, openSotto } from '../../src/app/index.js'
import { type RunningDaemon, startDaemon } from '../../src/cli/daemon.js'
import { MAX_REQUEST_BYTES, RpcErrorCode } from '../../src/cli/rpc.js'
import { ARGON2, cleanup, PASSPHRASE, tempHome } from '../integration/helpers.js'

/** A raw connection: write lines, read JSON replies one by one. */
function connect(path: string): Promise<{ socket: Socket; next: () => Promise<Record<string, unknown>>; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path)
    const queue: Record<string, unknown>[] = []
    const waiters: Array<(v: Record<string, unknown>) => void> = []
    let buffer = ''
    const ended = new Promise<void>((r) => socket.once('close', () => r()))
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8')
      for (let nl = buffer.indexOf('\n'); nl >= 0; nl = buffer.indexOf('\n')) {
        const msg = JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>
        buffer = buffer.slice(nl + 1)
        const w = waiters.shift()
        if (w) w(msg)
        else queue.push(msg)
      }
    })
    socket.once('error', reject)
    socket.once('connect', () =>
      resolve({
        socket,
        ended,
        next: () =>
          new Promise((r, j) => {
            const q = queue.shift()
            if (q) return r(q)
            const t = setTimeout(() => j(new Error('no reply')), 5_000)
            waiters.push((v) => {
              clearTimeout(t)
              r(v)
            })
          })
      })
    )
  })
}

describe('attack 19: the local control socket', () => {
  let home: string
  let daemon: RunningDaemon

  beforeAll(async () => {
    // A short path: Unix socket paths are limited to ~104 bytes.
    home = join(await tempHome('s19-'), 'h')
    await mkdir(home, { mode: 0o755 })
    await chmod(home, 0o755)
    await initSotto({ home, passphrase: PASSPHRASE, name: 'daemon user', argon2: ARGON2 })
    daemon = await startDaemon((o) => openSotto({ ...o, argon2: ARGON2 }), {
      home,
      passphrase: PASSPHRASE,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      mdns: false
    })
  }, 30_000)

  afterAll(async () => {
    await daemon?.stop()
    await cleanup()
  })

  it('attack 19: only the user can connect: socket 0600 in a 0700 data directory, and another user is refused', async () => {
    const dir = await stat(home)
    expect(dir.mode & 0o777).toBe(0o700) // it was 0755 before the daemon started
    const sock = await stat(daemon.socketPath)
    expect(sock.isSocket()).toBe(true)
    expect(sock.mode & 0o777).toBe(0o600)
    expect(sock.uid).toBe(process.getuid?.())
    if (process.getuid?.() === 0) {
      // Another user (nobody) tries to connect: the directory and the socket refuse it.
      const r = spawnSync(
        process.execPath,
        ['-e', `require('net').createConnection(${JSON.stringify(daemon.socketPath)}).on('connect',()=>{console.log('CONNECTED');process.exit(0)}).on('error',e=>{console.log(e.code);process.exit(3)})`],
        { uid: 65534, gid: 65534, cwd: '/', encoding: 'utf8', timeout: 10_000 }
      )
      expect(r.stdout.trim()).toBe('EACCES')
      expect(r.status).toBe(3)
    }
    // The user connects.
    const c = await connect(daemon.socketPath)
    c.socket.write('{"jsonrpc":"2.0","id":1,"method":"id"}\n')
    expect(await c.next()).toMatchObject({ id: 1, result: { name: 'daemon user' } })
    c.socket.destroy()
  })

  it('attack 19: malformed requests get JSON-RPC errors and the daemon keeps working', async () => {
    const c = await connect(daemon.socketPath)
    const bad: Array<[string, number]> = [
      ['not json at all', RpcErrorCode.parseError],
      ['{"jsonrpc":"2.0","id":1,"method":', RpcErrorCode.parseError],
      ['"a string"', RpcErrorCode.invalidRequest],
      ['null', RpcErrorCode.invalidRequest],
      ['[{"jsonrpc":"2.0","id":1,"method":"id"}]', RpcErrorCode.invalidRequest],
      ['{"jsonrpc":"2.0","id":{"x":1},"method":"id"}', RpcErrorCode.invalidRequest],
      ['{"jsonrpc":"2.0","id":2,"method":"__proto__"}', RpcErrorCode.methodNotFound],
      ['{"jsonrpc":"2.0","id":3,"method":"constructor"}', RpcErrorCode.methodNotFound],
      ['{"jsonrpc":"2.0","id":4,"method":"stop"}', RpcErrorCode.methodNotFound],
      ['{"jsonrpc":"2.0","id":5,"method":"send","params":{"to":"bob"}}', RpcErrorCode.invalidParams],
      ['{"jsonrpc":"2.0","id":6,"method":"send","params":["bob",1]}', RpcErrorCode.invalidParams],
      ['{"jsonrpc":"2.0","id":7,"method":"read","params":[null,1e308]}', RpcErrorCode.invalidParams],
      ['{"jsonrpc":"2.0","id":8,"method":"contactAdd","params":["not an invite"]}', RpcErrorCode.appError],
      ['{"jsonrpc":"2.0","id":9,"method":"send","params":["nobody","hi"]}', RpcErrorCode.appError]
    ]
    for (const [line, code] of bad) {
      c.socket.write(`${line}\n`)
      const reply = await c.next()
      expect(reply['error'], line).toMatchObject({ code })
      expect(reply['result'], line).toBeUndefined()
    }
    // Still working on the same connection.
    c.socket.write('{"jsonrpc":"2.0","id":10,"method":"status"}\n')
    expect(await c.next()).toMatchObject({ id: 10, result: { peerId: daemon.id.peerId } })
    // A request beyond the size bound: an error and the connection is closed; the daemon serves others.
    c.socket.write(`{"jsonrpc":"2.0","id":11,"method":"send","params":["x","${'y'.repeat(MAX_REQUEST_BYTES)}"]}\n`)
    expect(await c.next()).toMatchObject({ id: null, error: { code: RpcErrorCode.invalidRequest } })
    await c.ended
    const d = await connect(daemon.socketPath)
    d.socket.write('{"jsonrpc":"2.0","id":12,"method":"communityList"}\n')
    expect(await d.next()).toEqual({ jsonrpc: '2.0', id: 12, result: [] })
    d.socket.destroy()
  })
})
