import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  CommunityEpoch,
  CommunityReceiverState,
  createReceiverState,
  openCommunityMessage,
  sealCommunityMessage,
  verifyCommunityEnvelope
} from '../../src/crypto/community.js'
import { CryptoError, DuplicateMessageError } from '../../src/crypto/errors.js'
import { toHex, utf8 } from '../../src/crypto/primitives.js'
import { identity, resign, sender } from './community-helpers.js'

const epoch = CommunityEpoch.fromEpochKey(new Uint8Array(32).fill(3), 7, new Uint8Array(32).fill(4))
/** Two senders whose sender seeds the tests know, so that a tampered envelope can be re-signed with the sender key. */
const senders = [sender(epoch, identity(0x11), 0x51), sender(epoch, identity(0x22), 0x52)]

interface Sent {
  sealed: Uint8Array
  body: string
  sender: number
}

/** Seals `counts[s]` messages from each sender s. */
function sendAll(counts: readonly number[]): Sent[] {
  const out: Sent[] = []
  counts.forEach((n, s) => {
    const who = senders[s]!
    let state = who.chain()
    for (let i = 0; i < n; i++) {
      const body = `s${s}-${i}`
      const r = sealCommunityMessage(epoch, state, who.identity, utf8(body), i)
      state = r.state
      out.push({ sealed: r.sealed, body, sender: s })
    }
  })
  return out
}

const schedule = fc
  .tuple(fc.integer({ min: 1, max: 25 }), fc.integer({ min: 0, max: 25 }))
  .chain(([a, b]) => fc.tuple(fc.constant([a, b]), fc.array(fc.nat(a + b - 1), { maxLength: 70 })))

describe('community chains: properties', () => {
  it('any interleaving, reordering, duplication and loss across two senders opens each delivered message exactly once', () => {
    fc.assert(
      fc.property(schedule, fc.boolean(), ([counts, deliveries], roundTripState) => {
        const sent = sendAll(counts)
        let state = createReceiverState(epoch)
        const opened = new Set<number>()
        for (const i of deliveries) {
          const before = toHex(state.serialize())
          if (opened.has(i)) {
            expect(() => openCommunityMessage(epoch, state, sent[i]!.sealed)).toThrow(DuplicateMessageError)
            expect(toHex(state.serialize())).toBe(before)
            continue
          }
          const o = openCommunityMessage(epoch, state, sent[i]!.sealed)
          expect(new TextDecoder().decode(o.body)).toBe(sent[i]!.body)
          expect(toHex(o.senderKey)).toBe(toHex(senders[sent[i]!.sender]!.identityKey))
          expect(toHex(state.serialize())).toBe(before)
          state = roundTripState ? CommunityReceiverState.deserialize(o.states.serialize()) : o.states
          opened.add(i)
        }
        // Everything not delivered is still openable afterwards, once.
        for (let i = 0; i < sent.length; i++) {
          if (opened.has(i)) continue
          state = openCommunityMessage(epoch, state, sent[i]!.sealed).states
        }
        expect(state.skippedCount).toBe(0)
      }),
      { numRuns: 60 }
    )
  })

  it('tampered input (with or without a new certificate and sender signature, as the holder of the epoch key and the sender key could make) is rejected and leaves state unchanged', () => {
    fc.assert(
      fc.property(
        schedule,
        fc.array(fc.tuple(fc.nat(), fc.nat(), fc.integer({ min: 1, max: 255 }), fc.boolean()), { minLength: 1, maxLength: 10 }),
        ([counts, deliveries], tampers) => {
          const sent = sendAll(counts)
          let state = createReceiverState(epoch)
          for (const i of deliveries.slice(0, deliveries.length >> 1)) {
            try {
              state = openCommunityMessage(epoch, state, sent[i]!.sealed).states
            } catch (e) {
              expect(e).toBeInstanceOf(DuplicateMessageError)
            }
          }
          for (const [which, at, delta, resignIt] of tampers) {
            const { sealed: original, sender: s } = sent[which % sent.length]!
            let bad: Uint8Array = original.slice()
            // With re-signing the certificate and the signature are recomputed, so changes inside them would be undone.
            const span = resignIt ? bad.length - 128 : bad.length
            bad[at % span] = (bad[at % span]! + delta) & 0xff
            if (resignIt) {
              bad = resign(epoch, senders[s]!.senderSecretKey, bad)
              // Unless the version byte or the sender key itself was changed, the router check passes: only the
              // AEAD (or, for a changed epoch number, the epoch check) can refuse it.
              const pos = at % span
              const layoutOrKeyChanged = pos === 0 || (pos >= 5 && pos < 37)
              expect(verifyCommunityEnvelope(epoch.topicId, bad)).toBe(!layoutOrKeyChanged)
            }
            const before = toHex(state.serialize())
            expect(() => openCommunityMessage(epoch, state, bad)).toThrow(CryptoError)
            expect(toHex(state.serialize())).toBe(before)
          }
        }
      ),
      { numRuns: 60 }
    )
  })
})
