/**
 * `sotto daemon`: opens the user's node and serves it on the control socket until stopped.
 */
import { createConnection } from 'node:net'
import { unlink } from 'node:fs/promises'
import { logger } from '../app/log.js'
import type { IdView, SottoApp, SottoOptions } from '../app/api.js'
import { CliError } from './errors.js'
import { ensureHome, socketPath } from './home.js'
import { RpcServer } from './rpc.js'

const log = logger('sotto:daemon')

/** What is at a socket path: a daemon answering, a leftover file, or nothing. */
export type SocketState = 'live' | 'stale' | 'absent'

/** Probes a control socket by connecting to it. */
export function probeSocket(path: string): Promise<SocketState> {
  return new Promise((resolve) => {
    const socket = createConnection(path)
    socket.once('connect', () => {
      socket.destroy()
      resolve('live')
    })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy()
      resolve(err.code === 'ENOENT' ? 'absent' : 'stale')
    })
  })
}

/** Fails when a daemon already serves `home`; removes a stale socket left by a crashed one. */
export async function claimSocket(home: string): Promise<string> {
  const path = socketPath(home)
  const state = await probeSocket(path)
  if (state === 'live') throw new CliError(`a sotto daemon is already running for ${home}`)
  if (state === 'stale') {
    log('removing stale socket %s', path)
    await unlink(path).catch(() => {})
  }
  return path
}

/**
 * libp2p reports listen failures as one long multi-line message; the user needs the address and the
 * reason ("address already in use"). Returns undefined for other errors.
 */
export function listenError(err: unknown): CliError | undefined {
  if (!(err instanceof Error)) return undefined
  if (err.name !== 'UnsupportedListenAddressesError' && !err.message.includes('failed to be listened on')) return undefined
  const detail = err.message
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .find((l) => l.startsWith('/'))
  return new CliError(detail ? `cannot listen on ${detail.replace(/: (\w*Error): /, ': ')}` : 'cannot listen on the configured addresses')
}

/** A daemon that serves its node on the control socket. */
export interface RunningDaemon {
  app: SottoApp
  socketPath: string
  id: IdView
  /** Closes the socket, stops the node, removes the socket file. Safe to call twice. */
  stop(): Promise<void>
}

/** Opens the node with `open` and serves it on `<home>/sotto.sock`. */
export async function startDaemon(
  open: (options: SottoOptions) => Promise<SottoApp>,
  options: SottoOptions
): Promise<RunningDaemon> {
  await ensureHome(options.home)
  const path = await claimSocket(options.home)
  let app: SottoApp
  try {
    app = await open(options)
  } catch (err) {
    throw listenError(err) ?? err
  }
  const server = new RpcServer(app)
  try {
    await server.listen(path)
  } catch (err) {
    await app.stop().catch(() => {})
    throw new CliError(`cannot listen on ${path}: ${(err as Error).message}`)
  }
  let stopping: Promise<void> | undefined
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      await server.close()
      await unlink(path).catch(() => {})
      await app.stop()
    })()
    return stopping
  }
  let id: IdView
  try {
    id = await app.id()
  } catch (err) {
    await stop()
    throw err
  }
  return { app, socketPath: path, id, stop }
}
