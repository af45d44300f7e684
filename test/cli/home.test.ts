import { mkdtemp, rm, stat, mkdir, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { CliError } from '../../src/cli/errors.js'
import { ensureHome, resolveHome, socketPath } from '../../src/cli/home.js'

describe('resolveHome', () => {
  const home = (): string => '/home/fallback'
  it('prefers SOTTO_HOME, made absolute', () => {
    expect(resolveHome({ SOTTO_HOME: '/data/s', XDG_DATA_HOME: '/x' }, home)).toBe('/data/s')
    expect(resolveHome({ SOTTO_HOME: 'rel' }, home)).toBe(join(process.cwd(), 'rel'))
  })
  it('uses $XDG_DATA_HOME/sotto next', () => {
    expect(resolveHome({ XDG_DATA_HOME: '/xdg', HOME: '/home/u' }, home)).toBe('/xdg/sotto')
  })
  it('ignores empty and relative XDG_DATA_HOME and empty SOTTO_HOME', () => {
    expect(resolveHome({ SOTTO_HOME: '', XDG_DATA_HOME: '', HOME: '/home/u' }, home)).toBe('/home/u/.local/share/sotto')
    expect(resolveHome({ XDG_DATA_HOME: 'relative', HOME: '/home/u' }, home)).toBe('/home/u/.local/share/sotto')
  })
  it('falls back to the home directory', () => {
    expect(resolveHome({}, home)).toBe('/home/fallback/.local/share/sotto')
  })
})

describe('socketPath', () => {
  it('is sotto.sock in the data directory', () => {
    expect(socketPath('/d')).toBe('/d/sotto.sock')
  })
  it('refuses paths too long for a Unix socket', () => {
    expect(() => socketPath('/' + 'a'.repeat(120))).toThrow(CliError)
  })
})

describe('ensureHome', () => {
  let dir: string | undefined
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true })
  })
  it('creates the directory with mode 0700 and fixes a looser one', async () => {
    dir = await mkdtemp(join(tmpdir(), 'sotto-home-'))
    const fresh = join(dir, 'a', 'b')
    await ensureHome(fresh)
    expect((await stat(fresh)).mode & 0o777).toBe(0o700)
    const loose = join(dir, 'loose')
    await mkdir(loose)
    await chmod(loose, 0o755)
    await ensureHome(loose)
    expect((await stat(loose)).mode & 0o777).toBe(0o700)
  })
})
