/** The crypto layer's public surface (docs/PROTOCOL.md §1-§10). */
export * from './atrest.js'
export * as community from './community.js'
export * from './community-control.js'
export { CommunityEpoch, CommunityReceiverState, openCommunityMessage, sealCommunityMessage, SenderChainState, verifyCommunityEnvelope } from './community.js'
export * from './errors.js'
export * from './identity.js'
export * from './padding.js'
export * from './prekeys.js'
export * as ratchet from './ratchet.js'
export { RatchetSession } from './ratchet.js'
export * from './safety.js'
export * from './types.js'
export * from './x3dh.js'
export {
  aeadDecrypt,
  aeadEncrypt,
  blake2b,
  ed25519Sign,
  ed25519Verify,
  fromHex,
  hkdf,
  hmacSha256,
  randomBytes,
  sha256,
  sha512,
  toHex,
  x25519
} from './primitives.js'
