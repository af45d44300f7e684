/**
 * Where a user's data lives: `$SOTTO_HOME`, else `$XDG_DATA_HOME/sotto`, else `~/.local/share/sotto`.
 * The directory is private to the user (0700); the daemon's control socket inside it (0600) is the
 * access control for every command that talks to the daemon.
 */
import { chmod, mkdir, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { CliError } from './errors.js'

/** File name of the daemon's control socket inside the data directory. */
export const SOCKET_NAME = 'sotto.sock'

/** Linux limits a Unix socket path to 107 bytes (macOS to 103). */
const MAX_SOCKET_PATH = 103

/** Environment variables that select the data directory. */
export interface HomeEnv {
  SOTTO_HOME?: string
  XDG_DATA_HOME?: string
  HOME?: string
}

/**
 * Resolves the data directory from the environment, as an absolute path. Empty variables count as
 * unset (as the XDG base directory specification says for XDG_DATA_HOME).
 */
export function resolveHome(env: HomeEnv = process.env, home: () => string = homedir): string {
  if (env.SOTTO_HOME) return resolve(env.SOTTO_HOME)
  // A relative XDG_DATA_HOME is invalid per the XDG spec and must be ignored.
  if (env.XDG_DATA_HOME?.startsWith('/')) return join(env.XDG_DATA_HOME, 'sotto')
  return join(env.HOME || home(), '.local', 'share', 'sotto')
}

/** The control socket's path for a data directory; fails clearly when it is too long for a socket. */
export function socketPath(home: string): string {
  const path = join(home, SOCKET_NAME)
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
    throw new CliError(`the data directory path is too long for a control socket: ${home} (set SOTTO_HOME to a shorter path)`)
  }
  return path
}

/** Creates the data directory if needed and makes it private to the user (0700). */
export async function ensureHome(home: string): Promise<void> {
  await mkdir(home, { recursive: true, mode: 0o700 })
  const info = await stat(home)
  if (!info.isDirectory()) throw new CliError(`the data directory is not a directory: ${home}`)
  if ((info.mode & 0o777) !== 0o700) await chmod(home, 0o700)
}
