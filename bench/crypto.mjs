// Crypto benchmarks (issue 9, items 1-3), against the built dist/ and the peers, in one process and one run:
//  1. 1:1 ratchet: encrypt + decrypt of a 200-byte message in an established session, one direction (chain
//     steps) and alternating (a DH ratchet step per message): sotto, @signalapp/libsignal-client,
//     @privacyresearch/libsignal-protocol-typescript, and the primitive floor.
//  2. Session set-up: prekey bundle -> first decrypted message: sotto PQXDH and X3DH, libsignal-client PQXDH.
//  3. Community message: seal + open (encrypt, sign, verify, decrypt): sotto vs ts-mls application messages in
//     groups of 2 and 10, and the floors.
// Writes bench/results/crypto.json. Run by bench/run.mjs (or alone: node bench/crypto.mjs [--quick]).
import { readFileSync } from 'node:fs'
import * as signal from '@signalapp/libsignal-client'
import * as tsport from '@privacyresearch/libsignal-protocol-typescript'
import * as mls from 'ts-mls'
import { createSenderChain, createReceiverState, CommunityEpoch, openCommunityMessage, sealCommunityMessage } from '../dist/crypto/community.js'
import { IdentityKeyPair } from '../dist/crypto/identity.js'
import { LocalPrekeys } from '../dist/crypto/prekeys.js'
import * as P from '../dist/crypto/primitives.js'
import { ENCRYPTED_HEADER_BYTES, RatchetSession } from '../dist/crypto/ratchet.js'
import { initiateSession, respondSession } from '../dist/crypto/x3dh.js'
import { machine, measure, writeResult } from './lib.mjs'

const PAYLOAD = 200
const payload = () => new Uint8Array(P.randomBytes(PAYLOAD))
const plaintext = payload()
const check = (got, want, what) => {
  if (!P.equalBytes(new Uint8Array(got), want)) throw new Error(`${what}: wrong plaintext`)
}

// ---------------------------------------------------------------------------------------------------
// sotto
// ---------------------------------------------------------------------------------------------------

/** Alice and Bob with an established sotto session (one message each way already exchanged). */
function sottoPair(usePq = true) {
  const alice = IdentityKeyPair.generate()
  const bob = IdentityKeyPair.generate()
  const prekeys = LocalPrekeys.generate(bob, { oneTimeCount: 16, pq: usePq })
  const init = initiateSession(alice, prekeys.bundle(bob).encode(), { usePq })
  let a = RatchetSession.initAlice(init.secrets, init.theirRatchetKey)
  const resp = respondSession(bob, prekeys, init.initialHeader.encode())
  let b = RatchetSession.initBob(resp.secrets, resp.ourRatchetKeyPair)
  let e = a.encrypt(plaintext)
  a = e.session
  let d = b.decrypt(e.message)
  b = d.session
  e = b.encrypt(plaintext)
  b = e.session
  d = a.decrypt(e.message)
  a = d.session
  return { a, b }
}

/** A ratchet message as bytes on the wire (encrypted header, then body), and back, as libsignal's messages are. */
const toWire = (m) => P.concatBytes(m.header, m.ciphertext)
const fromWire = (bytes) => ({ header: bytes.subarray(0, ENCRYPTED_HEADER_BYTES), ciphertext: bytes.subarray(ENCRYPTED_HEADER_BYTES) })

function sottoRatchet() {
  let { a, b } = sottoPair()
  const oneWay = () => {
    const e = a.encrypt(plaintext)
    a = e.session
    const d = b.decrypt(fromWire(toWire(e.message)))
    b = d.session
  }
  const s = sottoPair()
  let turn = 0
  const alternating = () => {
    if ((turn++ & 1) === 0) {
      const e = s.a.encrypt(plaintext)
      s.a = e.session
      s.b = s.b.decrypt(fromWire(toWire(e.message))).session
    } else {
      const e = s.b.encrypt(plaintext)
      s.b = e.session
      s.a = s.a.decrypt(fromWire(toWire(e.message))).session
    }
  }
  // The same, with each side's state written to bytes and read back around every message, as the app does
  // when it keeps sessions in the store.
  const ser = sottoPair()
  let sa = ser.a.serialize()
  let sb = ser.b.serialize()
  const oneWaySerialized = () => {
    const e = RatchetSession.deserialize(sa).encrypt(plaintext)
    sa = e.session.serialize()
    const d = RatchetSession.deserialize(sb).decrypt(fromWire(toWire(e.message)))
    sb = d.session.serialize()
  }
  // sanity: a message decrypts to the plaintext
  const t = sottoPair()
  const e = t.a.encrypt(plaintext)
  check(t.b.decrypt(e.message).plaintext, plaintext, 'sotto ratchet')
  return { oneWay, alternating, oneWaySerialized }
}

/**
 * The primitive floor of one sotto ratchet message (chain step, no DH): exactly the libsodium calls the
 * ratchet makes, timed alone. Sender: KDF_CK (2 HMAC-SHA-256 under one key schedule), message-key HKDF
 * (extract + 2 expand blocks = 3 HMAC), header AEAD seal (41 B), body AEAD seal (200 B). Receiver: the same
 * HMACs, header open, body open.
 */
function ratchetFloor() {
  const ck = P.randomBytes(32)
  const hk = P.randomBytes(32)
  const ad = P.randomBytes(64)
  const headerAd = P.randomBytes(64)
  const header = P.randomBytes(41)
  const nonce = P.randomBytes(24)
  const one = new Uint8Array([1])
  const two = new Uint8Array([2])
  const info = P.utf8('sotto/ratchet/v1/message')
  const steps = [one, two]
  const empty = new Uint8Array(0)
  // The same primitive calls as src/crypto/ratchet-kdf.ts: KDF_CK as two HMACs under one key schedule
  // (hmacSha256Each), the message-key HKDF (extract + 2 expand blocks, through primitives.hkdf).
  const side = () => {
    const [mk] = P.hmacSha256Each(ck, steps)
    return P.hkdf(mk, empty, info, 56)
  }
  return () => {
    const m = side()
    const key = m.subarray(0, 32)
    const n = m.subarray(32, 56)
    const encHeader = P.aeadEncrypt(hk, nonce, header, headerAd)
    const body = P.aeadEncrypt(key, n, plaintext, ad)
    const m2 = side()
    P.aeadDecrypt(hk, nonce, encHeader, headerAd)
    P.aeadDecrypt(m2.subarray(0, 32), m2.subarray(32, 56), body, ad)
  }
}

/**
 * The primitive floor of one alternating message: the chain-step floor plus the DH ratchet step's libsodium
 * calls on the receiving side (a new X25519 key pair, two X25519 DH, two root-KDF HKDFs of 96 bytes).
 */
function ratchetFloorAlternating() {
  const chain = ratchetFloor()
  const priv = P.randomBytes(32)
  const theirs = P.x25519Public(P.randomBytes(32))
  const rk = P.randomBytes(32)
  const info = P.utf8('sotto/ratchet/v1/root')
  return () => {
    chain()
    const mine = P.randomBytes(32)
    P.x25519Public(mine)
    P.hkdf(P.x25519(priv, theirs), rk, info, 96)
    P.hkdf(P.x25519(mine, theirs), rk, info, 96)
  }
}

function sottoSetup() {
  const alice = IdentityKeyPair.generate()
  const bob = IdentityKeyPair.generate()
  const make = (usePq) => {
    const prekeys = LocalPrekeys.generate(bob, { oneTimeCount: 16, pq: usePq })
    const bundle = prekeys.bundle(bob).encode()
    return () => {
      // Alice: bundle bytes (decoded and verified) -> secrets -> ratchet -> first message
      const init = initiateSession(alice, bundle, { usePq })
      const e = RatchetSession.initAlice(init.secrets, init.theirRatchetKey).encrypt(plaintext)
      const headerBytes = init.initialHeader.encode()
      // Bob: initial header bytes -> secrets -> ratchet -> decrypted first message
      const resp = respondSession(bob, prekeys, headerBytes)
      const d = RatchetSession.initBob(resp.secrets, resp.ourRatchetKeyPair).decrypt(fromWire(toWire(e.message)))
      if (d.plaintext.length !== PAYLOAD) throw new Error('sotto set-up: wrong plaintext')
    }
  }
  make(true)()
  make(false)()
  return { pqxdh: make(true), x3dh: make(false) }
}

// ---------------------------------------------------------------------------------------------------
// @signalapp/libsignal-client (Rust through Node bindings), with in-memory stores
// ---------------------------------------------------------------------------------------------------

class MemSessions extends signal.SessionStore {
  m = new Map()
  async saveSession(a, r) {
    this.m.set(a.toString(), r)
  }
  async getSession(a) {
    return this.m.get(a.toString()) ?? null
  }
  async getExistingSessions(as) {
    return as.map((a) => this.m.get(a.toString()))
  }
}
class MemIdentity extends signal.IdentityKeyStore {
  ids = new Map()
  constructor(pair, regId) {
    super()
    this.pair = pair
    this.regId = regId
  }
  async getIdentityKey() {
    return this.pair.privateKey
  }
  async getLocalRegistrationId() {
    return this.regId
  }
  async saveIdentity(a, k) {
    const old = this.ids.get(a.toString())
    this.ids.set(a.toString(), k)
    return old !== undefined && !old.equals(k) ? signal.IdentityChange.ReplacedExisting : signal.IdentityChange.NewOrUnchanged
  }
  async isTrustedIdentity() {
    return true
  }
  async getIdentity(a) {
    return this.ids.get(a.toString()) ?? null
  }
}
class MemPreKeys extends signal.PreKeyStore {
  m = new Map()
  async savePreKey(id, r) {
    this.m.set(id, r)
  }
  async getPreKey(id) {
    return this.m.get(id)
  }
  // One-time prekeys are kept so the set-up benchmark can reuse one bundle (sotto's respondSession does
  // not consume either; both leave consumption to the caller's store).
  async removePreKey() {}
}
class MemSignedPreKeys extends signal.SignedPreKeyStore {
  m = new Map()
  async saveSignedPreKey(id, r) {
    this.m.set(id, r)
  }
  async getSignedPreKey(id) {
    return this.m.get(id)
  }
}
class MemKyberPreKeys extends signal.KyberPreKeyStore {
  m = new Map()
  async saveKyberPreKey(id, r) {
    this.m.set(id, r)
  }
  async getKyberPreKey(id) {
    return this.m.get(id)
  }
  async markKyberPreKeyUsed() {}
}

function signalUser(name, regId) {
  const pair = signal.IdentityKeyPair.generate()
  return {
    address: signal.ProtocolAddress.new(name, 1),
    pair,
    regId,
    sessions: new MemSessions(),
    identity: new MemIdentity(pair, regId),
    prekeys: new MemPreKeys(),
    signed: new MemSignedPreKeys(),
    kyber: new MemKyberPreKeys()
  }
}

/** Bob's prekeys (one-time EC, signed EC, signed Kyber) in his stores, and the bundle Alice fetches. */
async function signalBundle(bob) {
  const pre = signal.PrivateKey.generate()
  const spk = signal.PrivateKey.generate()
  const spkSig = bob.pair.privateKey.sign(spk.getPublicKey().serialize())
  const kem = signal.KEMKeyPair.generate()
  const kemSig = bob.pair.privateKey.sign(kem.getPublicKey().serialize())
  await bob.prekeys.savePreKey(1, signal.PreKeyRecord.new(1, pre.getPublicKey(), pre))
  await bob.signed.saveSignedPreKey(2, signal.SignedPreKeyRecord.new(2, Date.now(), spk.getPublicKey(), spk, spkSig))
  await bob.kyber.saveKyberPreKey(3, signal.KyberPreKeyRecord.new(3, Date.now(), kem, kemSig))
  return signal.PreKeyBundle.new(bob.regId, 1, 1, pre.getPublicKey(), 2, spk.getPublicKey(), spkSig, bob.pair.publicKey, 3, kem.getPublicKey(), kemSig)
}

const sigEncrypt = (from, to) => signal.signalEncrypt(plaintext, to.address, from.address, from.sessions, from.identity)
async function sigDecrypt(to, from, c) {
  const bytes = c.serialize()
  if (c.type() === signal.CiphertextMessageType.PreKey) {
    return signal.signalDecryptPreKey(signal.PreKeySignalMessage.deserialize(bytes), from.address, to.address, to.sessions, to.identity, to.prekeys, to.signed, to.kyber)
  }
  return signal.signalDecrypt(signal.SignalMessage.deserialize(bytes), from.address, to.address, to.sessions, to.identity)
}

async function signalPair() {
  const alice = signalUser('alice', 1001)
  const bob = signalUser('bob', 1002)
  await signal.processPreKeyBundle(await signalBundle(bob), bob.address, alice.address, alice.sessions, alice.identity)
  check(await sigDecrypt(bob, alice, await sigEncrypt(alice, bob)), plaintext, 'libsignal first message')
  check(await sigDecrypt(alice, bob, await sigEncrypt(bob, alice)), plaintext, 'libsignal reply')
  return { alice, bob }
}

async function signalRatchet() {
  const p1 = await signalPair()
  const oneWay = async () => {
    await sigDecrypt(p1.bob, p1.alice, await sigEncrypt(p1.alice, p1.bob))
  }
  const p2 = await signalPair()
  let turn = 0
  const alternating = async () => {
    if ((turn++ & 1) === 0) await sigDecrypt(p2.bob, p2.alice, await sigEncrypt(p2.alice, p2.bob))
    else await sigDecrypt(p2.alice, p2.bob, await sigEncrypt(p2.bob, p2.alice))
  }
  // does this version carry the post-quantum ratchet (SPQR) in its messages?
  const probe = await sigEncrypt(p1.alice, p1.bob)
  const msg = signal.SignalMessage.deserialize(probe.serialize())
  const pq = typeof msg.pqRatchet === 'function' ? msg.pqRatchet().length : 0
  await sigDecrypt(p1.bob, p1.alice, probe)
  return { oneWay, alternating, spqr: { field: typeof msg.pqRatchet === 'function', bytesInProbe: pq, messageBytes: probe.serialize().length } }
}

async function signalSetup() {
  const alice = signalUser('alice', 1001)
  const bob = signalUser('bob', 1002)
  const bundle = await signalBundle(bob)
  const run = async () => {
    // fresh session stores each time, as a first contact
    alice.sessions = new MemSessions()
    bob.sessions = new MemSessions()
    await signal.processPreKeyBundle(bundle, bob.address, alice.address, alice.sessions, alice.identity)
    const c = await sigEncrypt(alice, bob)
    if (c.type() !== signal.CiphertextMessageType.PreKey) throw new Error('expected a PreKeySignalMessage')
    const got = await sigDecrypt(bob, alice, c)
    if (got.length !== PAYLOAD) throw new Error('libsignal set-up: wrong plaintext')
  }
  await run()
  return run
}

// ---------------------------------------------------------------------------------------------------
// @privacyresearch/libsignal-protocol-typescript (pure TypeScript port), with an in-memory store
// ---------------------------------------------------------------------------------------------------

class TsStore {
  constructor(identity, regId) {
    this.identity = identity
    this.regId = regId
    this.m = new Map()
  }
  async getIdentityKeyPair() {
    return this.identity
  }
  async getLocalRegistrationId() {
    return this.regId
  }
  async isTrustedIdentity() {
    return true
  }
  async saveIdentity(id, key) {
    this.m.set(`identity:${id}`, key)
    return false
  }
  async loadPreKey(id) {
    return this.m.get(`pre:${id}`)
  }
  async storePreKey(id, kp) {
    this.m.set(`pre:${id}`, kp)
  }
  async removePreKey(id) {
    this.m.delete(`pre:${id}`)
  }
  async storeSession(id, r) {
    this.m.set(`session:${id}`, r)
  }
  async loadSession(id) {
    return this.m.get(`session:${id}`)
  }
  async loadSignedPreKey(id) {
    return this.m.get(`signed:${id}`)
  }
  async storeSignedPreKey(id, kp) {
    this.m.set(`signed:${id}`, kp)
  }
  async removeSignedPreKey(id) {
    this.m.delete(`signed:${id}`)
  }
}

const ab = (u8) => u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength)

async function tsPair() {
  const { KeyHelper, SessionBuilder, SessionCipher, SignalProtocolAddress } = tsport
  const aliceStore = new TsStore(await KeyHelper.generateIdentityKeyPair(), 1001)
  const bobStore = new TsStore(await KeyHelper.generateIdentityKeyPair(), 1002)
  const pre = await KeyHelper.generatePreKey(1)
  const signed = await KeyHelper.generateSignedPreKey(bobStore.identity, 2)
  await bobStore.storePreKey(1, pre.keyPair)
  await bobStore.storeSignedPreKey(2, signed.keyPair)
  const aliceAddr = new SignalProtocolAddress('alice', 1)
  const bobAddr = new SignalProtocolAddress('bob', 1)
  await new SessionBuilder(aliceStore, bobAddr).processPreKey({
    registrationId: 1002,
    identityKey: bobStore.identity.pubKey,
    signedPreKey: { keyId: 2, publicKey: signed.keyPair.pubKey, signature: signed.signature },
    preKey: { keyId: 1, publicKey: pre.keyPair.pubKey }
  })
  const a = new SessionCipher(aliceStore, bobAddr)
  const b = new SessionCipher(bobStore, aliceAddr)
  const pt = ab(plaintext)
  let m = await a.encrypt(pt)
  check(await b.decryptPreKeyWhisperMessage(m.body, 'binary'), plaintext, 'ts port first message')
  m = await b.encrypt(pt)
  check(await a.decryptWhisperMessage(m.body, 'binary'), plaintext, 'ts port reply')
  return { a, b, pt }
}

async function tsRatchet() {
  const p1 = await tsPair()
  const oneWay = async () => {
    const m = await p1.a.encrypt(p1.pt)
    await p1.b.decryptWhisperMessage(m.body, 'binary')
  }
  const p2 = await tsPair()
  let turn = 0
  const alternating = async () => {
    const [from, to] = (turn++ & 1) === 0 ? [p2.a, p2.b] : [p2.b, p2.a]
    const m = await from.encrypt(p2.pt)
    await to.decryptWhisperMessage(m.body, 'binary')
  }
  return { oneWay, alternating }
}

// ---------------------------------------------------------------------------------------------------
// Community messages: sotto vs ts-mls
// ---------------------------------------------------------------------------------------------------

function sottoCommunity() {
  const epoch = CommunityEpoch.create()
  const sender = IdentityKeyPair.generate()
  let state = createSenderChain(epoch, sender)
  let receiver = createReceiverState(epoch)
  let ts = Date.now()
  const run = () => {
    const s = sealCommunityMessage(epoch, state, sender, plaintext, ts++)
    state = s.state
    const o = openCommunityMessage(epoch, receiver, s.sealed)
    receiver = o.states
    if (o.body.length !== PAYLOAD) throw new Error('sotto community: wrong body')
  }
  run()
  return run
}

/**
 * The floor: one Ed25519 sign + verify of 300 bytes (the 200-byte body and 100 more) and one AEAD seal +
 * open of 256 bytes, the smallest padding bucket. sotto signs more (its 660-byte envelope) and encrypts more
 * (the body with its 145-byte inner header lands in the 512-byte bucket), so the floor errs on the fast side.
 */
function communityFloor() {
  const ed = P.ed25519FromSeed(P.randomBytes(32))
  const key = P.randomBytes(32)
  const nonce = P.randomBytes(24)
  const header = P.randomBytes(41)
  const inner = P.randomBytes(256)
  const signed = P.concatBytes(P.randomBytes(100), plaintext)
  return () => {
    const sig = P.ed25519Sign(ed.secretKey, signed)
    const c = P.aeadEncrypt(key, nonce, inner, header)
    P.aeadDecrypt(key, nonce, c, header)
    if (!P.ed25519Verify(ed.publicKey, signed, sig)) throw new Error('floor')
  }
}

async function mlsGroup(size) {
  const impl = await mls.getCiphersuiteImpl(mls.getCiphersuiteFromName('MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519'))
  const member = async (name) =>
    mls.generateKeyPackage({ credentialType: 'basic', identity: new TextEncoder().encode(name) }, mls.defaultCapabilities(), mls.defaultLifetime, [], impl)
  const alice = await member('alice')
  let aliceGroup = await mls.createGroup(new TextEncoder().encode('bench'), alice.publicPackage, alice.privatePackage, [], impl)
  const others = []
  for (let i = 1; i < size; i++) others.push(await member(`m${i}`))
  const commit = await mls.createCommit(
    { state: aliceGroup, cipherSuite: impl },
    { extraProposals: others.map((o) => ({ proposalType: 'add', add: { keyPackage: o.publicPackage } })) }
  )
  aliceGroup = commit.newState
  const bob = others[0]
  let bobGroup = await mls.joinGroup(commit.welcome, bob.publicPackage, bob.privatePackage, mls.emptyPskIndex, impl, aliceGroup.ratchetTree)
  const run = async () => {
    const out = await mls.createApplicationMessage(aliceGroup, plaintext, impl)
    aliceGroup = out.newState
    const wire = mls.encodeMlsMessage({ privateMessage: out.privateMessage, wireformat: 'mls_private_message', version: 'mls10' })
    const decoded = mls.decodeMlsMessage(wire, 0)[0]
    const got = await mls.processPrivateMessage(bobGroup, decoded.privateMessage, mls.emptyPskIndex, impl)
    bobGroup = got.newState
    if (got.kind === 'newState' || got.message.length !== PAYLOAD) throw new Error('ts-mls: expected the application message')
  }
  await run()
  return run
}

// ---------------------------------------------------------------------------------------------------

const result = { machine: machine(), payloadBytes: PAYLOAD, versions: {} }
for (const p of ['@signalapp/libsignal-client', '@privacyresearch/libsignal-protocol-typescript', 'ts-mls', 'tinybench']) {
  result.versions[p] = JSON.parse(readFileSync(new URL(`../node_modules/${p}/package.json`, import.meta.url), 'utf8')).version
}

console.log('1:1 ratchet, one direction')
const sr = sottoRatchet()
const lr = await signalRatchet()
const tr = await tsRatchet()
result.spqr = lr.spqr
const floor = ratchetFloor()
result.ratchetOneWay = await measure([
  ['sotto', sr.oneWay],
  ['sotto, state serialized and parsed around each message', sr.oneWaySerialized],
  ['libsignal-client', lr.oneWay],
  ['ts port', tr.oneWay],
  ['floor', floor]
])
console.log('1:1 ratchet, alternating')
result.ratchetAlternating = await measure([
  ['sotto', sr.alternating],
  ['libsignal-client', lr.alternating],
  ['ts port', tr.alternating],
  ['floor', ratchetFloorAlternating()]
])

console.log('session set-up')
const ss = sottoSetup()
result.setup = await measure([
  ['sotto PQXDH', ss.pqxdh],
  ['sotto X3DH', ss.x3dh],
  ['libsignal-client PQXDH', await signalSetup()]
])

console.log('community message')
result.community = await measure([
  ['sotto', sottoCommunity()],
  ['ts-mls, group of 2', await mlsGroup(2)],
  ['ts-mls, group of 10', await mlsGroup(10)],
  ['floor: 1 sign + 1 verify + AEAD', communityFloor()]
])
result.mlsCiphersuite = 'MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (1, the mandatory-to-implement suite; WebCrypto)'

writeResult('crypto', result)
console.log('wrote bench/results/crypto.json')
