import { describe, expect, it } from 'vitest'
import { CommunityEpoch } from '../../src/crypto/community.js'
import {
  type ControlStatement,
  controlStatementContent,
  createControlStatement,
  createRotationStatement,
  decodeControlStatement,
  decodeEpochKeyGrant,
  encodeControlStatement,
  encodeEpochKeyGrant,
  MAX_CONTROL_KEYS,
  openEpochKeyGrant,
  verifyControlStatement
} from '../../src/crypto/community-control.js'
import {
  EpochMismatchError,
  InvalidArgumentError,
  MalformedError,
  SignatureError,
  UnauthorizedIssuerError,
  UnsupportedVersionError
} from '../../src/crypto/errors.js'
import { concatBytes, ed25519Verify, toHex, utf8 } from '../../src/crypto/primitives.js'
import { counterRandom, identity } from './community-helpers.js'

const admin = identity(0xad)
const carol = identity(0xca)
const dave = identity(0xda)
const admins = new Set([toHex(admin.signingPublicKey)])
const e0 = CommunityEpoch.create(counterRandom(10))
const e1 = e0.next(counterRandom(200))

function memberAdd(): ControlStatement {
  return createControlStatement(
    {
      kind: 'member-add',
      communityId: e0.communityId,
      epoch: 0,
      newEpoch: 0,
      newTopicId: new Uint8Array(32),
      removed: [],
      added: [dave.signingPublicKey, carol.signingPublicKey],
      timestamp: 42
    },
    admin
  )
}

describe('control statements (§8.6)', () => {
  it('signs canonical bytes with a domain label; verify accepts it from an admin', () => {
    const s = memberAdd()
    const content = controlStatementContent(s)
    expect(content[0]).toBe(1)
    expect(content[1]).toBe(2)
    expect(content.length).toBe(1 + 1 + 32 + 4 + 4 + 32 + 8 + 32 + 2 + 64 + 2)
    expect(ed25519Verify(admin.signingPublicKey, concatBytes(utf8('sotto/community/v1/control'), content), s.signature)).toBe(true)
    // Lists are sorted into canonical order.
    expect(toHex(s.added[0]!) < toHex(s.added[1]!)).toBe(true)
    expect(() => verifyControlStatement(s, admins, { communityId: e0.communityId, epoch: 0 })).not.toThrow()
  })

  it('encodes and decodes byte for byte', () => {
    const s = createRotationStatement(e0, e1, admin, 99, [carol.signingPublicKey])
    expect(s.kind).toBe('member-remove')
    const bytes = encodeControlStatement(s)
    const back = decodeControlStatement(bytes)
    expect(back).toEqual(s)
    expect(toHex(encodeControlStatement(back))).toBe(toHex(bytes))
    expect(createRotationStatement(e0, e1, admin, 99).kind).toBe('rotate')
  })

  it('rejects a statement not issued by an admin', () => {
    const s = createRotationStatement(e0, e1, carol, 1)
    expect(() => verifyControlStatement(s, admins)).toThrow(UnauthorizedIssuerError)
  })

  it('rejects a tampered statement or a borrowed issuer key', () => {
    const s = memberAdd()
    expect(() => verifyControlStatement({ ...s, timestamp: 43 }, admins)).toThrow(SignatureError)
    const byCarol = createRotationStatement(e0, e1, carol, 1)
    // Carol claims the admin's key as issuer, keeping her own signature.
    expect(() => verifyControlStatement({ ...byCarol, issuer: admin.signingPublicKey }, admins)).toThrow(SignatureError)
  })

  it('checks the expected community and epoch', () => {
    const s = memberAdd()
    expect(() => verifyControlStatement(s, admins, { epoch: 1 })).toThrow(EpochMismatchError)
    expect(() => verifyControlStatement(s, admins, { communityId: new Uint8Array(32) })).toThrow(EpochMismatchError)
  })

  it('enforces the per-kind rules when creating and when verifying', () => {
    const base = {
      communityId: e0.communityId,
      epoch: 0,
      newEpoch: 1,
      newTopicId: e1.topicId,
      removed: [] as Uint8Array[],
      added: [] as Uint8Array[],
      timestamp: 1
    }
    expect(() => createControlStatement({ ...base, kind: 'rotate', newEpoch: 2 }, admin)).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...base, kind: 'rotate', newTopicId: new Uint8Array(32) }, admin)).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...base, kind: 'member-remove' }, admin)).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...base, kind: 'admin-add', added: [carol.signingPublicKey] }, admin)).toThrow(
      InvalidArgumentError
    )
    const noRotation = { ...base, newEpoch: 0, newTopicId: new Uint8Array(32) }
    expect(() => createControlStatement({ ...noRotation, kind: 'admin-add' }, admin)).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...noRotation, kind: 'admin-remove' }, admin)).toThrow(InvalidArgumentError)
    expect(() =>
      createControlStatement({ ...noRotation, kind: 'member-add', added: [carol.signingPublicKey, carol.signingPublicKey] }, admin)
    ).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...noRotation, kind: 'member-add', added: [new Uint8Array(31)] }, admin)).toThrow(
      InvalidArgumentError
    )
    const tooMany = Array.from({ length: MAX_CONTROL_KEYS + 1 }, (_, i) => {
      const k = new Uint8Array(32)
      new DataView(k.buffer).setUint32(0, i)
      return k
    })
    expect(() => createControlStatement({ ...noRotation, kind: 'member-add', added: tooMany }, admin)).toThrow(InvalidArgumentError)
    expect(() => createControlStatement({ ...noRotation, kind: 'bogus' as 'rotate' }, admin)).toThrow(InvalidArgumentError)
    const ok = createControlStatement({ ...noRotation, kind: 'admin-remove', removed: [carol.signingPublicKey] }, admin)
    expect(() => verifyControlStatement({ ...ok, newEpoch: 1 }, admins)).toThrow(MalformedError)
    expect(() => createRotationStatement(e0, e0, admin, 1)).toThrow(InvalidArgumentError)
  })

  it('decoding rejects unsorted lists, unknown kinds, versions and trailing bytes', () => {
    const bytes = encodeControlStatement(memberAdd())
    const v2 = bytes.slice()
    v2[0] = 2
    expect(() => decodeControlStatement(v2)).toThrow(UnsupportedVersionError)
    const kind9 = bytes.slice()
    kind9[1] = 9
    expect(() => decodeControlStatement(kind9)).toThrow(MalformedError)
    // Swap the two added keys (offset: header 113, removed count 2, added count 2).
    const listAt = 1 + 1 + 32 + 4 + 4 + 32 + 8 + 32 + 2 + 2
    const unsorted = bytes.slice()
    unsorted.set(bytes.subarray(listAt + 32, listAt + 64), listAt)
    unsorted.set(bytes.subarray(listAt, listAt + 32), listAt + 32)
    expect(() => decodeControlStatement(unsorted)).toThrow(MalformedError)
    expect(() => decodeControlStatement(concatBytes(bytes, Uint8Array.of(0)))).toThrow(MalformedError)
    expect(() => decodeControlStatement(bytes.subarray(0, bytes.length - 1))).toThrow(MalformedError)
  })
})

describe('epoch key grants (§8.6)', () => {
  it('encodes, decodes and opens a grant whose statement names the granted topic id', () => {
    const statement = createRotationStatement(e0, e1, admin, 7, [carol.signingPublicKey])
    const bytes = encodeEpochKeyGrant({ epoch: e1, statement })
    expect(bytes[0]).toBe(1)
    const s = encodeControlStatement(statement)
    expect(bytes.length).toBe(1 + 32 + 4 + 32 + 4 + s.length)
    const grant = openEpochKeyGrant(bytes, admins)
    expect(grant.epoch.equals(e1)).toBe(true)
    expect(grant.statement).toEqual(statement)
    expect(() => openEpochKeyGrant(bytes, new Set())).toThrow(UnauthorizedIssuerError)
  })

  it('a grant without a statement decodes but does not open', () => {
    const bytes = encodeEpochKeyGrant({ epoch: e0 })
    expect(bytes.length).toBe(73)
    expect(decodeEpochKeyGrant(bytes).epoch.equals(e0)).toBe(true)
    expect(() => openEpochKeyGrant(bytes, admins)).toThrow(MalformedError)
  })

  it('rejects a grant whose key does not match the statement (a granter cannot swap the key)', () => {
    const statement = createRotationStatement(e0, e1, admin, 7)
    const good = encodeEpochKeyGrant({ epoch: e1, statement })
    const swapped = good.slice()
    swapped.set(new Uint8Array(32).fill(0x55), 1 + 32 + 4)
    expect(() => decodeEpochKeyGrant(swapped)).toThrow(MalformedError)
    const otherNext = e0.next(counterRandom(77))
    expect(() => encodeEpochKeyGrant({ epoch: otherNext, statement })).toThrow(InvalidArgumentError)
    expect(() => encodeEpochKeyGrant({ epoch: e1, statement: memberAdd() })).toThrow(InvalidArgumentError)
    expect(() => decodeEpochKeyGrant(concatBytes(good, Uint8Array.of(0)))).toThrow(MalformedError)
    const long = good.slice()
    long.set([0xff, 0xff, 0xff, 0xff], 1 + 32 + 4 + 32)
    expect(() => decodeEpochKeyGrant(long)).toThrow(MalformedError)
    const v2 = good.slice()
    v2[0] = 2
    expect(() => decodeEpochKeyGrant(v2)).toThrow(UnsupportedVersionError)
  })
})
