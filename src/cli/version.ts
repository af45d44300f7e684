/** The package version, read from package.json (two levels up from src/cli and from dist/cli). */
import { readFileSync } from 'node:fs'

let version: string | undefined

/** sotto's version as in package.json. */
export function packageVersion(): string {
  version ??= (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
  return version
}
