/**
 * The debug logger (`DEBUG=sotto:*`), in a module of its own so that the CLI's light commands (`--version`,
 * `status`) can log without loading libp2p: importing src/node/index.ts loads the whole network stack.
 */
export { logger } from '@libp2p/logger'
