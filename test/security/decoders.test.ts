// Attacks 14 (downgrade) and 15 (oversized, truncated, malformed input) against every decoder that reads
// bytes from outside: the protocol layer's protobuf formats and the crypto layer's fixed layouts.
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  createReceiverState,
  createSenderChain,
  openCommunityMessage,
  SenderChainState,
  sealCommunityMessage
} from '../../src/crypto/community.js'
import { createRotationStatement, decodeControlStatement, decodeEpochKeyGrant, encodeControlStatement, encodeEpochKeyGrant } from '../../src/crypto/community-control.js'
import { CryptoError, UnsupportedVersionError as CryptoVersionError } from '../../src/crypto/errors.js'
import { IdentityKeyPair, IdentityPublicKey } from '../../src/crypto/identity.js'
import { LocalPrekeys, PrekeyBundle } from '../../src/crypto/prekeys.js'
import { randomBytes, utf8 } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import { headerAssociatedData, sealHeader } from '../../src/crypto/ratchet-kdf.js'
import { InitialHeader, initiateSession } from '../../src/crypto/x3dh.js'
import {
  decodeCommunityInvite,
  decodeContactInvite,
  decodeContent,
  decodeEnvelope,
  decodePrekeyRecord,
  encodeCommunityInvite,
  encodeContactInvite,
  encodeContent,
  encodeEnvelope,
  encodePrekeyRecord,
  MAX_ENVELOPE_BYTES,
  OversizedError,
  ProtocolError,
  UnsupportedVersionError,
  validatePrekeyRecord,
  prekeyRecordKey
} from '../../src/protocol/index.js'
import { decodeFrame, decodeMessage, encodeFrame, FrameType, SyncProtocolError, UnsupportedSyncVersionError } from '../../src/protocol/sync/index.js'
import { fixedSecrets, parseState } from '../crypto/ratchet-helpers.js'
import { forge, sender } from '../crypto/community-helpers.js'

const T = 1_700_000_000_000
const alice = IdentityKeyPair.generate()
const bob = IdentityKeyPair.generate()
const bobPrekeys = LocalPrekeys.generate(bob, { oneTimeCount: 1 })
const bundle = bobPrekeys.bundle(bob)
const setup = initiateSession(alice, bundle)
const epoch = CommunityEpoch.create()
const next = epoch.next()
const statement = createRotationStatement(epoch, next, alice, T, [])

/** Every encoding that carries a version, with a function lowering it to 0 and the decoder. */
function versioned(): Array<{
  name: string
  bytes: Uint8Array
  lower: (b: Uint8Array) => Uint8Array
  decode: (b: Uint8Array) => unknown
  /** For formats with optional trailing fields: a prefix may be a smaller valid value, encoded the same. */
  reencode?: (v: never) => Uint8Array
}> {
  // protobuf formats start with field 1 (version): 0x08 0x01. Lowering: 0x08 0x00, or dropping the field.
  const pb = (b: Uint8Array): Uint8Array => {
    expect([b[0], b[1]]).toEqual([0x08, 0x01])
    const out = b.slice()
    out[1] = 0
    return out
  }
  const first = (b: Uint8Array): Uint8Array => {
    const out = b.slice()
    out[0] = 0
    return out
  }
  const env = encodeEnvelope({ kind: 'direct', timestamp: T, ratchetHeader: new Uint8Array(81).fill(2), ciphertext: new Uint8Array(100).fill(3) })
  return [
    { name: 'envelope', bytes: env, lower: pb, decode: decodeEnvelope },
    { name: 'content', bytes: encodeContent({ type: 'text', body: 'hi', sentAt: T, messageId: new Uint8Array(16).fill(1) }), lower: pb, decode: decodeContent },
    { name: 'prekey record', bytes: encodePrekeyRecord(bundle.encode()), lower: pb, decode: decodePrekeyRecord },
    {
      name: 'prekey record (DHT validator)',
      bytes: encodePrekeyRecord(bundle.encode()),
      lower: pb,
      decode: (b) => validatePrekeyRecord(prekeyRecordKey(bob.publicKey.signingKey), b)
    },
    {
      name: 'contact invite',
      bytes: encodeContactInvite({ identity: alice.publicKey, displayName: 'a', addresses: [], relays: [] }),
      lower: pb,
      decode: decodeContactInvite,
      reencode: encodeContactInvite
    },
    {
      name: 'community invite',
      bytes: encodeCommunityInvite({ communityId: epoch.communityId, name: 'c', epoch: 0, epochKey: epoch.exportEpochKey(), adminKeys: [alice.publicKey.signingKey], addresses: [] }),
      lower: pb,
      decode: decodeCommunityInvite,
      reencode: encodeCommunityInvite
    },
    { name: 'prekey bundle', bytes: bundle.encode(), lower: first, decode: (b) => PrekeyBundle.decode(b) },
    { name: 'identity public key', bytes: alice.publicKey.serialize(), lower: first, decode: (b) => IdentityPublicKey.deserialize(b) },
    { name: 'initial header', bytes: setup.initialHeader.encode(), lower: first, decode: (b) => InitialHeader.open(bob, bobPrekeys, b) },
    {
      name: 'initial header (retired version 1, identity in clear)',
      bytes: setup.initialHeader.encode(),
      lower: (b) => Uint8Array.of(1, ...b.subarray(1)),
      decode: (b) => InitialHeader.open(bob, bobPrekeys, b)
    },
    { name: 'ratchet state', bytes: RatchetSession.initAlice(setup.secrets, setup.theirRatchetKey).serialize(), lower: first, decode: (b) => RatchetSession.deserialize(b) },
    { name: 'control statement', bytes: encodeControlStatement(statement), lower: first, decode: decodeControlStatement },
    { name: 'epoch key grant', bytes: encodeEpochKeyGrant({ epoch: next, statement }), lower: first, decode: decodeEpochKeyGrant },
    {
      name: 'community receiver state',
      bytes: createReceiverState(epoch).serialize(),
      lower: first,
      decode: (b) => CommunityReceiverState.deserialize(b)
    },
    {
      name: 'community sender state',
      bytes: createSenderChain(epoch, alice).serialize(),
      lower: first,
      decode: (b) => SenderChainState.deserialize(b)
    },
    {
      name: 'community message (outer)',
      bytes: sealCommunityMessage(epoch, createSenderChain(epoch, alice), alice, utf8('x'), T).sealed,
      lower: first,
      decode: (b) => openCommunityMessage(epoch, createReceiverState(epoch), b)
    },
    { name: 'sync message', bytes: Uint8Array.of(0x61), lower: () => Uint8Array.of(0x60), decode: (b) => decodeMessage(b) }
  ]
}

describe('attack 14: protocol downgrade', () => {
  it('attack 14: a lowered version in an envelope, content, record, invite, bundle, header, state, statement, grant or sync message is rejected', () => {
    const cases = versioned()
    for (const c of cases) {
      expect(() => c.decode(c.bytes), `${c.name} as sent`).not.toThrow()
      let error: unknown
      try {
        c.decode(c.lower(c.bytes))
      } catch (err) {
        error = err
      }
      expect(
        error instanceof UnsupportedVersionError || error instanceof CryptoVersionError || error instanceof UnsupportedSyncVersionError,
        `${c.name}: ${String(error)}`
      ).toBe(true)
    }
    // A protobuf format whose version field is left out entirely reads as version 0: also refused.
    const env = encodeEnvelope({ kind: 'community', timestamp: T, sealed: new Uint8Array(441).fill(5) })
    expect(() => decodeEnvelope(env.subarray(2))).toThrow(UnsupportedVersionError)
    expect(cases.length).toBe(17)
  })

  it('attack 14: a lowered version inside the encryption (ratchet header, community inner message) is rejected', () => {
    const key = LocalPrekeys.generate(IdentityKeyPair.generate(), { oneTimeCount: 0 }).signedPrekey(1)
    const a = RatchetSession.initAlice(fixedSecrets(), key.publicKey)
    const b = RatchetSession.initBob(fixedSecrets(), key)
    const { hks, ad, dhsPublic } = parseState(a.serialize())
    const plain = new Uint8Array(41)
    plain[0] = 0 // version 0; then dh, pn, n
    plain.set(dhsPublic, 1)
    const header = sealHeader(hks!, randomBytes(24), plain, headerAssociatedData(ad))
    expect(() => b.decrypt({ header, ciphertext: randomBytes(40) })).toThrow(CryptoVersionError)
    const inner = forge({ from: sender(epoch, alice, 0x5a), index: 0, innerVersion: 0 })
    expect(() => openCommunityMessage(epoch, createReceiverState(epoch), inner)).toThrow(CryptoVersionError)
  })
})

/** Runs `fn`, expecting a typed rejection (ProtocolError, CryptoError or SyncProtocolError) within `ms`. */
function rejectedQuickly(fn: () => unknown, what: string, ms = 200): void {
  const start = performance.now()
  let error: unknown
  try {
    fn()
  } catch (err) {
    error = err
  }
  const took = performance.now() - start
  expect(error instanceof ProtocolError || error instanceof CryptoError || error instanceof SyncProtocolError, `${what}: ${String(error)}`).toBe(true)
  expect(took, `${what} took ${took} ms`).toBeLessThan(ms)
}

describe('attack 15: oversized, truncated and malformed input', () => {
  const huge = new Uint8Array(16 * 1024 * 1024).fill(0x08)

  it('attack 15: oversized input to every decoder is rejected before it is parsed', () => {
    rejectedQuickly(() => decodeEnvelope(huge), 'envelope')
    rejectedQuickly(() => decodeEnvelope(new Uint8Array(MAX_ENVELOPE_BYTES + 1)), 'envelope one byte over')
    rejectedQuickly(() => decodeContent(huge), 'content')
    rejectedQuickly(() => decodePrekeyRecord(huge), 'prekey record')
    rejectedQuickly(() => decodeContactInvite(huge), 'contact invite')
    rejectedQuickly(() => decodeCommunityInvite(huge), 'community invite')
    rejectedQuickly(() => PrekeyBundle.decode(huge), 'bundle')
    rejectedQuickly(() => InitialHeader.open(bob, bobPrekeys, huge), 'initial header')
    rejectedQuickly(() => RatchetSession.deserialize(huge), 'ratchet state')
    rejectedQuickly(() => decodeControlStatement(huge), 'control statement')
    rejectedQuickly(() => decodeEpochKeyGrant(huge), 'grant')
    rejectedQuickly(() => CommunityReceiverState.deserialize(huge), 'receiver state')
    rejectedQuickly(() => openCommunityMessage(epoch, createReceiverState(epoch), huge), 'community message')
    rejectedQuickly(() => decodeFrame(huge), 'sync frame')
    rejectedQuickly(() => decodeMessage(huge), 'sync message')
    expect(() => decodeEnvelope(huge)).toThrow(OversizedError)
  })

  it('attack 15: every truncation of a valid encoding is rejected', () => {
    let checked = 0
    for (const c of versioned()) {
      // A prefix of a protobuf envelope can still be a valid message of another shape only if it is canonical:
      // it never is (bucket sizes, canonical re-encoding), so every proper prefix must be refused.
      const step = Math.max(1, Math.floor(c.bytes.length / 300))
      for (let n = 0; n < c.bytes.length; n += step) {
        const cut = c.bytes.subarray(0, n)
        const reencode = c.reencode
        if (reencode !== undefined) {
          // Invites end in optional fields: a cut at a field boundary is a smaller invite, never a misparse.
          let value: unknown
          try {
            value = c.decode(cut)
          } catch {
            checked++
            continue
          }
          expect(Buffer.from(reencode(value as never)).equals(Buffer.from(cut)), `${c.name} cut at ${n}`).toBe(true)
        } else {
          rejectedQuickly(() => c.decode(cut), `${c.name} cut at ${n}`)
        }
        checked++
      }
    }
    expect(checked).toBeGreaterThan(1000)
  })

  it('attack 15: huge varints, lengths beyond the buffer and deep nesting are rejected quickly', () => {
    const padTo = (b: Uint8Array, n = 512): Uint8Array => {
      const out = new Uint8Array(n)
      out.set(b)
      return out
    }
    // A varint of 20 continuation bytes, a 64-bit overflow, a length of 2^62 bytes.
    const longVarint = Uint8Array.of(0x08, 0x01, 0x10, ...new Array(20).fill(0xff), 0x01)
    const overflow = Uint8Array.of(0x08, 0x01, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f)
    const giantLength = Uint8Array.of(0x08, 0x01, 0x22, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f)
    for (const [name, b] of [['long varint', longVarint], ['overflow', overflow], ['giant length', giantLength]] as const) {
      rejectedQuickly(() => decodeEnvelope(padTo(b)), `envelope ${name}`)
      rejectedQuickly(() => decodeContent(b), `content ${name}`)
      rejectedQuickly(() => decodePrekeyRecord(b), `record ${name}`)
      rejectedQuickly(() => decodeContactInvite(b), `invite ${name}`)
    }
    // 20,000 levels of nested length-delimited fields (field 2, a Text message, inside itself).
    let nested: Uint8Array = new Uint8Array(0)
    for (let i = 0; i < 20_000; i++) {
      const len = encodeLen(nested.length)
      const out = new Uint8Array(1 + len.length + nested.length)
      out[0] = 0x12
      out.set(len, 1)
      out.set(nested, 1 + len.length)
      nested = out
      if (nested.length > 30_000) break
    }
    const deep = new Uint8Array(2 + nested.length)
    deep.set([0x08, 0x01])
    deep.set(nested, 2)
    rejectedQuickly(() => decodeContent(deep), 'content nested deep')
    rejectedQuickly(() => decodeEnvelope(padTo(deep, 32768)), 'envelope nested deep')
    // Counts that claim more items than exist or than allowed.
    const manyKeys = encodeControlStatement(statement).slice()
    manyKeys[1 + 1 + 32 + 4 + 4 + 32 + 8 + 32] = 0xff // removed count, high byte
    rejectedQuickly(() => decodeControlStatement(manyKeys), 'control statement with 65k keys')
    rejectedQuickly(() => decodeFrame(Uint8Array.of(FrameType.Want, 0xff, 0xff, 0xff, 0xff)), 'WANT frame claiming 4 billion ids')
    rejectedQuickly(() => decodeFrame(Uint8Array.of(0x7f)), 'unknown frame type')
    expect(decodeFrame(encodeFrame({ type: FrameType.Done })).type).toBe(FrameType.Done)
  })
})

function encodeLen(n: number): Uint8Array {
  const out: number[] = []
  do {
    let b = n & 0x7f
    n >>>= 7
    if (n > 0) b |= 0x80
    out.push(b)
  } while (n > 0)
  return Uint8Array.from(out)
}
