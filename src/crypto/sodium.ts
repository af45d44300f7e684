/**
 * The one module in sotto that imports libsodium (sumo build: Argon2id, HMAC-SHA-2, SHA-2, ML-KEM-768).
 * Top-level await makes every function in src/crypto synchronous for its callers.
 */
import sodiumModule from 'libsodium-wrappers-sumo'

await sodiumModule.ready

/** The initialised libsodium instance. Import it only from inside src/crypto/. */
export const sodium = sodiumModule
