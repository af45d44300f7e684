/**
 * Typed errors of the node layer (src/node/). Callers branch on the class, never on the message text.
 */

/** Base class of every error the node layer throws on purpose. */
export class NodeError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options)
    this.name = new.target.name
  }
}

/** An operation that needs a running node was called before `start()` or after `stop()`. */
export class NodeNotStartedError extends NodeError {}

/** A multiaddr, peer id or peer key given by the caller could not be parsed. */
export class InvalidAddressError extends NodeError {}

/** A peer key (libp2p private key protobuf) could not be decoded. */
export class InvalidPeerKeyError extends NodeError {}

/** A DHT record key is not of the form `/<prefix>/<rest>` or has no registered record type. */
export class InvalidRecordKeyError extends NodeError {}

/** A DHT record was refused by this node's own validator before being sent, or is too large. */
export class RecordRejectedError extends NodeError {}

/** A message to publish is larger than the node's `maxMessageSize`. */
export class MessageTooLargeError extends NodeError {}

/** The caller's AbortSignal fired (or the operation's time limit passed) before the operation finished. */
export class NodeAbortedError extends NodeError {}
