/**
 * sotto's library entry point: `import { initSotto, openSotto } from 'sotto'`.
 *
 * The app API (src/app/api.ts) is what most programs need: create an identity, open a node, add contacts,
 * send and read messages, run communities. The crypto and protocol layers are exported as namespaces for
 * people who build their own tools or audit the constructions against docs/PROTOCOL.md.
 */
import './polyfill.js'

export * from './app/index.js'
export * as crypto from './crypto/index.js'
export * as protocol from './protocol/index.js'
