#!/usr/bin/env node
import '../polyfill.js'
/**
 * The `sotto` executable: runs one command line and exits with its code (0 ok, 1 error, 2 usage,
 * 3 daemon not running, 4 wrong passphrase, 5 not initialised).
 */
import { processContext, run } from './program.js'

// `sotto read --follow | head -1`: the reader went away; that is the end of the output, not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0)
  throw err
})

const code = await run(process.argv.slice(2), processContext())
process.exitCode = code
// Long-running commands stop their own resources; a stray handle (e.g. a half-closed socket) must not keep
// a finished command alive.
setTimeout(() => process.exit(code), 2000).unref()
