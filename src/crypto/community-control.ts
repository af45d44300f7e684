/**
 * Community control statements (rotation and membership) and epoch key grants, docs/PROTOCOL.md §8.6.
 * Vectors: test/vectors/community_epoch.json ("control", "grant").
 *
 * A statement is signed by its issuer's identity key; `verifyControlStatement` accepts it only from an
 * admin. A rotation statement commits to the new epoch's topic id, so a member receiving the new epoch key
 * in an EpochKeyGrant (over a 1:1 session) can check that it is the key the admin rotated to.
 */
import { ByteReader, compareBytes, U32_MAX, u8, u16be, u32be, u64be } from './community-bytes.js'
import { COMMUNITY_KEY_BYTES, COMMUNITY_VERSION, CommunityEpoch, type CommunitySigner, signerPublicKey, signWith } from './community.js'
import {
  EpochMismatchError,
  InvalidArgumentError,
  MalformedError,
  SignatureError,
  UnauthorizedIssuerError,
  UnsupportedVersionError
} from './errors.js'
import { checkBytes, concatBytes, ED25519_PUBLIC_BYTES, ed25519Verify, equalBytes, isZero, SIGNATURE_BYTES, toHex, utf8 } from './primitives.js'

/** Domain-separation prefix of control statement signatures (§8.6). */
export const CONTROL_SIGNATURE_LABEL = 'sotto/community/v1/control'

/** Most keys in a statement's `added` or `removed` list. */
export const MAX_CONTROL_KEYS = 1024

/** Kinds of control statement and their code bytes (§8.6). */
export const CONTROL_KINDS = Object.freeze({
  rotate: 1,
  'member-add': 2,
  'member-remove': 3,
  'admin-add': 4,
  'admin-remove': 5
} as const)

/** The kind of a control statement. */
export type ControlKind = keyof typeof CONTROL_KINDS

/** Kinds that start a new epoch (and so carry newEpoch = epoch + 1 and the new topic id). */
const ROTATING_KINDS: ReadonlySet<ControlKind> = new Set<ControlKind>(['rotate', 'member-remove'])

/** The signed content of a control statement. */
export interface ControlStatementFields {
  kind: ControlKind
  /** The community (32 bytes). */
  communityId: Uint8Array
  /** The epoch in which the statement is issued. */
  epoch: number
  /** For rotating kinds epoch + 1, otherwise equal to epoch. */
  newEpoch: number
  /** For rotating kinds the new epoch's topic id, otherwise 32 zero bytes. */
  newTopicId: Uint8Array
  /** Identity signing keys removed (member-remove, admin-remove), ascending, no duplicates. */
  removed: Uint8Array[]
  /** Identity signing keys added (member-add, admin-add), ascending, no duplicates. */
  added: Uint8Array[]
  /** The issuer's identity signing key (32 bytes). */
  issuer: Uint8Array
  /** Milliseconds since the Unix epoch. */
  timestamp: number
}

/** A signed control statement. */
export interface ControlStatement extends ControlStatementFields {
  /** Ed25519 signature by `issuer` over "sotto/community/v1/control" || canonical bytes without it. */
  signature: Uint8Array
}

function checkKeyList(name: string, keys: Uint8Array[], Err: new (m: string) => Error): void {
  if (!Array.isArray(keys)) throw new Err(`${name} must be an array`)
  if (keys.length > MAX_CONTROL_KEYS) throw new Err(`${name} has more than ${MAX_CONTROL_KEYS} keys`)
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i]
    if (!(k instanceof Uint8Array) || k.length !== ED25519_PUBLIC_BYTES) throw new Err(`${name}[${i}] must be 32 bytes`)
    if (i > 0 && compareBytes(keys[i - 1]!, k) >= 0) throw new Err(`${name} must be strictly ascending`)
  }
}

/** Checks the rules of §8.6 on a statement's fields; throws `Err` (InvalidArgumentError or MalformedError). */
function checkFields(f: ControlStatementFields, Err: new (m: string) => Error): void {
  if (!Object.hasOwn(CONTROL_KINDS, f.kind)) throw new Err(`unknown control kind ${String(f.kind)}`)
  if (!(f.communityId instanceof Uint8Array) || f.communityId.length !== COMMUNITY_KEY_BYTES) throw new Err('communityId must be 32 bytes')
  if (!(f.issuer instanceof Uint8Array) || f.issuer.length !== ED25519_PUBLIC_BYTES) throw new Err('issuer must be 32 bytes')
  if (!(f.newTopicId instanceof Uint8Array) || f.newTopicId.length !== COMMUNITY_KEY_BYTES) throw new Err('newTopicId must be 32 bytes')
  for (const [name, v] of [['epoch', f.epoch], ['newEpoch', f.newEpoch]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > U32_MAX) throw new Err(`${name} must be a u32`)
  }
  if (!Number.isSafeInteger(f.timestamp) || f.timestamp < 0) throw new Err('timestamp must be a non-negative safe integer')
  checkKeyList('removed', f.removed, Err)
  checkKeyList('added', f.added, Err)
  if (ROTATING_KINDS.has(f.kind)) {
    if (f.newEpoch !== f.epoch + 1) throw new Err(`${f.kind} must have newEpoch = epoch + 1`)
    if (isZero(f.newTopicId)) throw new Err(`${f.kind} must name the new topic id`)
  } else {
    if (f.newEpoch !== f.epoch) throw new Err(`${f.kind} must have newEpoch = epoch`)
    if (!isZero(f.newTopicId)) throw new Err(`${f.kind} must have an all-zero newTopicId`)
  }
  const wantsRemoved = f.kind === 'member-remove' || f.kind === 'admin-remove'
  const wantsAdded = f.kind === 'member-add' || f.kind === 'admin-add'
  if (wantsRemoved !== f.removed.length > 0) throw new Err(`${f.kind} ${wantsRemoved ? 'needs' : 'must not have'} removed keys`)
  if (wantsAdded !== f.added.length > 0) throw new Err(`${f.kind} ${wantsAdded ? 'needs' : 'must not have'} added keys`)
}

/**
 * Canonical bytes of a statement's signed content (§8.6): version(1) || kind(1) || communityId[32] ||
 * u32be(epoch) || u32be(newEpoch) || newTopicId[32] || u64be(timestamp) || issuer[32] ||
 * u16be(len(removed)) || removed[32]* || u16be(len(added)) || added[32]*.
 */
export function controlStatementContent(fields: ControlStatementFields): Uint8Array {
  checkFields(fields, InvalidArgumentError)
  return concatBytes(
    u8(COMMUNITY_VERSION),
    u8(CONTROL_KINDS[fields.kind]),
    fields.communityId,
    u32be(fields.epoch),
    u32be(fields.newEpoch),
    fields.newTopicId,
    u64be(fields.timestamp),
    fields.issuer,
    u16be(fields.removed.length),
    ...fields.removed,
    u16be(fields.added.length),
    ...fields.added
  )
}

/**
 * Signs a statement with `issuer` (whose public key becomes `issuer`). Lists are sorted for you; the
 * fields must otherwise follow §8.6 (InvalidArgumentError).
 */
export function createControlStatement(fields: Omit<ControlStatementFields, 'issuer'>, issuer: CommunitySigner): ControlStatement {
  const sort = (keys: Uint8Array[]) => keys.map((k) => k.slice()).sort(compareBytes)
  const full: ControlStatementFields = {
    kind: fields.kind,
    communityId: fields.communityId.slice(),
    epoch: fields.epoch,
    newEpoch: fields.newEpoch,
    newTopicId: fields.newTopicId.slice(),
    removed: sort(fields.removed),
    added: sort(fields.added),
    issuer: signerPublicKey(issuer).slice(),
    timestamp: fields.timestamp
  }
  const content = controlStatementContent(full)
  const signature = signWith(issuer, concatBytes(utf8(CONTROL_SIGNATURE_LABEL), content))
  return { ...full, signature }
}

/** A rotation statement for moving from `current` to `next` (kind 'rotate', or 'member-remove' when `removed` is non-empty). */
export function createRotationStatement(
  current: CommunityEpoch,
  next: CommunityEpoch,
  issuer: CommunitySigner,
  timestamp: number,
  removed: Uint8Array[] = []
): ControlStatement {
  if (!equalBytes(current.communityId, next.communityId) || next.epoch !== current.epoch + 1) {
    throw new InvalidArgumentError('next must be the following epoch of the same community')
  }
  return createControlStatement(
    {
      kind: removed.length > 0 ? 'member-remove' : 'rotate',
      communityId: current.communityId,
      epoch: current.epoch,
      newEpoch: next.epoch,
      newTopicId: next.topicId,
      removed,
      added: [],
      timestamp
    },
    issuer
  )
}

/** An 'admin-add' statement in `epoch` making `added` (identity signing keys) admins, signed by `issuer`. */
export function createAdminAddStatement(
  epoch: CommunityEpoch,
  added: Uint8Array[],
  issuer: CommunitySigner,
  timestamp: number
): ControlStatement {
  return createControlStatement(
    {
      kind: 'admin-add',
      communityId: epoch.communityId,
      epoch: epoch.epoch,
      newEpoch: epoch.epoch,
      newTopicId: new Uint8Array(COMMUNITY_KEY_BYTES),
      removed: [],
      added,
      timestamp
    },
    issuer
  )
}

/** Canonical bytes of a signed statement: controlStatementContent || signature[64]. */
export function encodeControlStatement(statement: ControlStatement): Uint8Array {
  checkBytes('signature', statement.signature, SIGNATURE_BYTES)
  return concatBytes(controlStatementContent(statement), statement.signature)
}

/** Parses canonical bytes; checks layout and §8.6 rules (MalformedError, UnsupportedVersionError), not the signature. */
export function decodeControlStatement(bytes: Uint8Array): ControlStatement {
  checkBytes('bytes', bytes)
  const r = new ByteReader(bytes, 'control statement')
  const version = r.u8()
  if (version !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`control statement version ${version}`)
  const code = r.u8()
  const kind = (Object.keys(CONTROL_KINDS) as ControlKind[]).find((k) => CONTROL_KINDS[k] === code)
  if (kind === undefined) throw new MalformedError(`unknown control kind ${code}`)
  const communityId = r.bytes(COMMUNITY_KEY_BYTES)
  const epoch = r.u32()
  const newEpoch = r.u32()
  const newTopicId = r.bytes(COMMUNITY_KEY_BYTES)
  const timestamp = r.u64()
  const issuer = r.bytes(ED25519_PUBLIC_BYTES)
  const readList = (): Uint8Array[] => {
    const n = r.u16()
    if (n > MAX_CONTROL_KEYS) throw new MalformedError(`control statement list of ${n} keys`)
    return Array.from({ length: n }, () => r.bytes(ED25519_PUBLIC_BYTES))
  }
  const removed = readList()
  const added = readList()
  const signature = r.bytes(SIGNATURE_BYTES)
  r.end()
  const statement: ControlStatement = { kind, communityId, epoch, newEpoch, newTopicId, removed, added, issuer, timestamp, signature }
  checkFields(statement, MalformedError)
  return statement
}

/**
 * Accepts a statement only when it is well formed, signed by its issuer, and the issuer is in `admins`
 * (lowercase hex of identity signing keys). With `expected`, also checks the community and the epoch
 * the statement was issued in. Throws MalformedError, UnauthorizedIssuerError, SignatureError or
 * EpochMismatchError.
 */
export function verifyControlStatement(
  statement: ControlStatement,
  admins: ReadonlySet<string>,
  expected?: { communityId?: Uint8Array; epoch?: number }
): void {
  let content: Uint8Array
  try {
    content = controlStatementContent(statement)
  } catch (e) {
    if (e instanceof InvalidArgumentError) throw new MalformedError(e.message)
    throw e
  }
  if (!admins.has(toHex(statement.issuer))) throw new UnauthorizedIssuerError('control statement issuer is not an admin')
  if (!ed25519Verify(statement.issuer, concatBytes(utf8(CONTROL_SIGNATURE_LABEL), content), statement.signature)) {
    throw new SignatureError('bad signature on control statement')
  }
  if (expected?.communityId !== undefined && !equalBytes(expected.communityId, statement.communityId)) {
    throw new EpochMismatchError('control statement is for another community')
  }
  if (expected?.epoch !== undefined && expected.epoch !== statement.epoch) {
    throw new EpochMismatchError(`control statement was issued in epoch ${statement.epoch}, expected ${expected.epoch}`)
  }
}

// --- Epoch key grants (§8.6) ----------------------------------------------------------------------

/** An epoch key for one member, sent over a 1:1 session, with the statement that created the epoch. */
export interface EpochKeyGrant {
  /** The granted epoch (holds the secret epoch key). */
  epoch: CommunityEpoch
  /** The rotation statement of this epoch; absent for an epoch granted without one (e.g. by invite). */
  statement?: ControlStatement
}

/**
 * Canonical bytes (§8.6): version(1) || communityId[32] || u32be(epoch) || epochKey[32] ||
 * u32be(len(statement)) || statement (canonical, 0 bytes when absent). Contains the secret epoch key.
 */
export function encodeEpochKeyGrant(grant: EpochKeyGrant): Uint8Array {
  if (grant.statement !== undefined) checkGrantStatement(grant.epoch, grant.statement, InvalidArgumentError)
  const statement = grant.statement === undefined ? new Uint8Array(0) : encodeControlStatement(grant.statement)
  return concatBytes(
    u8(COMMUNITY_VERSION),
    grant.epoch.communityId,
    u32be(grant.epoch.epoch),
    grant.epoch.exportEpochKey(),
    u32be(statement.length),
    statement
  )
}

function checkGrantStatement(epoch: CommunityEpoch, s: ControlStatement, Err: new (m: string) => Error): void {
  if (!ROTATING_KINDS.has(s.kind)) throw new Err('a grant carries only a rotation statement')
  if (!equalBytes(s.communityId, epoch.communityId) || s.newEpoch !== epoch.epoch) {
    throw new Err('grant statement is for another community or epoch')
  }
  if (!equalBytes(s.newTopicId, epoch.topicId)) throw new Err('granted epoch key does not match the statement\'s topic id')
}

/**
 * Parses a grant and checks that its statement (if any) is a rotation to exactly this epoch key (its
 * topic id matches). Does not check who signed it: pass the result's statement to verifyControlStatement,
 * or use openEpochKeyGrant. Throws MalformedError or UnsupportedVersionError.
 */
export function decodeEpochKeyGrant(bytes: Uint8Array): EpochKeyGrant {
  checkBytes('bytes', bytes)
  const r = new ByteReader(bytes, 'epoch key grant')
  const version = r.u8()
  if (version !== COMMUNITY_VERSION) throw new UnsupportedVersionError(`epoch key grant version ${version}`)
  const communityId = r.bytes(COMMUNITY_KEY_BYTES)
  const epochNumber = r.u32()
  const epochKey = r.bytes(COMMUNITY_KEY_BYTES)
  const length = r.u32()
  if (length > r.remaining) throw new MalformedError('epoch key grant is truncated')
  const statementBytes = r.bytes(length)
  r.end()
  const epoch = CommunityEpoch.fromEpochKey(communityId, epochNumber, epochKey)
  if (length === 0) return { epoch }
  const statement = decodeControlStatement(statementBytes)
  checkGrantStatement(epoch, statement, MalformedError)
  return { epoch, statement }
}

/**
 * Decodes a grant and requires a rotation statement signed by one of `admins` (hex identity keys).
 * Returns the new epoch. Throws as decodeEpochKeyGrant and verifyControlStatement, and MalformedError
 * when the statement is missing.
 */
export function openEpochKeyGrant(bytes: Uint8Array, admins: ReadonlySet<string>): EpochKeyGrant {
  const grant = decodeEpochKeyGrant(bytes)
  if (grant.statement === undefined) throw new MalformedError('epoch key grant has no rotation statement')
  verifyControlStatement(grant.statement, admins)
  return grant
}
