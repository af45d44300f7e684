// Generator of test/vectors/envelope.json (docs/PROTOCOL.md §11, §13.1, §14.1, §16): envelopes of every kind
// with their padding and ids, contents, topic names and the prekey record key. With WRITE_VECTORS=1 it writes
// the file; otherwise it checks that the code reproduces the committed file byte for byte.
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { IdentityKeyPair } from '../../src/crypto/identity.js'
import { blake2b, toHex, utf8 } from '../../src/crypto/primitives.js'
import { type Content, decodeContent, encodeContent } from '../../src/protocol/content.js'
import { decodeEnvelope, type Envelope, encodeEnvelope, envelopeId } from '../../src/protocol/envelope.js'
import { prekeyRecordKey, rendezvousKey } from '../../src/protocol/records.js'
import { communityTopic, directTopic, inboxTopic } from '../../src/protocol/topics.js'

const FILE = fileURLToPath(new URL('./envelope.json', import.meta.url))

/** Deterministic bytes: BLAKE2b-512(UTF-8("sotto/vectors/envelope/" || label || "/" || i)) for i = 0, 1, ..., cut to n. */
function seed(label: string, n: number): Uint8Array {
  const out = new Uint8Array(n)
  for (let i = 0; i * 64 < n; i++) {
    out.set(blake2b(utf8(`sotto/vectors/envelope/${label}/${i}`), 64).subarray(0, n - i * 64), i * 64)
  }
  return out
}

const T = 1_767_225_600_000 // 2026-01-01T00:00:00Z

function envelopeJson(name: string, env: Envelope) {
  const encoded = encodeEnvelope(env)
  expect(decodeEnvelope(encoded)).toEqual(env)
  const fields =
    env.kind === 'community'
      ? { sealed: toHex(env.sealed) }
      : env.kind === 'direct'
        ? { ratchetHeader: toHex(env.ratchetHeader), ciphertext: toHex(env.ciphertext) }
        : { prekeyHeader: toHex(env.prekeyHeader), ratchetHeader: toHex(env.ratchetHeader), ciphertext: toHex(env.ciphertext) }
  return { name, kind: env.kind, timestamp: env.timestamp, ...fields, length: encoded.length, encoded: toHex(encoded), id: toHex(envelopeId(encoded)) }
}

function contentJson(name: string, c: Content) {
  const encoded = encodeContent(c)
  expect(decodeContent(encoded)).toEqual(c)
  const value =
    c.type === 'text'
      ? { body: c.body, sentAt: c.sentAt, messageId: toHex(c.messageId) }
      : c.type === 'receipt'
        ? { receipt: c.receipt, messageIds: c.messageIds.map(toHex) }
        : c.type === 'profile'
          ? { displayName: c.displayName, relays: c.relays.map(toHex) }
          : c.type === 'epoch-key-grant'
            ? { grant: toHex(c.grant) }
            : { statement: toHex(c.statement) }
  return { name, type: c.type, ...value, encoded: toHex(encoded) }
}

/** Builds the vector file's JSON text. */
function buildEnvelopeVectors(): string {
  const rh = seed('ratchet-header', 81)
  // Direct envelopes: fields before padding are 97 + n bytes for 128 <= n < 16384 (96 + n below 128).
  const envelopes = [
    envelopeJson('direct, small', { kind: 'direct', timestamp: T, ratchetHeader: rh, ciphertext: seed('ct-small', 272) }),
    envelopeJson('direct, exactly 512 without padding', { kind: 'direct', timestamp: T, ratchetHeader: rh, ciphertext: seed('ct-fit', 415) }),
    envelopeJson('direct, 511 without padding: no padding field fills 1 byte, so 1024', {
      kind: 'direct',
      timestamp: T,
      ratchetHeader: rh,
      ciphertext: seed('ct-gap1', 414)
    }),
    envelopeJson('direct, padding length needs a 2-byte varint', { kind: 'direct', timestamp: T, ratchetHeader: rh, ciphertext: seed('ct-mid', 528) }),
    envelopeJson('direct-prekey (PQXDH-sized initial header)', {
      kind: 'direct-prekey',
      timestamp: T + 1000,
      prekeyHeader: seed('initial-header', 1263),
      ratchetHeader: rh,
      ciphertext: seed('ct-prekey', 272)
    }),
    envelopeJson('community, smallest sealed message', { kind: 'community', timestamp: T + 2000, sealed: seed('sealed', 441) })
  ]
  const contents = [
    contentJson('text', { type: 'text', body: 'hello, Zoë 👋', sentAt: T + 123, messageId: seed('message-id', 16) }),
    contentJson('delivered receipt', { type: 'receipt', receipt: 'delivered', messageIds: [seed('message-id', 16), seed('message-id-2', 16)] }),
    contentJson('read receipt', { type: 'receipt', receipt: 'read', messageIds: [seed('message-id', 16)] }),
    contentJson('profile', { type: 'profile', displayName: 'Ada', relays: [Uint8Array.of(0x04, 127, 0, 0, 1, 0x06, 0x0f, 0xa1)] }),
    contentJson('empty profile', { type: 'profile', displayName: '', relays: [] }),
    contentJson('epoch key grant', { type: 'epoch-key-grant', grant: seed('grant', 40) }),
    contentJson('control statement', { type: 'control-statement', statement: seed('statement', 40) })
  ]
  const identity = IdentityKeyPair.fromSeed(seed('identity-seed', 32))
  const rootKey = seed('root-key', 32)
  const topicId = seed('topic-id', 32)
  const doc = {
    description:
      'sotto wire formats: envelopes with padding to buckets and ids (PROTOCOL.md 11), contents (11.4), ' +
      'prekey record key and rendezvous key (13.1, 13.2), topic names (14.1). Byte strings are lowercase hex.',
    envelopes,
    contents,
    names: {
      identitySigningKey: toHex(identity.publicKey.signingKey),
      prekeyRecordKey: new TextDecoder().decode(prekeyRecordKey(identity.publicKey.signingKey)),
      inboxTopic: inboxTopic(identity.publicKey.signingKey),
      rootKey: toHex(rootKey),
      directTopic: directTopic(rootKey),
      topicId: toHex(topicId),
      communityTopic: communityTopic(topicId),
      rendezvousKey: toHex(rendezvousKey(topicId))
    }
  }
  return `${JSON.stringify(doc, null, 2)}\n`
}

describe('test/vectors/envelope.json', () => {
  it('is reproduced byte for byte by the code', () => {
    const text = buildEnvelopeVectors()
    if (process.env['WRITE_VECTORS'] === '1') writeFileSync(FILE, text)
    expect(readFileSync(FILE, 'utf8')).toBe(text)
  })
})
