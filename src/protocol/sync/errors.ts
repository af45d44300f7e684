/**
 * Typed errors of the sync protocol (docs/PROTOCOL.md §15). Callers branch on the class, never on the
 * message text. Every error a remote peer can cause is a `SyncProtocolError`: the node treats it as
 * misbehaviour and disconnects that peer.
 */

/** Base class of every error thrown by src/protocol/sync. */
export class SyncError extends Error {
  constructor(message: string) {
    super(message)
    this.name = new.target.name
  }
}

/** A local caller misused the API (bad argument, wrong state). Never caused by a remote peer. */
export class SyncUsageError extends SyncError {}

/** Base class of the errors caused by bytes or behaviour of a remote peer. */
export class SyncProtocolError extends SyncError {}

/** A message or frame does not follow the layout of §15 (truncated, trailing bytes, bad mode, ...). */
export class MalformedSyncMessageError extends SyncProtocolError {}

/** A message carries a reconciliation protocol version other than 0x61. */
export class UnsupportedSyncVersionError extends SyncProtocolError {}

/** A message or frame exceeds a bound of §15 (size, ranges, ids, envelopes, rounds). */
export class SyncLimitError extends SyncProtocolError {}

/** The peer did something out of order (an unexpected frame type, an id it was not asked for, ...). */
export class UnexpectedSyncFrameError extends SyncProtocolError {}

/** An exchange did not complete within its time box. */
export class SyncTimeoutError extends SyncProtocolError {}

/** A session was aborted locally (caller's signal, service stopped) or ran out of its whole-session time box. */
export class SyncAbortedError extends SyncError {}
