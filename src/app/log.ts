/** Debug logging for the app and the CLI (`DEBUG=sotto:*`); the logger itself comes from the node layer. */
export { logger } from '../node/log.js'
