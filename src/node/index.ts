/**
 * The node layer's public API for the app: plain strings and bytes, no libp2p types.
 */
export {
  DEFAULT_MAX_MESSAGE_SIZE,
  DEFAULT_MAX_RECORD_SIZE,
  DHT_PROTOCOL,
  messageId,
  rendezvousCid
} from './config.js'
export * from './errors.js'
export { generatePeerKey, peerIdOfKey } from './keys.js'
export {
  createSottoNode,
  type DhtOptions,
  type FindProvidersOptions,
  type GetRecordOptions,
  type NodeEvents,
  type NodeMessage,
  type PublishOptions,
  type PublishResult,
  type RecordType,
  type SottoNode,
  type SottoNodeInit,
  type TopicValidator,
  type TopicVerdict
} from './node.js'
export { multiaddrFromBytes, multiaddrToBytes, peerIdFromBytes, peerIdToBytes } from './addresses.js'
/** Debug logging (`DEBUG=sotto:*`), re-exported so that the layers above need no libp2p import of their own. */
export { logger } from './log.js'
