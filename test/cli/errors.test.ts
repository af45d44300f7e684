import { describe, expect, it } from 'vitest'
import {
  appErrorCode,
  CliError,
  DaemonNotRunningError,
  ExitCode,
  errorLine,
  exitCodeFor,
  RemoteError,
  UsageError
} from '../../src/cli/errors.js'
import { FakeAppError } from './fake-api.js'

describe('exit codes', () => {
  it('maps each kind of failure to its documented code', () => {
    expect(exitCodeFor(new UsageError('x'))).toBe(ExitCode.usage)
    expect(exitCodeFor(new DaemonNotRunningError())).toBe(ExitCode.daemonNotRunning)
    expect(exitCodeFor(new CliError('x'))).toBe(ExitCode.error)
    expect(exitCodeFor(new FakeAppError('WRONG_PASSPHRASE', 'wrong passphrase'))).toBe(ExitCode.wrongPassphrase)
    expect(exitCodeFor(new FakeAppError('NOT_INITIALISED', 'no identity'))).toBe(ExitCode.notInitialised)
    expect(exitCodeFor(new RemoteError(-32000, 'no such contact', 'UNKNOWN_CONTACT'))).toBe(ExitCode.error)
    expect(exitCodeFor(new RemoteError(-32000, 'wrong', 'WRONG_PASSPHRASE'))).toBe(ExitCode.wrongPassphrase)
    expect(exitCodeFor(new Error('bug'))).toBe(ExitCode.error)
  })
  it('recognises app errors by their upper-case code only', () => {
    expect(appErrorCode(new FakeAppError('BAD_INVITE', 'x'))).toBe('BAD_INVITE')
    expect(appErrorCode(Object.assign(new Error('x'), { code: 'ERR_lower' }))).toBeUndefined()
    expect(appErrorCode('BAD_INVITE')).toBeUndefined()
  })
})

describe('errorLine', () => {
  it('is the first line of the message, without a stack', () => {
    expect(errorLine(new FakeAppError('BAD_INVITE', 'not an invite\nmore detail'))).toBe('not an invite')
  })
  it('adds the debug hint for unexpected errors only', () => {
    expect(errorLine(new TypeError('x is undefined'))).toBe('x is undefined (run with DEBUG=sotto:* for details)')
    expect(errorLine(new UsageError('bad'))).toBe('bad')
  })
})
