/**
 * Node-layer internals: the libp2p instance behind a SottoNode, for other modules of src/node/ (the sync
 * protocol registers its stream handler with `libp2pOf(node).handle(...)` and opens streams with
 * `libp2pOf(node).dialProtocol(...)`). The app layer must not import this module.
 */
export { libp2pOfNode as libp2pOf, type SottoLibp2p, type SottoServices } from './node.js'
