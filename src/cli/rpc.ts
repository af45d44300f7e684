/**
 * The daemon's local control API: JSON-RPC 2.0 over newline-delimited JSON on a Unix domain socket.
 *
 * - One request or response per line (UTF-8 JSON, `\n`-terminated); a line longer than
 *   `MAX_REQUEST_BYTES` is answered with an Invalid Request error and the connection is closed.
 * - Methods: one per `SottoApi` method, same name, `params` a positional array in the method's order
 *   (`null` for an omitted optional argument), e.g. `{"jsonrpc":"2.0","id":1,"method":"send","params":["bob","hi"]}`.
 * - `subscribe` (no params) returns `{ subscription: n }`; the server then sends notifications
 *   `{"jsonrpc":"2.0","method":"message","params":{"subscription":n,"message":MessageView}}` for every
 *   message stored or changed, until `unsubscribe` `[n]` or the client ends its side of the connection.
 * - A client may half-close after its requests: the server answers them, then closes.
 * - Batches are not supported (answered with Invalid Request).
 * - App errors: code -32000, `message` the app's message, `data.code` the app's error code.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { logger } from '../app/log.js'
import type {
  CommunityView,
  ContactView,
  IdView,
  MemberView,
  MessageView,
  SottoApi,
  StatusView,
  VerifyView
} from '../app/api.js'
import { appErrorCode, CliError, DaemonNotRunningError, RemoteError } from './errors.js'

const log = logger('sotto:rpc')

/** Largest request line the daemon accepts (1 MiB). */
export const MAX_REQUEST_BYTES = 1024 * 1024
/** Largest response line the client accepts (64 MiB; history listings can be long). */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024

/** Requests of one connection worked on at once; beyond this the server stops reading from it. */
export const MAX_IN_FLIGHT = 64
/** Output the server buffers for a client that does not read, before it drops the connection (16 MiB). */
export const MAX_UNREAD_BYTES = 16 * 1024 * 1024

/** JSON-RPC 2.0 error codes used here. */
export const RpcErrorCode = {
  parseError: -32700,
  invalidRequest: -32600,
  methodNotFound: -32601,
  invalidParams: -32602,
  internalError: -32603,
  /** An app error; `data.code` holds the app's code. */
  appError: -32000
} as const

/** A line that exceeded the decoder's bound. */
export class FrameTooLargeError extends Error {
  /** @param max the bound in bytes */
  constructor(max: number) {
    super(`line longer than ${max} bytes`)
    this.name = 'FrameTooLargeError'
  }
}

/** Splits a byte stream into `\n`-terminated lines, refusing any line longer than `maxLineBytes`. */
export class LineDecoder {
  readonly maxLineBytes: number
  #chunks: Buffer[] = []
  #size = 0

  /** @param maxLineBytes bound on one line, without its terminator */
  constructor(maxLineBytes: number) {
    this.maxLineBytes = maxLineBytes
  }

  /** Feeds bytes; returns the complete, non-empty lines they finish. Throws FrameTooLargeError. */
  push(chunk: Buffer): string[] {
    const lines: string[] = []
    let start = 0
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.#append(chunk.subarray(start, nl))
      let line = Buffer.concat(this.#chunks).toString('utf8')
      if (line.endsWith('\r')) line = line.slice(0, -1)
      this.#chunks = []
      this.#size = 0
      if (line.trim() !== '') lines.push(line)
      start = nl + 1
    }
    if (start < chunk.length) this.#append(chunk.subarray(start))
    return lines
  }

  #append(piece: Buffer): void {
    if (this.#size + piece.length > this.maxLineBytes) throw new FrameTooLargeError(this.maxLineBytes)
    this.#chunks.push(piece)
    this.#size += piece.length
  }
}

type ParamKind = 'string' | 'string?' | 'boolean' | 'number?'

/** The RPC methods (all of `SottoApi` except `subscribe`) and their positional parameter kinds. */
export const METHODS = {
  id: [],
  status: [],
  contactAdd: ['string', 'string?'],
  contactList: [],
  contactAccept: ['string'],
  contactVerify: ['string', 'boolean'],
  contactRemove: ['string'],
  send: ['string', 'string'],
  read: ['string?', 'number?'],
  markRead: ['string'],
  clear: ['string', 'number?'],
  retention: ['string', 'number?'],
  communityCreate: ['string'],
  communityInvite: ['string'],
  communityJoin: ['string', 'string?'],
  communityList: [],
  communityMembers: ['string'],
  communityLeave: ['string'],
  communityRotate: ['string', 'string?'],
  communityPromote: ['string', 'string'],
  relayUse: ['string']
} as const satisfies Record<Exclude<keyof SottoApi, 'subscribe'>, readonly ParamKind[]>

/** Name of a callable RPC method. */
export type MethodName = keyof typeof METHODS

type JsonId = string | number | null

interface RpcErrorObject {
  code: number
  message: string
  data?: { code?: string }
}

function isMethod(name: string): name is MethodName {
  return Object.hasOwn(METHODS, name)
}

/** Checks positional params against their kinds; returns them with `null` turned into `undefined`. */
export function checkParams(method: MethodName, params: unknown): unknown[] {
  const kinds: readonly ParamKind[] = METHODS[method]
  const list = params === undefined ? [] : params
  if (!Array.isArray(list)) throw new Error('params must be an array')
  if (list.length > kinds.length) throw new Error(`${method} takes at most ${kinds.length} params`)
  return kinds.map((kind, i) => {
    const value: unknown = list[i] ?? undefined
    const optional = kind.endsWith('?')
    if (value === undefined) {
      if (optional) return undefined
      throw new Error(`param ${i + 1} of ${method} is required`)
    }
    const type = kind.replace('?', '')
    if (typeof value !== type) throw new Error(`param ${i + 1} of ${method} must be a ${type}`)
    if (type === 'number' && !Number.isSafeInteger(value)) throw new Error(`param ${i + 1} of ${method} must be an integer`)
    return value
  })
}

/** The JSON-RPC error object for an error thrown by the API. */
export function toRpcError(err: unknown): RpcErrorObject {
  const code = appErrorCode(err)
  if (code !== undefined) {
    const message = err instanceof Error ? err.message : String(err)
    return { code: RpcErrorCode.appError, message, data: { code } }
  }
  if (err instanceof CliError) return { code: RpcErrorCode.appError, message: err.message }
  log.error('internal error %e', err)
  const message = err instanceof Error ? err.message : String(err)
  return { code: RpcErrorCode.internalError, message: `internal error: ${message}` }
}

/** Serves a `SottoApi` to the connections of a Unix socket. */
export class RpcServer {
  readonly api: SottoApi
  readonly maxRequestBytes: number
  #server: Server | undefined
  #sockets = new Set<Socket>()

  /** @param api the API to serve; @param maxRequestBytes bound on one request line */
  constructor(api: SottoApi, maxRequestBytes = MAX_REQUEST_BYTES) {
    this.api = api
    this.maxRequestBytes = maxRequestBytes
  }

  /** Listens on `path` (which must not exist) and makes the socket readable by the user only. */
  async listen(path: string): Promise<void> {
    // Half-open: a client may send its requests and shut down its side (`nc -N`), then read the answers.
    const server = createServer({ allowHalfOpen: true }, (socket) => this.handleConnection(socket))
    this.#server = server
    // The umask closes the window between bind() and chmod(); the data directory is 0700 anyway.
    const oldMask = process.umask(0o177)
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject)
        server.listen(path, () => {
          server.off('error', reject)
          resolve()
        })
      })
    } finally {
      process.umask(oldMask)
    }
  }

  /** Handles one client connection (exposed for tests with any socket-like pair). */
  handleConnection(socket: Socket): void {
    this.#sockets.add(socket)
    const decoder = new LineDecoder(this.maxRequestBytes)
    const subscriptions = new Map<number, () => void>()
    let nextSubscription = 1
    const send = (message: object): void => {
      if (socket.destroyed || !socket.writable) return
      // A client that does not read its answers or notifications is dropped rather than buffered forever.
      if (socket.writableLength > MAX_UNREAD_BYTES) {
        log('dropping a client that does not read (%d bytes unread)', socket.writableLength)
        socket.destroy()
        return
      }
      socket.write(JSON.stringify(message) + '\n')
    }
    let inFlight = 0
    let inputEnded = false
    // Once the client has finished sending (half-close) and every answer is out, close our side too.
    // A subscription lasts only while the client keeps its side open.
    const maybeEnd = (): void => {
      if (inputEnded && inFlight === 0) socket.end()
    }
    socket.on('end', () => {
      inputEnded = true
      for (const unsubscribe of subscriptions.values()) unsubscribe()
      subscriptions.clear()
      maybeEnd()
    })
    const cleanup = (): void => {
      for (const unsubscribe of subscriptions.values()) unsubscribe()
      subscriptions.clear()
      this.#sockets.delete(socket)
    }
    socket.on('close', cleanup)
    socket.on('error', (err) => log('connection error %s', err.message))
    socket.on('data', (chunk: Buffer) => {
      let lines: string[]
      try {
        lines = decoder.push(chunk)
      } catch (err) {
        send({ jsonrpc: '2.0', id: null, error: { code: RpcErrorCode.invalidRequest, message: (err as Error).message } })
        socket.end()
        socket.destroySoon()
        return
      }
      for (const line of lines) {
        const respond = (id: JsonId | undefined, body: { result: unknown } | { error: RpcErrorObject }): void => {
          if (id !== undefined) send({ jsonrpc: '2.0', id, ...body })
        }
        let request: unknown
        try {
          request = JSON.parse(line)
        } catch {
          respond(null, { error: { code: RpcErrorCode.parseError, message: 'parse error' } })
          continue
        }
        if (typeof request !== 'object' || request === null || Array.isArray(request)) {
          const message = Array.isArray(request) ? 'batches are not supported' : 'a request must be an object'
          respond(null, { error: { code: RpcErrorCode.invalidRequest, message } })
          continue
        }
        const { jsonrpc, id: rawId, method, params } = request as Record<string, unknown>
        const idValid = rawId === undefined || rawId === null || typeof rawId === 'string' || typeof rawId === 'number'
        if (jsonrpc !== '2.0' || typeof method !== 'string' || !idValid) {
          respond(idValid ? ((rawId as JsonId | undefined) ?? null) : null, {
            error: { code: RpcErrorCode.invalidRequest, message: 'invalid request' }
          })
          continue
        }
        const id = rawId as JsonId | undefined
        if (method === 'subscribe') {
          const n = nextSubscription++
          const unsubscribe = this.api.subscribe((message) => {
            send({ jsonrpc: '2.0', method: 'message', params: { subscription: n, message } })
          })
          subscriptions.set(n, unsubscribe)
          respond(id, { result: { subscription: n } })
          continue
        }
        if (method === 'unsubscribe') {
          const n = Array.isArray(params) ? params[0] : undefined
          const unsubscribe = typeof n === 'number' ? subscriptions.get(n) : undefined
          if (unsubscribe === undefined) {
            respond(id, { error: { code: RpcErrorCode.invalidParams, message: 'unknown subscription' } })
            continue
          }
          unsubscribe()
          subscriptions.delete(n as number)
          respond(id, { result: null })
          continue
        }
        if (!isMethod(method)) {
          respond(id, { error: { code: RpcErrorCode.methodNotFound, message: `method not found: ${method}` } })
          continue
        }
        let args: unknown[]
        try {
          args = checkParams(method, params)
        } catch (err) {
          respond(id, { error: { code: RpcErrorCode.invalidParams, message: (err as Error).message } })
          continue
        }
        const call = this.api[method] as (...a: unknown[]) => Promise<unknown>
        inFlight++
        Promise.resolve()
          .then(() => call.apply(this.api, args))
          .then(
            (result) => respond(id, { result: result ?? null }),
            (err: unknown) => respond(id, { error: toRpcError(err) })
          )
          .finally(() => {
            inFlight--
            if (inFlight < MAX_IN_FLIGHT && socket.isPaused()) socket.resume()
            maybeEnd()
          })
        // Backpressure: stop reading requests while too many are being worked on.
        if (inFlight >= MAX_IN_FLIGHT) socket.pause()
      }
    })
  }

  /** Stops accepting connections and closes the open ones. */
  async close(): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    const server = this.#server
    this.#server = undefined
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

interface Pending {
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

/** A JSON-RPC client on the daemon's socket. */
export class RpcClient {
  #socket: Socket
  #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false
  #notificationHandlers = new Set<(method: string, params: unknown) => void>()
  #closeHandlers = new Set<() => void>()

  private constructor(socket: Socket) {
    this.#socket = socket
    const decoder = new LineDecoder(MAX_RESPONSE_BYTES)
    socket.on('data', (chunk: Buffer) => {
      let lines: string[]
      try {
        lines = decoder.push(chunk)
      } catch (err) {
        this.#fail(err as Error)
        socket.destroy()
        return
      }
      for (const line of lines) this.#onLine(line)
    })
    socket.on('error', (err) => this.#fail(err))
    socket.on('close', () => this.#fail(new DaemonNotRunningError('the daemon stopped')))
  }

  /** Connects to the socket; a missing socket or nobody listening is `DaemonNotRunningError`. */
  static connect(path: string): Promise<RpcClient> {
    return new Promise((resolve, reject) => {
      const socket = createConnection(path)
      socket.once('connect', () => {
        socket.removeAllListeners('error')
        resolve(new RpcClient(socket))
      })
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new DaemonNotRunningError())
        else if (err.code === 'EACCES') reject(new CliError(`cannot open the control socket ${path}: permission denied`))
        else reject(new CliError(`cannot connect to the daemon: ${err.message}`))
      })
    })
  }

  /** Calls a method; resolves with its result or rejects with a `RemoteError`. */
  call(method: string, params: unknown[] = []): Promise<unknown> {
    if (this.#closed) return Promise.reject(new DaemonNotRunningError('the daemon stopped'))
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject })
      this.#socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n')
    })
  }

  /** Registers a handler for server notifications. */
  onNotification(handler: (method: string, params: unknown) => void): void {
    this.#notificationHandlers.add(handler)
  }

  /** Registers a handler for the end of the connection. */
  onClose(handler: () => void): void {
    if (this.#closed) handler()
    else this.#closeHandlers.add(handler)
  }

  /** Closes the connection. */
  close(): void {
    this.#closed = true
    this.#socket.end()
    this.#socket.destroy()
  }

  #onLine(line: string): void {
    let message: Record<string, unknown>
    try {
      message = JSON.parse(line) as Record<string, unknown>
    } catch {
      log.error('unparseable line from the daemon')
      return
    }
    if (typeof message.method === 'string') {
      for (const handler of this.#notificationHandlers) handler(message.method, message.params)
      return
    }
    const id = message.id
    const pending = typeof id === 'number' ? this.#pending.get(id) : undefined
    if (pending === undefined) return
    this.#pending.delete(id as number)
    const error = message.error as RpcErrorObject | undefined
    if (error) pending.reject(new RemoteError(error.code, error.message, error.data?.code))
    else pending.resolve(message.result)
  }

  #fail(err: Error): void {
    const wasClosed = this.#closed
    this.#closed = true
    for (const pending of this.#pending.values()) pending.reject(err)
    this.#pending.clear()
    if (!wasClosed || this.#closeHandlers.size > 0) {
      const handlers = [...this.#closeHandlers]
      this.#closeHandlers.clear()
      for (const handler of handlers) handler()
    }
  }
}

/** A connection to the daemon: the API plus the connection's lifecycle. */
export interface ApiConnection extends SottoApi {
  close(): void
  /** Calls `handler` once when the connection ends. */
  onClose(handler: () => void): void
  /** Resolves once a `subscribe` made on this connection is active on the daemon. */
  subscribed(): Promise<void>
}

/** A `SottoApi` backed by the daemon over its socket. */
export class RemoteApi implements ApiConnection {
  readonly client: RpcClient
  #listeners = new Set<(message: MessageView) => void>()
  #subscription: Promise<number> | undefined

  /** @param client a connected client */
  constructor(client: RpcClient) {
    this.client = client
    client.onNotification((method, params) => {
      if (method !== 'message') return
      const message = (params as { message?: MessageView } | undefined)?.message
      if (message) for (const listener of this.#listeners) listener(message)
    })
  }

  /** Connects to the daemon of a data directory's socket. */
  static async connect(path: string): Promise<RemoteApi> {
    return new RemoteApi(await RpcClient.connect(path))
  }

  #call<T>(method: MethodName, ...params: unknown[]): Promise<T> {
    // Trailing undefined optionals become null, which the server reads as "omitted".
    return this.client.call(method, params.map((p) => (p === undefined ? null : p))) as Promise<T>
  }

  /** Resolves once the daemon has registered this client's subscription (if any). */
  async subscribed(): Promise<void> {
    await this.#subscription
  }

  /** Closes the connection. */
  close(): void {
    this.client.close()
  }

  /** Calls `handler` once when the connection ends (the daemon stopped or `close()`). */
  onClose(handler: () => void): void {
    this.client.onClose(handler)
  }

  id(): Promise<IdView> {
    return this.#call('id')
  }
  status(): Promise<StatusView> {
    return this.#call('status')
  }
  contactAdd(invite: string, name?: string): Promise<ContactView> {
    return this.#call('contactAdd', invite, name)
  }
  contactList(): Promise<ContactView[]> {
    return this.#call('contactList')
  }
  contactAccept(name: string): Promise<ContactView> {
    return this.#call('contactAccept', name)
  }
  contactVerify(name: string, confirm: boolean): Promise<VerifyView> {
    return this.#call('contactVerify', name, confirm)
  }
  async contactRemove(name: string): Promise<void> {
    await this.#call('contactRemove', name)
  }
  send(to: string, text: string): Promise<MessageView> {
    return this.#call('send', to, text)
  }
  read(to?: string, limit?: number): Promise<MessageView[]> {
    return this.#call('read', to, limit)
  }
  async markRead(to: string): Promise<void> {
    await this.#call('markRead', to)
  }
  clear(to: string, olderThanMs?: number): Promise<number> {
    return this.#call('clear', to, olderThanMs)
  }
  retention(to: string, ageMs?: number): Promise<number> {
    return this.#call('retention', to, ageMs)
  }
  subscribe(listener: (message: MessageView) => void): () => void {
    this.#listeners.add(listener)
    if (this.#subscription === undefined) {
      this.#subscription = this.client.call('subscribe').then((r) => (r as { subscription: number }).subscription)
      this.#subscription.catch(() => {})
    }
    return () => {
      this.#listeners.delete(listener)
      if (this.#listeners.size === 0 && this.#subscription !== undefined) {
        const subscription = this.#subscription
        this.#subscription = undefined
        subscription.then((n) => this.client.call('unsubscribe', [n])).catch(() => {})
      }
    }
  }
  communityCreate(name: string): Promise<CommunityView> {
    return this.#call('communityCreate', name)
  }
  communityInvite(name: string): Promise<string> {
    return this.#call('communityInvite', name)
  }
  communityJoin(invite: string, name?: string): Promise<CommunityView> {
    return this.#call('communityJoin', invite, name)
  }
  communityList(): Promise<CommunityView[]> {
    return this.#call('communityList')
  }
  communityMembers(name: string): Promise<MemberView[]> {
    return this.#call('communityMembers', name)
  }
  async communityLeave(name: string): Promise<void> {
    await this.#call('communityLeave', name)
  }
  communityRotate(name: string, remove?: string): Promise<CommunityView> {
    return this.#call('communityRotate', name, remove)
  }
  communityPromote(name: string, member: string): Promise<MemberView> {
    return this.#call('communityPromote', name, member)
  }
  relayUse(address: string): Promise<string[]> {
    return this.#call('relayUse', address)
  }
}
