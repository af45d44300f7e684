/**
 * Peer records (docs/PROTOCOL.md §13.13): a DHT record, signed by a user's identity key, that says which
 * libp2p peer id and addresses the user's node has now. With it a contact is reachable from nothing but
 * the identity key in an invite, and the transport key (PeerId) may rotate without new invites.
 *
 * Layout (fixed, big-endian):
 *   u8(1) || signingKey[32] || u64be(sequence) || u8(len(peerId)) || peerId || u8(count) ||
 *   count × (u8(len(addr)) || addr) || u8(relayCount) || relayCount × (u8(len(relay)) || relay) ||
 *   signature[64]
 * signature = Ed25519(signingKey, "sotto/1/peer-record" || all bytes before the signature).
 */
import { blake2b, concatBytes, ed25519Verify, equalBytes, SIGNATURE_BYTES, toHex, utf8 } from '../crypto/primitives.js'
import { InvalidArgumentError, InvalidRecordError, MalformedError, OversizedError, UnsupportedVersionError } from './errors.js'

/** The peer record version this code writes and reads. */
export const PEER_RECORD_VERSION = 1
/** The kad-dht namespace (first key path segment) of peer records. */
export const PEER_RECORD_NAMESPACE = 'sotto-peers'
/** Label of the key derivation and of the signature. */
export const PEER_RECORD_LABEL = 'sotto/1/peer-record'
/** Bounds of the fields. */
export const MAX_PEER_RECORD_PEER_ID_BYTES = 64
export const MAX_PEER_RECORD_ADDRESSES = 8
export const MAX_PEER_RECORD_ADDRESS_BYTES = 128
/** Largest encoded peer record. */
export const MAX_PEER_RECORD_BYTES =
  1 + 32 + 8 + 1 + MAX_PEER_RECORD_PEER_ID_BYTES + 2 * (1 + MAX_PEER_RECORD_ADDRESSES * (1 + MAX_PEER_RECORD_ADDRESS_BYTES)) + SIGNATURE_BYTES

/** A decoded, verified peer record. */
export interface PeerRecord {
  signingKey: Uint8Array
  sequence: number
  /** Binary (multihash) peer id. */
  peerId: Uint8Array
  /** Binary multiaddrs (without /p2p/). */
  addresses: Uint8Array[]
  /** Binary multiaddrs of the relays that keep this user's topics (with /p2p/); may be empty. */
  relays: Uint8Array[]
}

/** The DHT key of a user's peer record: `"/sotto-peers/" || hex(B2b("sotto/1/peer-record" || signingKey, 32))`. */
export function peerRecordKey(signingKey: Uint8Array): Uint8Array {
  if (!(signingKey instanceof Uint8Array) || signingKey.length !== 32) throw new InvalidArgumentError('signingKey must be 32 bytes')
  return utf8(`/${PEER_RECORD_NAMESPACE}/${toHex(blake2b(concatBytes(utf8(PEER_RECORD_LABEL), signingKey), 32))}`)
}

function u64be(n: number): Uint8Array {
  const out = new Uint8Array(8)
  new DataView(out.buffer).setBigUint64(0, BigInt(n))
  return out
}

/** Encodes and signs a peer record with `sign` (the identity key's Ed25519 signature). */
export function encodePeerRecord(record: PeerRecord, sign: (message: Uint8Array) => Uint8Array): Uint8Array {
  const { signingKey, sequence, peerId, addresses, relays } = record
  if (!(signingKey instanceof Uint8Array) || signingKey.length !== 32) throw new InvalidArgumentError('signingKey must be 32 bytes')
  if (!Number.isSafeInteger(sequence) || sequence < 0) throw new InvalidArgumentError('sequence must be a safe non-negative integer')
  if (!(peerId instanceof Uint8Array) || peerId.length === 0 || peerId.length > MAX_PEER_RECORD_PEER_ID_BYTES) {
    throw new InvalidArgumentError(`peerId must be 1..${MAX_PEER_RECORD_PEER_ID_BYTES} bytes`)
  }
  if (!Array.isArray(addresses) || addresses.length > MAX_PEER_RECORD_ADDRESSES) {
    throw new InvalidArgumentError(`at most ${MAX_PEER_RECORD_ADDRESSES} addresses`)
  }
  const parts: Uint8Array[] = [Uint8Array.of(PEER_RECORD_VERSION), signingKey, u64be(sequence), Uint8Array.of(peerId.length), peerId]
  for (const list of [addresses, relays]) {
    if (!Array.isArray(list) || list.length > MAX_PEER_RECORD_ADDRESSES) {
      throw new InvalidArgumentError(`at most ${MAX_PEER_RECORD_ADDRESSES} addresses and relays`)
    }
    parts.push(Uint8Array.of(list.length))
    for (const a of list) {
      if (!(a instanceof Uint8Array) || a.length === 0 || a.length > MAX_PEER_RECORD_ADDRESS_BYTES) {
        throw new InvalidArgumentError(`each address must be 1..${MAX_PEER_RECORD_ADDRESS_BYTES} bytes`)
      }
      parts.push(Uint8Array.of(a.length), a)
    }
  }
  const body = concatBytes(...parts)
  const signature = sign(concatBytes(utf8(PEER_RECORD_LABEL), body))
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) throw new InvalidArgumentError('signature must be 64 bytes')
  return concatBytes(body, signature)
}

/** Decodes and verifies a peer record (bounds, layout, signature). Throws ProtocolError subclasses. */
export function decodePeerRecord(bytes: Uint8Array): PeerRecord {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('PeerRecord: not bytes')
  if (bytes.length > MAX_PEER_RECORD_BYTES) throw new OversizedError(`PeerRecord: ${bytes.length} bytes, limit ${MAX_PEER_RECORD_BYTES}`)
  let at = 0
  const take = (n: number): Uint8Array => {
    if (at + n > bytes.length) throw new MalformedError('PeerRecord: truncated')
    const out = Uint8Array.from(bytes.subarray(at, at + n))
    at += n
    return out
  }
  const version = take(1)[0]!
  if (version !== PEER_RECORD_VERSION) throw new UnsupportedVersionError(`PeerRecord: version ${version}`)
  const signingKey = take(32)
  const sequence = Number(new DataView(take(8).buffer).getBigUint64(0))
  if (!Number.isSafeInteger(sequence)) throw new MalformedError('PeerRecord: sequence above 2^53-1')
  const peerIdLength = take(1)[0]!
  if (peerIdLength === 0 || peerIdLength > MAX_PEER_RECORD_PEER_ID_BYTES) throw new MalformedError('PeerRecord: bad peer id length')
  const peerId = take(peerIdLength)
  const list = (): Uint8Array[] => {
    const count = take(1)[0]!
    if (count > MAX_PEER_RECORD_ADDRESSES) throw new MalformedError('PeerRecord: too many addresses')
    const out: Uint8Array[] = []
    for (let i = 0; i < count; i++) {
      const n = take(1)[0]!
      if (n === 0 || n > MAX_PEER_RECORD_ADDRESS_BYTES) throw new MalformedError('PeerRecord: bad address length')
      out.push(take(n))
    }
    return out
  }
  const addresses = list()
  const relays = list()
  const bodyLength = at
  const signature = take(SIGNATURE_BYTES)
  if (at !== bytes.length) throw new MalformedError('PeerRecord: trailing bytes')
  if (!ed25519Verify(signingKey, concatBytes(utf8(PEER_RECORD_LABEL), bytes.subarray(0, bodyLength)), signature)) {
    throw new InvalidRecordError('PeerRecord: bad signature')
  }
  return { signingKey, sequence, peerId, addresses, relays }
}

/** The kad-dht validator of peer records: a valid record stored under its own identity's key. */
export function validatePeerRecord(key: Uint8Array, value: Uint8Array): PeerRecord {
  const record = decodePeerRecord(value)
  if (!equalBytes(peerRecordKey(record.signingKey), key)) throw new InvalidRecordError('PeerRecord: stored under another identity key')
  return record
}

/** The kad-dht selector: the valid record with the highest sequence (the first of equals). */
export function selectPeerRecord(key: Uint8Array, values: readonly Uint8Array[]): number {
  let best = -1
  let bestSeq = -1
  for (let i = 0; i < Math.min(values.length, 64); i++) {
    try {
      const r = validatePeerRecord(key, values[i]!)
      if (r.sequence > bestSeq) {
        best = i
        bestSeq = r.sequence
      }
    } catch {
      // invalid records are never chosen
    }
  }
  if (best < 0) throw new InvalidRecordError('no valid peer record')
  return best
}
