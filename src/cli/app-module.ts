/**
 * Loads the app layer (src/app/index.ts) at run time, so that commands that only talk to the daemon
 * (and --help, --version) start without loading libp2p and libsodium. Its type is checked at compile
 * time against what the CLI uses.
 */
import type { IdView, SottoApp, SottoOptions } from '../app/api.js'
import type * as AppIndex from '../app/index.js'
import type { RelayHandle, RelayOptions } from '../app/index.js'
import { CliError } from './errors.js'

/** What the CLI uses from src/app/index.ts. */
export interface AppModule {
  initSotto(options: SottoOptions & { name?: string }): Promise<IdView>
  openSotto(options: SottoOptions): Promise<SottoApp>
  runRelay?: (options: RelayOptions) => Promise<RelayHandle>
  changePassphrase?: (options: SottoOptions & { newPassphrase: string }) => Promise<void>
}

/** Compile-time check that src/app/index.ts provides what `loadApp` promises. */
type Provides<T extends Required<AppModule>> = T
/** The app entry point's type, checked against `AppModule`. */
export type AppIndexModule = Provides<typeof AppIndex>

/** Where the app's entry point is, relative to this file (src/cli -> src/app, dist/cli -> dist/app). */
const APP_ENTRY = '../app/index.js'

let cached: Promise<AppModule> | undefined

/** Imports the app layer once; fails with a clear CliError when this build has none. */
export function loadApp(): Promise<AppModule> {
  cached ??= (async () => {
    let mod: Partial<AppModule>
    try {
      mod = (await import(APP_ENTRY)) as Partial<AppModule>
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes('app/index.js')) {
        throw new CliError('this build of sotto has no app layer yet (src/app/index.ts)')
      }
      throw err
    }
    if (typeof mod.initSotto !== 'function' || typeof mod.openSotto !== 'function') {
      throw new CliError('this build of sotto has an incomplete app layer (initSotto/openSotto missing)')
    }
    return mod as AppModule
  })()
  return cached
}
