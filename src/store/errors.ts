/** Typed errors of the store layer: callers branch on the class, never on the message text. */
import { WrongPassphraseError } from '../crypto/errors.js'

/**
 * The passphrase did not unlock the database key; nothing was read beyond the wrapped key, nothing written.
 * The same class as the crypto layer's, re-exported so that callers of the store import it from here.
 */
export { WrongPassphraseError }

/** Base class of every error thrown by src/store (except WrongPassphraseError, shared with src/crypto). */
export class StoreError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
  }
}

/** Another process holds the database open. */
export class StoreLockedError extends StoreError {
  constructor(readonly directory: string, options?: { cause?: unknown }) {
    super(`the data directory ${directory} is in use by another sotto process`, options)
  }
}

/** The database was written by a newer sotto (schema version `found` > `supported`). */
export class StoreVersionError extends StoreError {
  constructor(readonly found: number, readonly supported: number) {
    super(`the database has schema version ${found}; this sotto supports up to ${supported}: upgrade sotto`)
  }
}

/** No database at the location (and `create` was not asked for). */
export class StoreNotFoundError extends StoreError {
  constructor(readonly location: string) {
    super(`no sotto database at ${location}`)
  }
}

/** A database already exists where a new one was to be created. */
export class StoreExistsError extends StoreError {
  constructor(readonly location: string) {
    super(`a sotto database already exists at ${location}`)
  }
}

/** The store was closed, or failed to open. */
export class StoreClosedError extends StoreError {}

/** A stored value failed authentication: altered on disk, or moved from another key. Never returned. */
export class TamperedRecordError extends StoreError {
  constructor(readonly namespace: string, options?: { cause?: unknown }) {
    super(`a stored ${namespace} record failed authentication (altered or moved)`, options)
  }
}

/** A contact or community name is already used by another record. */
export class NameTakenError extends StoreError {
  constructor(readonly kind: 'contact' | 'community', readonly takenName: string) {
    super(`a ${kind} named ${JSON.stringify(takenName)} already exists`)
  }
}

/** A value or argument the store cannot hold (bad id, non-JSON value, reserved key). */
export class InvalidStoreValueError extends StoreError {}
