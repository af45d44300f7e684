// Generator and check of test/vectors/ratchet_transcript.json (docs/PROTOCOL.md §5, §6, §16).
// WRITE_VECTORS=1 writes the file; otherwise the test regenerates it and requires it byte for byte.
// Every recorded value is also recomputed here from the primitives as PROTOCOL.md §5 describes, so the
// file pins the text of the specification, not only this implementation.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { DuplicateMessageError } from '../../src/crypto/errors.js'
import {
  aeadEncrypt,
  concatBytes,
  fromHex,
  hkdf,
  hmacSha256,
  sha256,
  toHex,
  utf8,
  x25519,
  x25519Public
} from '../../src/crypto/primitives.js'
import { type RatchetMessage, RatchetSession } from '../../src/crypto/ratchet.js'
import { counterDrbg, parseState } from '../crypto/ratchet-helpers.js'

const FILE = fileURLToPath(new URL('./ratchet_transcript.json', import.meta.url))

type Party = 'alice' | 'bob'

/** The conversation: sends, deliveries (out of order, across chains) and replays of delivered messages. */
const SCRIPT: Array<['send', Party, number] | ['deliver', string] | ['replay', string]> = [
  ['send', 'alice', 3], // a0 a1 a2
  ['deliver', 'a1'],
  ['deliver', 'a0'],
  ['send', 'bob', 2], // b0 b1
  ['deliver', 'b1'],
  ['send', 'alice', 2], // a3 a4: new chain
  ['deliver', 'a4'], // closes Bob's first receiving chain with a2 skipped; skips a3
  ['deliver', 'a2'], // from the closed chain
  ['deliver', 'a3'],
  ['send', 'bob', 3], // b2 b3 b4: new chain
  ['deliver', 'b3'],
  ['deliver', 'b0'], // from Alice's closed chain
  ['deliver', 'b2'],
  ['deliver', 'b4'],
  ['send', 'alice', 2], // a5 a6
  ['deliver', 'a5'],
  ['deliver', 'a6'],
  ['send', 'bob', 1], // b5
  ['deliver', 'b5'],
  ['send', 'alice', 1], // a7
  ['send', 'bob', 1], // b6, sent before Bob sees a7
  ['deliver', 'a7'],
  ['deliver', 'b6'],
  ['send', 'alice', 2], // a8 a9
  ['send', 'bob', 1], // b7
  ['deliver', 'b7'],
  ['deliver', 'a9'],
  ['deliver', 'a8'],
  ['replay', 'a4'],
  ['replay', 'b0'],
  ['send', 'bob', 1], // b8
  ['deliver', 'b8'],
  ['send', 'alice', 2], // a10 a11
  ['deliver', 'a11'],
  ['deliver', 'a10'],
  ['replay', 'a11']
]

const label = (s: string): Uint8Array => sha256(utf8(`sotto ratchet vector ${s}`))
const HEADER_AD_LABEL = utf8('sotto/ratchet/v1/header')

/** KDF_RK_HE of §5.2, written out. */
function kdfRk(rk: Uint8Array, dhOut: Uint8Array): { root_key: string; chain_key: string; next_header_key: string } {
  const out = hkdf(dhOut, rk, utf8('sotto/ratchet/v1/root'), 96)
  return { root_key: toHex(out.subarray(0, 32)), chain_key: toHex(out.subarray(32, 64)), next_header_key: toHex(out.subarray(64)) }
}

function header(dh: Uint8Array, pn: number, n: number): Uint8Array {
  const out = new Uint8Array(41)
  out[0] = 1
  out.set(dh, 1)
  new DataView(out.buffer).setUint32(33, pn)
  new DataView(out.buffer).setUint32(37, n)
  return out
}

function generate(): string {
  const inputs = {
    root_key: label('SK'),
    header_key_a: label('shared_hka'),
    next_header_key_b: label('shared_nhkb'),
    associated_data: concatBytes(label('identity key A'), label('identity key B')),
    bob_ratchet_private: label('bob signed prekey'),
    alice_drbg_seed: label('alice drbg seed'),
    bob_drbg_seed: label('bob drbg seed')
  }
  const bobRatchetPublic = x25519Public(inputs.bob_ratchet_private)
  const ad = inputs.associated_data
  const secrets = {
    rootKey: inputs.root_key,
    headerKeyA: inputs.header_key_a,
    nextHeaderKeyB: inputs.next_header_key_b,
    associatedData: ad
  }
  const sessions: Record<Party, RatchetSession> = {
    alice: RatchetSession.initAlice(secrets, bobRatchetPublic, { random: counterDrbg(inputs.alice_drbg_seed) }),
    bob: RatchetSession.initBob(
      secrets,
      { privateKey: inputs.bob_ratchet_private, publicKey: bobRatchetPublic },
      { random: counterDrbg(inputs.bob_drbg_seed) }
    )
  }
  const ratchetSteps: unknown[] = []
  // Alice's initial step (RatchetInitAliceHE): her first ratchet key is the first 32 bytes of her DRBG.
  {
    const a = parseState(sessions.alice.serialize())
    const first = counterDrbg(inputs.alice_drbg_seed)(32)
    expect(toHex(a.dhsPrivate)).toBe(toHex(first))
    const dhOut = x25519(a.dhsPrivate, bobRatchetPublic)
    const out = kdfRk(inputs.root_key, dhOut)
    expect([toHex(a.rk), toHex(a.cks!), toHex(a.nhks)]).toEqual([out.root_key, out.chain_key, out.next_header_key])
    ratchetSteps.push({
      party: 'alice',
      at: 'init',
      new_ratchet_private: toHex(a.dhsPrivate),
      new_ratchet_public: toHex(a.dhsPublic),
      remote_ratchet_public: toHex(bobRatchetPublic),
      sending: { root_key_in: toHex(inputs.root_key), dh_output: toHex(dhOut), ...out }
    })
  }

  const messages: Array<Record<string, unknown>> = []
  const wire = new Map<string, { to: Party; message: RatchetMessage; plaintext: string }>()
  const counters: Record<Party, number> = { alice: 0, bob: 0 }
  const deliveries: unknown[] = []
  for (const step of SCRIPT) {
    if (step[0] === 'send') {
      const [, from, count] = step
      for (let i = 0; i < count; i++) {
        const id = `${from[0]}${counters[from]++}`
        const plaintext = `message ${id} from ${from}`
        const s = parseState(sessions[from].serialize())
        const r = sessions[from].encrypt(utf8(plaintext))
        sessions[from] = r.session
        const messageKey = hmacSha256(s.cks!, Uint8Array.of(1))
        const nextChainKey = hmacSha256(s.cks!, Uint8Array.of(2))
        const material = hkdf(messageKey, new Uint8Array(0), utf8('sotto/ratchet/v1/message'), 56)
        const headerPlain = header(s.dhsPublic, s.pn, s.ns)
        const nonce = r.message.header.subarray(0, 24)
        const bodyAd = concatBytes(ad, r.message.header)
        // The bytes on the wire are exactly what §5 says.
        expect(toHex(r.message.header.subarray(24))).toBe(
          toHex(aeadEncrypt(s.hks!, nonce, headerPlain, concatBytes(HEADER_AD_LABEL, ad)))
        )
        expect(toHex(r.message.ciphertext)).toBe(
          toHex(aeadEncrypt(material.subarray(0, 32), material.subarray(32), utf8(plaintext), bodyAd))
        )
        expect(toHex(parseState(r.session.serialize()).cks!)).toBe(toHex(nextChainKey))
        wire.set(id, { to: from === 'alice' ? 'bob' : 'alice', message: r.message, plaintext })
        messages.push({
          id,
          sender: from,
          plaintext,
          sender_ratchet_private: toHex(s.dhsPrivate),
          sender_ratchet_public: toHex(s.dhsPublic),
          remote_ratchet_public: toHex(s.dhr!),
          pn: s.pn,
          n: s.ns,
          header_plaintext: toHex(headerPlain),
          header_key: toHex(s.hks!),
          header_nonce: toHex(nonce),
          chain_key: toHex(s.cks!),
          next_chain_key: toHex(nextChainKey),
          message_key: toHex(messageKey),
          body_key: toHex(material.subarray(0, 32)),
          body_nonce: toHex(material.subarray(32)),
          encrypted_header: toHex(r.message.header),
          ciphertext: toHex(r.message.ciphertext)
        })
      }
      continue
    }
    const [kind, id] = step
    const w = wire.get(id)!
    if (kind === 'replay') {
      expect(() => sessions[w.to].decrypt(w.message)).toThrow(DuplicateMessageError)
      deliveries.push({ message: id, to: w.to, outcome: 'DuplicateMessageError' })
      continue
    }
    const before = parseState(sessions[w.to].serialize())
    const r = sessions[w.to].decrypt(w.message)
    expect(new TextDecoder().decode(r.plaintext)).toBe(w.plaintext)
    sessions[w.to] = r.session
    const after = parseState(r.session.serialize())
    if (toHex(after.dhsPrivate) !== toHex(before.dhsPrivate)) {
      // A DH ratchet step (DHRatchetHE), recomputed from §5.6.
      const dh1 = x25519(before.dhsPrivate, after.dhr!)
      const receiving = kdfRk(before.rk, dh1)
      const dh2 = x25519(after.dhsPrivate, after.dhr!)
      const sending = kdfRk(fromHex(receiving.root_key), dh2)
      expect([toHex(after.rk), toHex(after.cks!), toHex(after.nhks), toHex(after.nhkr)]).toEqual([
        sending.root_key,
        sending.chain_key,
        sending.next_header_key,
        receiving.next_header_key
      ])
      expect([toHex(after.hks!), toHex(after.hkr!)]).toEqual([toHex(before.nhks), toHex(before.nhkr)])
      ratchetSteps.push({
        party: w.to,
        at: id,
        remote_ratchet_public: toHex(after.dhr!),
        old_ratchet_private: toHex(before.dhsPrivate),
        receiving: { root_key_in: toHex(before.rk), dh_output: toHex(dh1), ...receiving },
        new_ratchet_private: toHex(after.dhsPrivate),
        new_ratchet_public: toHex(after.dhsPublic),
        sending: { root_key_in: receiving.root_key, dh_output: toHex(dh2), ...sending },
        header_key_sending: toHex(after.hks!),
        header_key_receiving: toHex(after.hkr!)
      })
    }
    deliveries.push({
      message: id,
      to: w.to,
      outcome: 'ok',
      plaintext: w.plaintext,
      skipped_keys_after: r.session.skippedKeyCount
    })
  }
  expect(messages.length).toBeGreaterThanOrEqual(20)
  const vector = {
    description:
      `Double Ratchet with header encryption: a ${messages.length}-message transcript in both directions with ` +
      'out-of-order delivery, messages from closed chains and replays. docs/PROTOCOL.md sections 5, 6 and 16.',
    drbg:
      "The i-th call (i = 0, 1, ...) of a party's RandomSource with length L returns BLAKE2b(u64be(i), L, key = seed). " +
      'Calls: 32 bytes per new ratchet private key, 24 bytes per header nonce, in the order the operations happen.',
    inputs: {
      root_key: toHex(inputs.root_key),
      header_key_a: toHex(inputs.header_key_a),
      next_header_key_b: toHex(inputs.next_header_key_b),
      associated_data: toHex(ad),
      bob_ratchet_private: toHex(inputs.bob_ratchet_private),
      bob_ratchet_public: toHex(bobRatchetPublic),
      alice_drbg_seed: toHex(inputs.alice_drbg_seed),
      bob_drbg_seed: toHex(inputs.bob_drbg_seed)
    },
    script: SCRIPT.map((s) => s.join(' ')),
    messages,
    ratchet_steps: ratchetSteps,
    deliveries,
    final_state: { alice: toHex(sessions.alice.serialize()), bob: toHex(sessions.bob.serialize()) }
  }
  return `${JSON.stringify(vector, null, 2)}\n`
}

describe('test/vectors/ratchet_transcript.json', () => {
  it('is reproduced byte for byte (WRITE_VECTORS=1 rewrites it)', () => {
    const text = generate()
    if (process.env.WRITE_VECTORS === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })

  it('the recorded final states decode, and reject every recorded message as a duplicate', () => {
    const v = JSON.parse(readFileSync(FILE, 'utf8')) as {
      final_state: Record<Party, string>
      messages: Array<{ sender: Party; encrypted_header: string; ciphertext: string }>
    }
    const finals = {
      alice: RatchetSession.deserialize(fromHex(v.final_state.alice)),
      bob: RatchetSession.deserialize(fromHex(v.final_state.bob))
    }
    expect(toHex(finals.alice.serialize())).toBe(v.final_state.alice)
    for (const m of v.messages) {
      const to = m.sender === 'alice' ? finals.bob : finals.alice
      const message = { header: fromHex(m.encrypted_header), ciphertext: fromHex(m.ciphertext) }
      expect(() => to.decrypt(message)).toThrow(DuplicateMessageError)
    }
  })
})
