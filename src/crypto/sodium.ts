/**
 * The one module in sotto that imports libsodium.
 *
 * - `sodium`: libsodium-wrappers-sumo (libsodium compiled to WebAssembly; the sumo build has Argon2id,
 *   HMAC-SHA-2, SHA-2 and ML-KEM-768). Every primitive is available here, on every platform.
 * - `curve`: the X25519 and Ed25519 operations, through sodium-native (the same libsodium compiled natively,
 *   a prebuilt Node add-on) when it loads, else through `sodium`. The native build is 2-3.5x faster for
 *   these curve operations (no 128-bit multiply in WebAssembly); both give identical bytes (tested against
 *   Wycheproof and against each other). `SOTTO_SODIUM=wasm` in the environment forces WebAssembly.
 *
 * Top-level await makes every function in src/crypto synchronous for its callers.
 */
import { createRequire } from 'node:module'
import sodiumModule from 'libsodium-wrappers-sumo'

await sodiumModule.ready

/** The initialised libsodium (WebAssembly) instance. Import it only from inside src/crypto/. */
export const sodium = sodiumModule

/**
 * The curve operations sotto needs, on byte arrays. Each throws on libsodium's failure return (for
 * X25519: a low-order point; callers check for an all-zero output as well).
 */
export interface CurveBackend {
  /** Which build this is. */
  readonly name: 'native' | 'wasm'
  /** X25519 public key of a private scalar. */
  scalarmultBase(privateKey: Uint8Array): Uint8Array
  /** X25519 shared secret. */
  scalarmult(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array
  /** Ed25519 key pair from a 32-byte seed; the secret key is seed || public key. */
  signSeedKeypair(seed: Uint8Array): { publicKey: Uint8Array; secretKey: Uint8Array }
  /** Ed25519 detached signature. */
  signDetached(message: Uint8Array, secretKey: Uint8Array): Uint8Array
  /** Ed25519 verification (libsodium's strict rules). */
  verifyDetached(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean
}

/** The curve operations through libsodium in WebAssembly. */
export const wasmCurve: CurveBackend = {
  name: 'wasm',
  scalarmultBase: (sk) => sodium.crypto_scalarmult_base(sk),
  scalarmult: (sk, pk) => sodium.crypto_scalarmult(sk, pk),
  signSeedKeypair: (seed) => {
    const kp = sodium.crypto_sign_seed_keypair(seed)
    return { publicKey: kp.publicKey, secretKey: kp.privateKey }
  },
  signDetached: (m, sk) => sodium.crypto_sign_detached(m, sk),
  verifyDetached: (sig, m, pk) => sodium.crypto_sign_verify_detached(sig, m, pk)
}

/** The subset of sodium-native's API used here (it writes into caller-allocated arrays). */
interface SodiumNative {
  crypto_scalarmult_base(out: Uint8Array, sk: Uint8Array): void
  crypto_scalarmult(out: Uint8Array, sk: Uint8Array, pk: Uint8Array): void
  crypto_sign_seed_keypair(pk: Uint8Array, sk: Uint8Array, seed: Uint8Array): void
  crypto_sign_detached(sig: Uint8Array, m: Uint8Array, sk: Uint8Array): void
  crypto_sign_verify_detached(sig: Uint8Array, m: Uint8Array, pk: Uint8Array): boolean
}

function loadNative(): SodiumNative | undefined {
  if (process.env.SOTTO_SODIUM === 'wasm') return undefined
  try {
    return createRequire(import.meta.url)('sodium-native') as SodiumNative
  } catch {
    return undefined
  }
}

function nativeBackend(n: SodiumNative): CurveBackend {
  return {
    name: 'native',
    scalarmultBase: (sk) => {
      const out = new Uint8Array(32)
      n.crypto_scalarmult_base(out, sk)
      return out
    },
    scalarmult: (sk, pk) => {
      const out = new Uint8Array(32)
      n.crypto_scalarmult(out, sk, pk)
      return out
    },
    signSeedKeypair: (seed) => {
      const publicKey = new Uint8Array(32)
      const secretKey = new Uint8Array(64)
      n.crypto_sign_seed_keypair(publicKey, secretKey, seed)
      return { publicKey, secretKey }
    },
    signDetached: (m, sk) => {
      const sig = new Uint8Array(64)
      n.crypto_sign_detached(sig, m, sk)
      return sig
    },
    verifyDetached: (sig, m, pk) => n.crypto_sign_verify_detached(sig, m, pk)
  }
}

const native = loadNative()

/** The curve operations through natively compiled libsodium, or undefined when the add-on did not load. */
export const nativeCurve: CurveBackend | undefined = native === undefined ? undefined : nativeBackend(native)

/** The curve operations sotto uses: native when available, else WebAssembly. */
export const curve: CurveBackend = nativeCurve ?? wasmCurve
