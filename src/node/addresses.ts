/**
 * Conversions between the string forms the node API uses (multiaddrs, base58 peer ids) and the binary
 * forms carried in invites and profiles (docs/PROTOCOL.md §12). Bad input throws InvalidAddressError.
 */
import { peerIdFromMultihash, peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import * as Digest from 'multiformats/hashes/digest'
import { InvalidAddressError } from './errors.js'

/** Binary form of a multiaddr string. */
export function multiaddrToBytes(address: string): Uint8Array {
  try {
    return multiaddr(address).bytes
  } catch {
    throw new InvalidAddressError(`not a multiaddr: ${address.slice(0, 80)}`)
  }
}

/** String form of a binary multiaddr. */
export function multiaddrFromBytes(bytes: Uint8Array): string {
  try {
    return multiaddr(bytes).toString()
  } catch {
    throw new InvalidAddressError('not a binary multiaddr')
  }
}

/** Binary (multihash) form of a base58 peer id. */
export function peerIdToBytes(peerId: string): Uint8Array {
  try {
    return peerIdFromString(peerId).toMultihash().bytes
  } catch {
    throw new InvalidAddressError(`not a peer id: ${peerId.slice(0, 80)}`)
  }
}

/** Base58 string form of a binary (multihash) peer id. */
export function peerIdFromBytes(bytes: Uint8Array): string {
  try {
    return peerIdFromMultihash(Digest.decode(bytes)).toString()
  } catch {
    throw new InvalidAddressError('not a binary peer id')
  }
}
