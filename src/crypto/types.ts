/** Shared shapes of the crypto layer, so that set-up (x3dh.ts) and the ratchet (ratchet.ts) agree. */

/** A source of random bytes; injectable so that test vectors are deterministic. */
export type RandomSource = (length: number) => Uint8Array

/** An X25519 key pair (32-byte private scalar, 32-byte public key). */
export interface X25519KeyPair {
  publicKey: Uint8Array
  privateKey: Uint8Array
}

/**
 * What session set-up (X3DH/PQXDH, docs/PROTOCOL.md §4) hands to the Double Ratchet (§5):
 * the root key SK, the two shared header keys of the header-encryption variant, and the associated data.
 */
export interface SessionSecrets {
  /** SK: the first root key (32 bytes). */
  rootKey: Uint8Array
  /** shared_hka: the initiator's (Alice's) first sending header key (32 bytes). */
  headerKeyA: Uint8Array
  /** shared_nhkb: the responder's (Bob's) first next-sending header key (32 bytes). */
  nextHeaderKeyB: Uint8Array
  /** AD bound into every message: initiator identity key || responder identity key (§4). */
  associatedData: Uint8Array
}
