/**
 * Peer (transport) keys: libp2p Ed25519 private keys, exchanged with the app as their libp2p protobuf
 * encoding so the app can persist them without knowing libp2p types. The peer key is not the user's
 * identity key (docs/PROTOCOL.md section 2): it may rotate.
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { InvalidPeerKeyError } from './errors.js'

/** Generates a new Ed25519 peer key and returns its libp2p private-key protobuf bytes. */
export async function generatePeerKey(): Promise<Uint8Array> {
  const key = await generateKeyPair('Ed25519')
  return privateKeyToProtobuf(key)
}

/** Decodes peer key bytes made by `generatePeerKey` or `SottoNode.exportPeerKey`; throws InvalidPeerKeyError. */
export function decodePeerKey(bytes: Uint8Array): PrivateKey {
  if (!(bytes instanceof Uint8Array) || bytes.length === 0) {
    throw new InvalidPeerKeyError('peerKey: expected non-empty Uint8Array')
  }
  try {
    return privateKeyFromProtobuf(bytes)
  } catch (err) {
    throw new InvalidPeerKeyError('peerKey: not a libp2p private key protobuf', { cause: err })
  }
}

/** The peer id (base58btc string, `12D3KooW...`) that belongs to the given peer key bytes. */
export function peerIdOfKey(bytes: Uint8Array): string {
  return peerIdFromPrivateKey(decodePeerKey(bytes)).toString()
}
