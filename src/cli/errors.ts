/**
 * Errors of the user-facing layer and the exit codes they map to. Every failure ends as one line on
 * stderr and one of these exit codes (documented in README.md, "Exit codes").
 */

/** Process exit codes of the `sotto` command. */
export const ExitCode = {
  ok: 0,
  /** Any failure not listed below (unknown contact, bad invite, port in use, ...). */
  error: 1,
  /** Bad usage: unknown command or option, missing argument, no passphrase available. */
  usage: 2,
  /** The command needs the daemon and it is not running (or it stopped while we were talking to it). */
  daemonNotRunning: 3,
  /** The passphrase does not open the data directory. */
  wrongPassphrase: 4,
  /** The data directory holds no identity yet (`sotto init`). */
  notInitialised: 5
} as const

/** One of the values of `ExitCode`. */
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode]

/** A failure the CLI reports as one line on stderr with a chosen exit code. */
export class CliError extends Error {
  readonly exitCode: ExitCodeValue

  /** @param message one line, no trailing period needed; @param exitCode the process exit code */
  constructor(message: string, exitCode: ExitCodeValue = ExitCode.error) {
    super(message)
    this.name = 'CliError'
    this.exitCode = exitCode
  }
}

/** Bad usage of a command (exit code 2). */
export class UsageError extends CliError {
  /** @param message what was wrong with the command line */
  constructor(message: string) {
    super(message, ExitCode.usage)
    this.name = 'UsageError'
  }
}

/** The daemon's socket is missing or nobody listens on it (exit code 3). */
export class DaemonNotRunningError extends CliError {
  /** @param message defaults to the standard hint */
  constructor(message = 'the daemon is not running (start it with `sotto daemon`)') {
    super(message, ExitCode.daemonNotRunning)
    this.name = 'DaemonNotRunningError'
  }
}

/**
 * An error that arrived over JSON-RPC (from the daemon). `appCode` is the app layer's error code
 * (e.g. 'UNKNOWN_CONTACT') when the daemon reported an app error.
 */
export class RemoteError extends Error {
  readonly rpcCode: number
  readonly appCode?: string

  /** @param rpcCode JSON-RPC error code; @param message its message; @param appCode the app's code */
  constructor(rpcCode: number, message: string, appCode?: string) {
    super(message)
    this.name = 'RemoteError'
    this.rpcCode = rpcCode
    this.appCode = appCode
  }
}

const APP_CODE_EXIT: Record<string, ExitCodeValue> = {
  WRONG_PASSPHRASE: ExitCode.wrongPassphrase,
  NOT_INITIALISED: ExitCode.notInitialised
}

/**
 * The app layer's error code of `err`, if it is an app error. App errors (src/app/errors.ts) carry an
 * upper-case `code` string; matched by shape so that this layer does not depend on the class identity
 * (errors also arrive over the socket as plain data).
 */
export function appErrorCode(err: unknown): string | undefined {
  if (err instanceof RemoteError) return err.appCode
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code
    if (typeof code === 'string' && /^[A-Z][A-Z0-9_]+$/.test(code)) return code
  }
  return undefined
}

/** The exit code for any error thrown by a command. */
export function exitCodeFor(err: unknown): ExitCodeValue {
  if (err instanceof CliError) return err.exitCode
  const code = appErrorCode(err)
  if (code !== undefined) return APP_CODE_EXIT[code] ?? ExitCode.error
  return ExitCode.error
}

/**
 * The one line shown for `err` (after `sotto: `): the first line of its message, without a stack.
 * Errors that are not the user's doing say how to see more.
 */
export function errorLine(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const first = message.split('\n').find((l) => l.trim() !== '') ?? 'unknown error'
  const known = err instanceof CliError || appErrorCode(err) !== undefined
  return known ? first.trim() : `${first.trim()} (run with DEBUG=sotto:* for details)`
}
