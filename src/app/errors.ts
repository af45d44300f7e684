/** Typed errors of the app layer. Each has a stable `code` that the CLI maps to a message and exit code. */

/** Base class: a failure a user can understand (bad input, unknown name, state that forbids the action). */
export class AppError extends Error {
  /** Stable machine-readable code, e.g. 'UNKNOWN_CONTACT'. */
  readonly code: string
  constructor(code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

/** The data directory has no identity yet (`sotto init` first). */
export class NotInitialisedError extends AppError {
  constructor(home: string) {
    super('NOT_INITIALISED', `no sotto identity in ${home} (run \`sotto init\` first)`)
  }
}

/** `init` on a data directory that already has an identity. */
export class AlreadyInitialisedError extends AppError {
  constructor(home: string) {
    super('ALREADY_INITIALISED', `${home} already holds a sotto identity`)
  }
}

/** The passphrase did not unlock the data directory. */
export class WrongPassphraseAppError extends AppError {
  constructor() {
    super('WRONG_PASSPHRASE', 'wrong passphrase')
  }
}

/** Another process has the data directory open. */
export class DataDirLockedError extends AppError {
  constructor(home: string) {
    super('LOCKED', `the data directory ${home} is in use by another sotto process`)
  }
}

/** No contact (or request) of that name. */
export class UnknownContactError extends AppError {
  constructor(name: string) {
    super('UNKNOWN_CONTACT', `no contact named "${name}"`)
  }
}

/** No community of that name. */
export class UnknownCommunityError extends AppError {
  constructor(name: string) {
    super('UNKNOWN_COMMUNITY', `no community named "${name}"`)
  }
}

/** An invite code that does not decode or verify. */
export class BadInviteError extends AppError {
  constructor(reason: string) {
    super('BAD_INVITE', `bad invite: ${reason}`)
  }
}

/** An argument out of its range (a negative age, say). */
export class BadArgumentError extends AppError {
  constructor(reason: string) {
    super('BAD_ARGUMENT', reason)
  }
}

/** A new passphrase that cannot be used (empty). */
export class BadPassphraseError extends AppError {
  constructor(reason: string) {
    super('BAD_PASSPHRASE', reason)
  }
}

/** A name that is already taken, empty, or too long. */
export class BadNameError extends AppError {
  constructor(reason: string) {
    super('BAD_NAME', reason)
  }
}

/** The action needs rights the user does not have (e.g. rotating a community key as a plain member). */
export class NotAllowedError extends AppError {
  constructor(reason: string) {
    super('NOT_ALLOWED', reason)
  }
}

/** A message could not be accepted for sending (empty, too long). */
export class BadMessageError extends AppError {
  constructor(reason: string) {
    super('BAD_MESSAGE', reason)
  }
}

/** The contact's identity key changed and the user has not accepted the new one yet. */
export class IdentityChangedError extends AppError {
  constructor(name: string) {
    super(
      'IDENTITY_CHANGED',
      `the identity key of "${name}" changed: compare safety numbers with \`sotto contact verify ${name}\`, then accept with --confirm`
    )
  }
}

/** A relay address that is not a multiaddr ending in /p2p/<peer id>. */
export class BadRelayAddressError extends AppError {
  constructor(address: string) {
    super('BAD_ADDRESS', `not a relay address (a multiaddr ending in /p2p/<peer id>): ${address.slice(0, 120)}`)
  }
}
