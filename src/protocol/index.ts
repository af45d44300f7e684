/** The protocol layer's public surface (docs/PROTOCOL.md §11-§14): wire formats, invites, records, topics. */
export * from './base32.js'
export * from './content.js'
export * from './envelope.js'
export * from './errors.js'
export * from './invite.js'
export * from './records.js'
export * from './topics.js'
export * from './validate.js'
