// Attacks 7 and 8 with the Wycheproof vectors (test/vectors/wycheproof/, Apache-2.0): bad X25519 public keys
// in every place sotto accepts one from outside, and malleable or non-canonical Ed25519 signatures.
import { describe, expect, it } from 'vitest'
import { CommunityEpoch, createReceiverState, openCommunityMessage, sealCommunityMessage, verifyCommunityEnvelope } from '../../src/crypto/community.js'
import { createControlStatement, verifyControlStatement } from '../../src/crypto/community-control.js'
import { InvalidKeyError, SignatureError } from '../../src/crypto/errors.js'
import { IdentityKeyPair, IdentityPublicKey } from '../../src/crypto/identity.js'
import { LocalPrekeys, PrekeyBundle, u32be } from '../../src/crypto/prekeys.js'
import { concatBytes, ed25519Verify, ed25519VerifyOrThrow, fromHex, randomBytes, toHex, utf8, x25519CheckPublic } from '../../src/crypto/primitives.js'
import { RatchetSession } from '../../src/crypto/ratchet.js'
import { encodeHeader, headerAssociatedData, sealHeader } from '../../src/crypto/ratchet-kdf.js'
import { INITIAL_HEADER_VERSION, InitialHeader } from '../../src/crypto/x3dh.js'
import { forge, sender } from '../crypto/community-helpers.js'
import { fixedSecrets, parseState } from '../crypto/ratchet-helpers.js'
import { wycheproof } from './helpers.js'

/** Wycheproof X25519 public keys that must never be accepted: low order, zero shared secret, non-canonical. */
const BAD_FLAGS = new Set(['LowOrderPublic', 'ZeroSharedSecret', 'NonCanonicalPublic'])
const badX25519 = [
  ...new Set(
    wycheproof('x25519_test.json')
      .filter(({ test }) => test.flags.some((f) => BAD_FLAGS.has(f)))
      .map(({ test }) => test['public'] as string)
  )
].map(fromHex)

/** ℓ, the order of the Ed25519 base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n

/** A signature with S replaced by S + ℓ: the classic malleated (non-canonical) form of a valid signature. */
function malleate(sig: Uint8Array): Uint8Array {
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(sig[i]!)
  s += L
  const out = sig.slice()
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn)
    s >>= 8n
  }
  return out
}

describe('attack 7: low-order and non-canonical X25519 public keys', () => {
  it('attack 7: Wycheproof low-order and non-canonical X25519 keys are rejected in prekeys, identities, initial headers and ratchet keys', () => {
    expect(badX25519.length).toBeGreaterThanOrEqual(27)
    const owner = IdentityKeyPair.generate()
    const ownerPrekeys = LocalPrekeys.generate(owner, { oneTimeCount: 1 })
    const good = ownerPrekeys.bundle(owner)
    const ratchetKey = LocalPrekeys.generate(IdentityKeyPair.generate(), { oneTimeCount: 0 }).signedPrekey(1)
    const alice = RatchetSession.initAlice(fixedSecrets(), ratchetKey.publicKey)
    const bob = RatchetSession.initBob(fixedSecrets(), ratchetKey)
    const { hks, ad } = parseState(alice.serialize())
    for (const bad of badX25519) {
      const label = toHex(bad)
      expect(() => x25519CheckPublic(bad), label).toThrow(InvalidKeyError)
      // A signed prekey in a bundle signed by its owner (the owner, or someone who stole the key, is the attacker).
      expect(
        () => PrekeyBundle.create(owner, { sequence: 2, createdAt: 1, signedPrekey: { ...good.signedPrekey, publicKey: bad }, oneTimePrekeys: [] }),
        label
      ).toThrow(InvalidKeyError)
      // A one-time prekey in a bundle.
      expect(
        () => PrekeyBundle.create(owner, { sequence: 2, createdAt: 1, signedPrekey: good.signedPrekey, oneTimePrekeys: [{ id: 7, publicKey: bad }] }),
        label
      ).toThrow(InvalidKeyError)
      // An identity's DH key.
      expect(() => IdentityPublicKey.fromParts(owner.publicKey.signingKey, bad, owner.sign(bad)), label).toThrow(InvalidKeyError)
      // The initiator's ephemeral key in an initial header (its clear part: version, EK_A, signed prekey id),
      // checked before anything is derived from it; and a bad signed prekey given to the initiator.
      const header = concatBytes(Uint8Array.of(INITIAL_HEADER_VERSION), bad, u32be(good.signedPrekey.id), randomBytes(200))
      expect(() => InitialHeader.open(owner, ownerPrekeys, header), label).toThrow(InvalidKeyError)
      expect(
        () => InitialHeader.create({ initiator: owner.publicKey, ephemeralPrivateKey: randomBytes(32), signedPrekey: { id: 1, publicKey: bad } }),
        label
      ).toThrow(InvalidKeyError)
      // A ratchet key in a header encrypted under the right header key (a compromised or malicious contact).
      const sealedHeader = sealHeader(hks!, randomBytes(24), encodeHeader(bad, 0, 0), headerAssociatedData(ad))
      expect(() => bob.decrypt({ header: sealedHeader, ciphertext: randomBytes(48) }), label).toThrow(InvalidKeyError)
    }
    // The same paths accept a good key (the checks are not simply refusing everything).
    const fine = alice.encrypt(utf8('ok'))
    expect(new TextDecoder().decode(bob.decrypt(fine.message).plaintext)).toBe('ok')
    expect(PrekeyBundle.decode(good.encode()).signedPrekey.publicKey).toEqual(good.signedPrekey.publicKey)
  })
})

describe('attack 8: malleable and non-canonical Ed25519 signatures', () => {
  it('attack 8: every Wycheproof Ed25519 case not marked valid is rejected by the verifier every sotto signature check uses', () => {
    let rejected = 0
    for (const { group, test } of wycheproof('ed25519_test.json')) {
      const pk = fromHex((group['publicKey'] as { pk: string }).pk)
      const msg = fromHex(test['msg'] as string)
      const sig = fromHex(test['sig'] as string)
      const ok = ed25519Verify(pk, msg, sig)
      expect(ok, `tcId ${test.tcId} ${test.comment}`).toBe(test.result === 'valid')
      if (test.result !== 'valid') {
        expect(() => ed25519VerifyOrThrow(pk, msg, sig, 'test'), `tcId ${test.tcId}`).toThrow(SignatureError)
        rejected++
      }
    }
    expect(rejected).toBeGreaterThanOrEqual(63)
  })

  it('attack 8: a malleated signature (S + l) on a bundle, an identity, a control statement, or a community sender signature, certificate or binding is rejected', () => {
    const owner = IdentityKeyPair.generate()
    // Prekey bundle: its signature is the last 64 bytes.
    const bundle = LocalPrekeys.generate(owner, { oneTimeCount: 1 }).bundle(owner).encode()
    const badBundle = bundle.slice()
    badBundle.set(malleate(bundle.subarray(bundle.length - 64)), bundle.length - 64)
    expect(() => PrekeyBundle.decode(badBundle)).toThrow(SignatureError)
    // Identity: the signature on the DH key.
    const id = owner.publicKey
    expect(() => IdentityPublicKey.fromParts(id.signingKey, id.dhKey, malleate(id.dhKeySignature))).toThrow(SignatureError)
    // A control statement by an admin.
    const epoch = CommunityEpoch.create()
    const statement = createControlStatement(
      {
        kind: 'admin-add',
        communityId: epoch.communityId,
        epoch: 0,
        newEpoch: 0,
        newTopicId: new Uint8Array(32),
        removed: [],
        added: [IdentityKeyPair.generate().publicKey.signingKey],
        timestamp: 1
      },
      owner
    )
    const admins = new Set([toHex(owner.publicKey.signingKey)])
    verifyControlStatement(statement, admins)
    expect(() => verifyControlStatement({ ...statement, signature: malleate(statement.signature) }, admins)).toThrow(SignatureError)
    // A community message: the sender signature (last 64 bytes), the topic key's certificate (the 64 before) and
    // the identity key's binding (inside the encryption, checked with a chain's first message).
    const ownerSender = sender(epoch, owner, 0x5a)
    const { sealed } = sealCommunityMessage(epoch, ownerSender.chain(), owner, utf8('hi'), 1)
    const badSignature = sealed.slice()
    badSignature.set(malleate(sealed.subarray(sealed.length - 64)), sealed.length - 64)
    const badCertificate = forge({ from: ownerSender, index: 0, certificate: malleate(ownerSender.certificate) })
    const badBinding = forge({ from: ownerSender, index: 0, binding: malleate(ownerSender.binding) })
    // Checked both before and after the genuine certificate is cached.
    for (let round = 0; round < 2; round++) {
      expect(verifyCommunityEnvelope(epoch.topicId, badSignature)).toBe(false)
      expect(verifyCommunityEnvelope(epoch.topicId, badCertificate)).toBe(false)
      expect(verifyCommunityEnvelope(epoch.topicId, sealed)).toBe(true)
    }
    expect(() => openCommunityMessage(epoch, createReceiverState(epoch), badSignature)).toThrow()
    expect(() => openCommunityMessage(epoch, createReceiverState(epoch), badCertificate)).toThrow()
    expect(verifyCommunityEnvelope(epoch.topicId, badBinding)).toBe(true)
    expect(() => openCommunityMessage(epoch, createReceiverState(epoch), badBinding)).toThrow(SignatureError)
    expect(openCommunityMessage(epoch, createReceiverState(epoch), sealed).body).toEqual(utf8('hi'))
  })
})
