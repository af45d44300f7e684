/**
 * `sotto chat`: the interactive screen. Two renderers share one model:
 * - screen mode (a terminal): header with conversations and unread counts, contact requests, the
 *   scrollback of the current conversation, a notice line and an input line, redrawn with ANSI codes;
 *   keys: Enter sends, Tab / Shift-Tab switch conversations, PgUp/PgDn scroll, Ctrl-C or Ctrl-D quit.
 * - plain mode (`--plain`, or stdin/stdout not a terminal): a log of lines, read line by line, which
 *   is what scripts and tests drive. Lines: `[conversation] from: text mark` for messages (printed again
 *   when the delivery mark changes) and `* ...` for notices.
 * Commands in both: /switch NAME, /accept NAME, /list, /help, /quit; any other line is sent to the
 * current conversation.
 */
import { createInterface, emitKeypressEvents } from 'node:readline'
import type { MessageView } from '../app/api.js'
import { AGE_FORMAT, parseAge, retentionLine } from './age.js'
import { DaemonNotRunningError } from './errors.js'
import { clean, formatTime, mark, type Out, statusRank, width } from './output.js'
import type { ApiConnection } from './rpc.js'

/** Streams and hooks of the chat screen. */
export interface ChatIo {
  input: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  output: Out & { columns?: number; rows?: number; on?: (event: 'resize', listener: () => void) => unknown }
  /** Screen mode (true) or plain line mode (false). */
  tty: boolean
  onInterrupt(handler: () => void): () => void
}

/** Options of `runChat`. */
export interface ChatOptions {
  /** Conversation to open first. */
  to?: string
  /** How many past messages to load (default 500). */
  history?: number
}

interface Conversation {
  name: string
  messages: MessageView[]
  unread: number
}

const HELP = '/switch NAME  /accept NAME  /list  /retention [AGE|off]  /quit  (Tab switches, PgUp/PgDn scroll)'

/** The chat's state, independent of how it is drawn. */
export class ChatModel {
  readonly conversations = new Map<string, Conversation>()
  requests: string[] = []
  /** Contacts whose identity key changed and was not accepted yet. */
  identityChanged: string[] = []
  /** Notices produced while loading, shown once the screen is up. */
  notices: string[] = []
  current: string | undefined
  notice = ''

  /** The conversation named `name`, created if new. */
  conversation(name: string): Conversation {
    let c = this.conversations.get(name)
    if (c === undefined) {
      c = { name, messages: [], unread: 0 }
      this.conversations.set(name, c)
    }
    return c
  }

  /** Stores or updates a message; returns whether it is new and whether its status changed. */
  upsert(m: MessageView): { isNew: boolean; changed: boolean } {
    const c = this.conversation(m.conversation)
    const i = c.messages.findIndex((x) => x.id === m.id)
    if (i === -1) {
      c.messages.push(m)
      c.messages.sort((a, b) => a.sentAt - b.sentAt)
      if (m.from !== 'me' && m.status === 'received' && m.conversation !== this.current) c.unread++
      return { isNew: true, changed: true }
    }
    const old = c.messages[i]!
    // An older status arriving late (e.g. the send's own result after the 'delivered' event) is ignored.
    if (statusRank(m.status) < statusRank(old.status)) return { isNew: false, changed: false }
    c.messages[i] = m
    return { isNew: false, changed: old.status !== m.status }
  }

  /** Conversation names in display order: contacts, then communities, each alphabetical. */
  names(): string[] {
    return [...this.conversations.keys()].sort((a, b) => {
      const ca = a.startsWith('#')
      const cb = b.startsWith('#')
      return ca === cb ? a.localeCompare(b) : ca ? 1 : -1
    })
  }

  /** The name `step` places after the current one (wrapping). */
  neighbour(step: number): string | undefined {
    const names = this.names()
    if (names.length === 0) return undefined
    const i = this.current === undefined ? -1 : names.indexOf(this.current)
    return names[(i + step + names.length) % names.length]
  }

  /** Finds a conversation by exact name, or by unique prefix. */
  find(name: string): string | undefined {
    if (this.conversations.has(name)) return name
    const hits = this.names().filter((n) => n.startsWith(name) || n.startsWith(`#${name}`))
    return hits.length === 1 ? hits[0] : undefined
  }
}

/** Runs the chat until /quit, Ctrl-C, end of input, or the daemon stopping. */
export async function runChat(api: ApiConnection, io: ChatIo, options: ChatOptions = {}): Promise<void> {
  const model = new ChatModel()
  const out = io.output
  let live = false
  let quitResolve!: (error?: Error) => void
  const quit = new Promise<Error | undefined>((resolve) => (quitResolve = resolve))
  let view: View
  let viewRef: View | undefined

  // While (re)loading, events wait here and are applied after the snapshot (a newer status wins).
  let pending: MessageView[] | undefined = []

  /**
   * Rebuilds the conversations from the daemon: contacts, requests, communities and recent history.
   * Names can change under us (a request is renamed once its sender's name is known, an accepted request
   * becomes a contact), so the chat reloads instead of patching when it sees a name it does not know.
   */
  let reloads = Promise.resolve<string[]>([])
  const reload = (): Promise<string[]> => {
    // One at a time: a snapshot replaces the model, so two must not interleave.
    reloads = reloads.then(reloadNow, reloadNow)
    return reloads
  }
  const reloadNow = async (): Promise<string[]> => {
    pending ??= []
    try {
      const [contacts, communities, history] = await Promise.all([
        api.contactList(),
        api.communityList(),
        api.read(undefined, options.history ?? 500)
      ])
      const unread = new Map([...model.conversations].map(([name, c]) => [name, c.unread]))
      const before = new Set(model.requests)
      const changedBefore = new Set(model.identityChanged)
      model.identityChanged = contacts.filter((c) => c.identityChanged).map((c) => c.name)
      for (const name of model.identityChanged) {
        if (!changedBefore.has(name)) {
          model.notices.push(`!!! ${clean(name)}'s identity key changed: compare safety numbers (sotto contact verify ${clean(name)})`)
        }
      }
      model.conversations.clear()
      for (const c of contacts) model.conversation(c.name)
      model.requests = contacts.filter((c) => c.state === 'request').map((c) => c.name)
      for (const c of communities) model.conversation(`#${c.name}`)
      for (const m of history) model.upsert(m)
      // Counts already cleared by reading stay cleared.
      for (const [name, c] of model.conversations) if (unread.has(name)) c.unread = Math.min(c.unread, unread.get(name)!)
      return model.requests.filter((r) => !before.has(r))
    } finally {
      const queued = pending ?? []
      pending = undefined
      for (const m of queued) onMessage(m)
    }
  }

  const onMessage = (m: MessageView): void => {
    if (pending !== undefined || !live) return void (pending ??= []).push(m)
    const known = model.conversations.has(m.conversation)
    const { isNew, changed } = model.upsert(m)
    if (!changed) return
    if (isNew && m.from !== 'me' && m.conversation === model.current) api.markRead(m.conversation).catch(() => {})
    view.message(m, isNew)
    if (!known && !m.conversation.startsWith('#')) {
      reload()
        .then((fresh) => {
          for (const name of fresh) view.notice(`contact request from ${clean(name)}: /accept ${clean(name)}`)
          for (const notice of model.notices.splice(0)) view.notice(notice)
        })
        .catch(() => {})
    }
  }
  const unsubscribe = api.subscribe(onMessage)
  api.onClose(() => quitResolve(new DaemonNotRunningError('the daemon stopped')))
  const detachInterrupt = io.onInterrupt(() => quitResolve())

  try {
    await api.subscribed()
    await reload()
    const first = options.to ?? model.names().find((n) => model.conversation(n).unread > 0) ?? model.names()[0]
    if (first !== undefined) await switchTo(first)
    view = io.tty ? new ScreenView(model, io, quitResolve) : new PlainView(model, out)
    viewRef = view
    live = true
    view.start()
    const queued = pending ?? []
    pending = undefined
    for (const m of queued) onMessage(m)
    for (const name of model.requests) view.notice(`contact request from ${clean(name)}: /accept ${clean(name)}`)
    for (const notice of model.notices.splice(0)) view.notice(notice)

    // Lines are handled one after another so that sends keep their order.
    let chain = Promise.resolve()
    const submit = (line: string): void => {
      chain = chain.then(() => handleLine(line)).catch((err: Error) => view.notice(`error: ${err.message.split('\n')[0]}`))
    }
    if (io.tty) (view as ScreenView).onSubmit = submit
    else {
      const rl = createInterface({ input: io.input, terminal: false })
      rl.on('line', submit)
      rl.on('close', () => {
        chain.then(() => quitResolve())
      })
    }
    const error = await quit
    await chain.catch(() => {})
    if (error) throw error
  } finally {
    unsubscribe()
    detachInterrupt()
    viewRef?.stop()
  }

  async function switchTo(name: string): Promise<void> {
    model.current = name
    const c = model.conversation(name)
    if (c.unread > 0) {
      c.unread = 0
      await api.markRead(name).catch(() => {})
    }
  }

  async function handleLine(raw: string): Promise<void> {
    const line = raw.trim()
    if (line === '') return
    const [command, ...rest] = line.split(/\s+/)
    const arg = rest.join(' ')
    switch (command) {
      case '/quit':
      case '/q':
        return quitResolve()
      case '/help':
        return view.notice(HELP)
      case '/list':
        return view.notice(
          model
            .names()
            .map((n) => `${clean(n)}${model.conversation(n).unread ? ` (${model.conversation(n).unread} unread)` : ''}`)
            .join(', ') || 'no conversations yet'
        )
      case '/switch':
      case '/s': {
        const name = model.find(arg)
        if (!arg) return view.notice('usage: /switch NAME')
        if (name === undefined) return view.notice(`no conversation named ${clean(arg)} (/list shows them)`)
        await switchTo(name)
        return view.switched()
      }
      case '/accept': {
        if (!arg) return view.notice('usage: /accept NAME')
        const name = model.find(arg) ?? arg
        const contact = await api.contactAccept(name)
        await reload()
        if (model.current === undefined || model.current === name || !model.conversations.has(model.current)) {
          await switchTo(contact.name)
          view.switched()
        }
        view.notice(`accepted ${clean(contact.name)}`)
        return
      }
      case '/retention': {
        // How long this node keeps the open conversation's messages; setting it deletes what is older at once.
        if (model.current === undefined) return view.notice('no conversation open: /switch NAME')
        const ageMs = arg === '' ? undefined : arg === 'off' ? 0 : parseAge(arg)
        if (arg !== '' && ageMs === undefined) return view.notice(`usage: /retention [AGE|off], AGE ${AGE_FORMAT}`)
        const name = model.current
        const retentionMs = await api.retention(name, ageMs)
        if (ageMs !== undefined && ageMs > 0) {
          await reload()
          view.switched()
        }
        return view.notice(retentionLine(name, retentionMs))
      }
      default:
        if (command!.startsWith('/') && !command!.startsWith('//')) return view.notice(`unknown command ${clean(command!)}; ${HELP}`)
    }
    if (model.current === undefined) return view.notice('no conversation open: /switch NAME')
    const text = line.startsWith('//') ? line.slice(1) : raw
    const m = await api.send(model.current, text)
    onMessage(m)
  }
}

interface View {
  start(): void
  stop(): void
  message(m: MessageView, isNew: boolean): void
  notice(text: string): void
  switched(): void
}

function plainLine(m: MessageView): string {
  const tail = mark(m)
  return `[${clean(m.conversation)}] ${clean(m.from)}: ${clean(m.text)}${tail ? ' ' + tail : ''}`
}

/** Line-mode renderer: an append-only log. */
class PlainView implements View {
  readonly #model: ChatModel
  readonly #out: Out

  constructor(model: ChatModel, out: Out) {
    this.#model = model
    this.#out = out
  }

  start(): void {
    this.notice(`conversations: ${this.#summary()}`)
    this.switched()
  }

  stop(): void {
    this.#out.write('* bye\n')
  }

  message(m: MessageView): void {
    this.#out.write(plainLine(m) + '\n')
  }

  notice(text: string): void {
    this.#out.write(`* ${text}\n`)
  }

  switched(): void {
    const current = this.#model.current
    if (current === undefined) {
      this.notice('no conversations yet: add a contact with `sotto contact add`')
      return
    }
    this.notice(`talking in ${clean(current)}`)
    for (const m of this.#model.conversation(current).messages.slice(-20)) this.message(m)
  }

  #summary(): string {
    const names = this.#model.names()
    if (names.length === 0) return 'none'
    return names.map((n) => `${clean(n)}${this.#model.conversation(n).unread ? ` (${this.#model.conversation(n).unread} unread)` : ''}`).join(', ')
  }
}

const ESC = '\u001b['

/** Screen-mode renderer: redraws the whole screen on every change (the alternate screen buffer). */
class ScreenView implements View {
  readonly #model: ChatModel
  readonly #io: ChatIo
  readonly #quit: () => void
  #input = ''
  #scroll = 0
  #notice = HELP
  onSubmit: (line: string) => void = () => {}
  readonly #onKey = (str: string | undefined, key: { name?: string; ctrl?: boolean; shift?: boolean } | undefined): void =>
    this.#key(str, key ?? {})
  readonly #onResize = (): void => this.render()

  constructor(model: ChatModel, io: ChatIo, quit: () => void) {
    this.#model = model
    this.#io = io
    this.#quit = quit
  }

  start(): void {
    emitKeypressEvents(this.#io.input)
    this.#io.input.setRawMode?.(true)
    this.#io.input.on('keypress', this.#onKey)
    this.#io.input.resume()
    this.#io.output.on?.('resize', this.#onResize)
    this.#io.output.write(`${ESC}?1049h`)
    this.render()
  }

  stop(): void {
    this.#io.input.off('keypress', this.#onKey)
    this.#io.input.setRawMode?.(false)
    this.#io.input.pause()
    this.#io.output.write(`${ESC}?1049l`)
  }

  message(): void {
    this.render()
  }

  notice(text: string): void {
    this.#notice = text
    this.render()
  }

  switched(): void {
    this.#scroll = 0
    this.#notice = `talking in ${clean(this.#model.current ?? '')}`
    this.render()
  }

  #key(str: string | undefined, key: { name?: string; ctrl?: boolean; shift?: boolean }): void {
    if (key.ctrl && (key.name === 'c' || key.name === 'd')) {
      this.#quit()
      return
    }
    switch (key.name) {
      case 'return':
      case 'enter': {
        const line = this.#input
        this.#input = ''
        this.render()
        if (line.trim() !== '') this.onSubmit(line)
        return
      }
      case 'backspace':
        this.#input = [...this.#input].slice(0, -1).join('')
        break
      case 'escape':
        this.#input = ''
        break
      case 'tab': {
        const next = this.#model.neighbour(key.shift ? -1 : 1)
        if (next !== undefined) this.onSubmit(`/switch ${next}`)
        return
      }
      case 'pageup':
        this.#scroll += Math.max(1, this.#bodyRows() - 1)
        break
      case 'pagedown':
        this.#scroll = Math.max(0, this.#scroll - Math.max(1, this.#bodyRows() - 1))
        break
      default:
        if (str !== undefined && !key.ctrl && [...str].every((ch) => ch >= ' ' && ch !== '\u007f')) this.#input += str
        else return
    }
    this.render()
  }

  #bodyRows(): number {
    return Math.max(1, (this.#io.output.rows ?? 24) - 4)
  }

  /** Draws the screen: header, requests, scrollback, notice, input. */
  render(): void {
    const cols = Math.max(20, this.#io.output.columns ?? 80)
    const model = this.#model
    const clip = (text: string): string => [...text].slice(0, cols).join('')
    let header = ' sotto '
    let headerWidth = width(header)
    for (const name of model.names()) {
      const unread = model.conversation(name).unread
      const label = ` ${clean(name)}${unread ? ` (${unread})` : ''} `
      if (headerWidth + width(label) + 1 > cols) break
      headerWidth += width(label) + 1
      header += '│' + (name === model.current ? `${ESC}7m${label}${ESC}27m` : label)
    }
    // The second line: identity changes first (in red), then contact requests, else a rule.
    const requests =
      model.identityChanged.length > 0
        ? `${ESC}1;31m${clip(`!!! identity key changed: ${model.identityChanged.map(clean).join(', ')}  (sotto contact verify NAME)`)}${ESC}0m`
        : model.requests.length > 0
          ? clip(`contact request: ${model.requests.map(clean).join(', ')}  (/accept NAME)`)
          : '─'.repeat(cols)
    const lines: string[] = []
    const current = model.current === undefined ? undefined : model.conversation(model.current)
    for (const m of current?.messages ?? []) {
      const tail = mark(m)
      const text = `${formatTime(m.sentAt)} ${clean(m.from)}: ${clean(m.text)}${tail ? ' ' + tail : ''}`
      const chars = [...text]
      for (let i = 0; i < chars.length; i += cols) lines.push(chars.slice(i, i + cols).join(''))
    }
    const rows = this.#bodyRows()
    this.#scroll = Math.min(this.#scroll, Math.max(0, lines.length - rows))
    const end = lines.length - this.#scroll
    const body = lines.slice(Math.max(0, end - rows), end)
    while (body.length < rows) body.unshift('')
    const prompt = `${model.current === undefined ? '' : clean(model.current)}> `
    const inputChars = [...this.#input]
    const room = Math.max(1, cols - width(prompt) - 1)
    const input = prompt + inputChars.slice(Math.max(0, inputChars.length - room)).join('')
    const screen = [header, requests, ...body, `${ESC}2m${clip(this.#notice)}${ESC}22m`, input]
    this.#io.output.write(`${ESC}?25l${ESC}H` + screen.map((l) => l + `${ESC}K`).join('\r\n') + `${ESC}J${ESC}?25h`)
  }
}
