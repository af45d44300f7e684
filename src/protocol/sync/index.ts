/**
 * The sync protocol's pure part (docs/PROTOCOL.md §15): items and sources, fingerprints, reconciliation
 * messages and the `Reconciler`, and the frames of the envelope transfer. No I/O here.
 */
export * from './errors.js'
export * from './fingerprint.js'
export * from './frames.js'
export * from './items.js'
export * from './message.js'
export * from './reconciler.js'
export { encodeVarint, varintLength } from './varint.js'
