/**
 * The passphrase that opens the data directory: `SOTTO_PASSPHRASE`, else a prompt without echo when
 * stdin is a terminal, else a clear error (scripts must set the variable).
 */
import { CliError, UsageError } from './errors.js'

/** Streams used to prompt; a terminal's stdin has `setRawMode`. */
export interface PromptIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?: (mode: boolean) => unknown }
  stderr: { write(text: string): unknown }
}

/**
 * Reads one line from a terminal without echoing it. Ctrl-C aborts with exit code 130's convention
 * (a CliError), Ctrl-D on an empty line aborts, Backspace edits.
 */
export function promptHidden(question: string, io: PromptIo): Promise<string> {
  const { stdin, stderr } = io
  return new Promise((resolve, reject) => {
    let value = ''
    stderr.write(question)
    stdin.setRawMode?.(true)
    stdin.resume()
    const finish = (err?: Error): void => {
      stdin.removeListener('data', onData)
      stdin.setRawMode?.(false)
      stdin.pause()
      stderr.write('\n')
      if (err) reject(err)
      else resolve(value)
    }
    const onData = (chunk: Buffer | string): void => {
      for (const ch of chunk.toString()) {
        const done = ch === '\r' || ch === '\n'
        const cancelled = ch === '\u0003' || (ch === '\u0004' && value === '')
        if (done || cancelled) {
          finish(cancelled ? new CliError('cancelled') : undefined)
          return
        }
        if (ch === '\u0004') continue
        if (ch === '\u007f' || ch === '\b') value = value.slice(0, -1)
        else if (ch >= ' ') value += ch
      }
    }
    stdin.on('data', onData)
  })
}

/** Options of `getPassphrase`. */
export interface PassphraseOptions {
  /** Ask twice and compare (when creating an identity, or choosing a new passphrase). */
  confirm?: boolean
  /** The new passphrase of `sotto passphrase`: from `SOTTO_NEW_PASSPHRASE`, asked as "new passphrase". */
  fresh?: boolean
}

/**
 * The passphrase from `SOTTO_PASSPHRASE` (`SOTTO_NEW_PASSPHRASE` for a new one) or an interactive prompt; fails
 * when neither is possible.
 */
export async function getPassphrase(
  env: { SOTTO_PASSPHRASE?: string; SOTTO_NEW_PASSPHRASE?: string },
  io: PromptIo,
  options: PassphraseOptions = {}
): Promise<string> {
  const variable = options.fresh ? 'SOTTO_NEW_PASSPHRASE' : 'SOTTO_PASSPHRASE'
  const label = options.fresh ? 'new passphrase' : 'passphrase'
  const given = env[variable]
  if (given !== undefined && given !== '') return given
  if (io.stdin.isTTY !== true || typeof io.stdin.setRawMode !== 'function') {
    throw new UsageError(`no ${label}: set ${variable} or run in a terminal to be asked`)
  }
  const first = await promptHidden(`${label}: `, io)
  if (first === '') throw new UsageError(`the ${label} must not be empty`)
  if (options.confirm) {
    const again = await promptHidden(`${label} again: `, io)
    if (again !== first) throw new UsageError('the passphrases do not match')
  }
  return first
}

/**
 * Argon2id limits from `SOTTO_ARGON2`. TEST-ONLY: `SOTTO_ARGON2=test` selects the minimum limits
 * (opsLimit 1, memLimit 8192 bytes) so that test suites run fast; it makes the passphrase trivial
 * to brute-force and must never be used for real data. Unset means the app's defaults.
 */
export function argon2FromEnv(env: { SOTTO_ARGON2?: string }): { opsLimit: number; memLimit: number } | undefined {
  const value = env.SOTTO_ARGON2
  if (value === undefined || value === '') return undefined
  if (value === 'test') return { opsLimit: 1, memLimit: 8192 }
  throw new UsageError(`SOTTO_ARGON2 must be unset or 'test' (test-only), not '${value}'`)
}
