/**
 * The state of a Double Ratchet session and its versioned byte layout (docs/PROTOCOL.md §6).
 * Internal to src/crypto: callers use RatchetSession.serialize / RatchetSession.deserialize.
 */
import { MalformedError, UnsupportedVersionError } from './errors.js'
import { MAX_PREVIOUS_CHAINS, MAX_SKIPPED_TOTAL } from './ratchet-kdf.js'
import { KEY_BYTES, X25519_BYTES } from './primitives.js'
import type { X25519KeyPair } from './types.js'

/** Version byte of the serialised state (§6). */
export const STATE_VERSION = 1

const FLAG_REMOTE_RATCHET_KEY = 0x01
const FLAG_SENDING_CHAIN = 0x02
const FLAG_RECEIVING_CHAIN = 0x04
const KNOWN_FLAGS = FLAG_REMOTE_RATCHET_KEY | FLAG_SENDING_CHAIN | FLAG_RECEIVING_CHAIN
const MAX_AD_BYTES = 0xffff
const SKIPPED_ENTRY_BYTES = 4 + KEY_BYTES

/**
 * A receiving chain whose skipped message keys are kept: the current one (header key HKr) or a closed one.
 * `skipped` maps a message number N to its message key, in increasing N (insertion order).
 */
export interface ReceivingChain {
  readonly headerKey: Uint8Array
  /** Closed chains: the number of messages of the chain (max(Nr, PN) when it was closed). */
  readonly end: number
  /** Every skipped key with N < evictedBelow was evicted by the total bound (0: none). */
  readonly evictedBelow: number
  readonly skipped: ReadonlyMap<number, Uint8Array>
}

/** The Double Ratchet state, named as in the specification (§5.1). Never mutated once built. */
export interface RatchetState {
  readonly dhs: X25519KeyPair
  readonly dhr: Uint8Array | null
  readonly rk: Uint8Array
  readonly cks: Uint8Array | null
  readonly hks: Uint8Array | null
  readonly ckr: Uint8Array | null
  readonly hkr: Uint8Array | null
  readonly nhks: Uint8Array
  readonly nhkr: Uint8Array
  readonly ns: number
  readonly nr: number
  readonly pn: number
  /** Skipped keys of the current receiving chain (under HKr). */
  readonly skipped: ReadonlyMap<number, Uint8Array>
  /** Eviction mark of the current receiving chain. */
  readonly evictedBelow: number
  /** Closed receiving chains, oldest first, at most MAX_PREVIOUS_CHAINS. */
  readonly previous: readonly ReceivingChain[]
  /** Number of skipped keys over the current and the closed chains. */
  readonly skippedTotal: number
  /** AD: the associated data of the session (from session set-up). */
  readonly ad: Uint8Array
}

function skippedBytes(skipped: ReadonlyMap<number, Uint8Array>): number {
  return 4 + 2 + skipped.size * SKIPPED_ENTRY_BYTES
}

/** Encodes a state in the layout of §6. */
export function encodeState(s: RatchetState): Uint8Array {
  let flags = 0
  if (s.dhr !== null) flags |= FLAG_REMOTE_RATCHET_KEY
  if (s.cks !== null) flags |= FLAG_SENDING_CHAIN
  if (s.ckr !== null) flags |= FLAG_RECEIVING_CHAIN
  let size = 2 + 2 * X25519_BYTES + KEY_BYTES + 2 * KEY_BYTES + 12 + 2 + s.ad.length + skippedBytes(s.skipped) + 1
  if (s.dhr !== null) size += X25519_BYTES
  if (s.cks !== null) size += 2 * KEY_BYTES
  if (s.ckr !== null) size += 2 * KEY_BYTES
  for (const c of s.previous) size += KEY_BYTES + 4 + skippedBytes(c.skipped)
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  let o = 0
  const put = (bytes: Uint8Array): void => {
    out.set(bytes, o)
    o += bytes.length
  }
  const u32 = (v: number): void => {
    view.setUint32(o, v)
    o += 4
  }
  const u16 = (v: number): void => {
    view.setUint16(o, v)
    o += 2
  }
  const putSkipped = (evictedBelow: number, skipped: ReadonlyMap<number, Uint8Array>): void => {
    u32(evictedBelow)
    u16(skipped.size)
    for (const [n, mk] of skipped) {
      u32(n)
      put(mk)
    }
  }
  out[o++] = STATE_VERSION
  out[o++] = flags
  put(s.dhs.privateKey)
  put(s.dhs.publicKey)
  if (s.dhr !== null) put(s.dhr)
  put(s.rk)
  if (s.cks !== null && s.hks !== null) {
    put(s.cks)
    put(s.hks)
  }
  if (s.ckr !== null && s.hkr !== null) {
    put(s.ckr)
    put(s.hkr)
  }
  put(s.nhks)
  put(s.nhkr)
  u32(s.ns)
  u32(s.nr)
  u32(s.pn)
  u16(s.ad.length)
  put(s.ad)
  putSkipped(s.evictedBelow, s.skipped)
  out[o++] = s.previous.length
  for (const c of s.previous) {
    put(c.headerKey)
    u32(c.end)
    putSkipped(c.evictedBelow, c.skipped)
  }
  return out
}

/** A strict reader: every read checks the remaining length and throws MalformedError. */
class Reader {
  private offset = 0
  private readonly view: DataView
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }
  private need(n: number, what: string): void {
    if (this.offset + n > this.bytes.length) throw new MalformedError(`ratchet state truncated in ${what}`)
  }
  u8(what: string): number {
    this.need(1, what)
    return this.bytes[this.offset++]!
  }
  u16(what: string): number {
    this.need(2, what)
    const v = this.view.getUint16(this.offset)
    this.offset += 2
    return v
  }
  u32(what: string): number {
    this.need(4, what)
    const v = this.view.getUint32(this.offset)
    this.offset += 4
    return v
  }
  bytesOf(n: number, what: string): Uint8Array {
    this.need(n, what)
    const v = this.bytes.slice(this.offset, this.offset + n)
    this.offset += n
    return v
  }
  end(): void {
    if (this.offset !== this.bytes.length) throw new MalformedError('trailing bytes after the ratchet state')
  }
}

function readSkipped(
  r: Reader,
  limit: number,
  what: string
): { evictedBelow: number; skipped: Map<number, Uint8Array> } {
  const evictedBelow = r.u32(`${what} evictedBelow`)
  const count = r.u16(`${what} count`)
  if (count > MAX_SKIPPED_TOTAL) throw new MalformedError(`${what}: too many skipped keys`)
  const skipped = new Map<number, Uint8Array>()
  let last = -1
  for (let i = 0; i < count; i++) {
    const n = r.u32(`${what} N`)
    if (n <= last) throw new MalformedError(`${what}: skipped message numbers not strictly increasing`)
    if (n < evictedBelow || n >= limit) throw new MalformedError(`${what}: skipped message number out of range`)
    skipped.set(n, r.bytesOf(KEY_BYTES, `${what} message key`))
    last = n
  }
  if (evictedBelow > limit) throw new MalformedError(`${what}: eviction mark beyond the chain`)
  return { evictedBelow, skipped }
}

/** Decodes and checks a state; throws UnsupportedVersionError or MalformedError. */
export function decodeState(bytes: Uint8Array): RatchetState {
  if (!(bytes instanceof Uint8Array)) throw new MalformedError('ratchet state must be a Uint8Array')
  const r = new Reader(bytes)
  const version = r.u8('version')
  if (version !== STATE_VERSION) throw new UnsupportedVersionError(`ratchet state version ${version}`)
  const flags = r.u8('flags')
  if ((flags & ~KNOWN_FLAGS) !== 0) throw new MalformedError('unknown ratchet state flags')
  const hasRemote = (flags & FLAG_REMOTE_RATCHET_KEY) !== 0
  const hasSending = (flags & FLAG_SENDING_CHAIN) !== 0
  const hasReceiving = (flags & FLAG_RECEIVING_CHAIN) !== 0
  // Every chain is derived from a DH with the remote ratchet key (§5.6).
  if ((hasSending || hasReceiving) && !hasRemote) throw new MalformedError('chain without a remote ratchet key')
  const privateKey = r.bytesOf(X25519_BYTES, 'DHs private key')
  const publicKey = r.bytesOf(X25519_BYTES, 'DHs public key')
  const dhr = hasRemote ? r.bytesOf(X25519_BYTES, 'DHr') : null
  const rk = r.bytesOf(KEY_BYTES, 'RK')
  const cks = hasSending ? r.bytesOf(KEY_BYTES, 'CKs') : null
  const hks = hasSending ? r.bytesOf(KEY_BYTES, 'HKs') : null
  const ckr = hasReceiving ? r.bytesOf(KEY_BYTES, 'CKr') : null
  const hkr = hasReceiving ? r.bytesOf(KEY_BYTES, 'HKr') : null
  const nhks = r.bytesOf(KEY_BYTES, 'NHKs')
  const nhkr = r.bytesOf(KEY_BYTES, 'NHKr')
  const ns = r.u32('Ns')
  const nr = r.u32('Nr')
  const pn = r.u32('PN')
  if (!hasSending && ns !== 0) throw new MalformedError('Ns without a sending chain')
  if (!hasReceiving && nr !== 0) throw new MalformedError('Nr without a receiving chain')
  const ad = r.bytesOf(r.u16('AD length'), 'AD')
  const current = readSkipped(r, nr, 'current chain')
  let skippedTotal = current.skipped.size
  const previousCount = r.u8('previous chain count')
  if (previousCount > MAX_PREVIOUS_CHAINS) throw new MalformedError('too many previous chains')
  const previous: ReceivingChain[] = []
  for (let i = 0; i < previousCount; i++) {
    const headerKey = r.bytesOf(KEY_BYTES, 'previous chain header key')
    const end = r.u32('previous chain end')
    const { evictedBelow, skipped } = readSkipped(r, end, 'previous chain')
    skippedTotal += skipped.size
    previous.push({ headerKey, end, evictedBelow, skipped })
  }
  r.end()
  if (skippedTotal > MAX_SKIPPED_TOTAL) throw new MalformedError('too many skipped message keys')
  return {
    dhs: { privateKey, publicKey },
    dhr,
    rk,
    cks,
    hks,
    ckr,
    hkr,
    nhks,
    nhkr,
    ns,
    nr,
    pn,
    skipped: current.skipped,
    evictedBelow: current.evictedBelow,
    previous,
    skippedTotal,
    ad
  }
}

/** Largest AD a state can hold (u16 length in §6). */
export const MAX_ASSOCIATED_DATA_BYTES = MAX_AD_BYTES
