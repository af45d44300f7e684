// Property-based tests of the ratchet (fast-check): any interleaving of sends in both directions, with
// reordering, duplication and loss within the bounds, decrypts every delivered message exactly once;
// duplicates throw DuplicateMessageError; tampered or foreign messages throw DecryptionError; and every
// rejection leaves the serialised state unchanged, after which the session keeps working.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { DecryptionError, DuplicateMessageError, TooManySkippedError } from '../../src/crypto/errors.js'
import { toHex, utf8 } from '../../src/crypto/primitives.js'
import { MAX_SKIP, type RatchetMessage, RatchetSession } from '../../src/crypto/ratchet.js'
import { fixedKeyPair, fixedSecrets, makePair } from './ratchet-helpers.js'

type Command =
  | { kind: 'send'; from: 0 | 1; count: number }
  | { kind: 'deliver'; pick: number }
  | { kind: 'duplicate'; pick: number }
  | { kind: 'drop'; pick: number }
  | { kind: 'tamper'; pick: number; inHeader: boolean; position: number; bit: number }
  | { kind: 'foreign'; to: 0 | 1 }

const command: fc.Arbitrary<Command> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('send' as const), from: fc.constantFrom<0 | 1>(0, 1), count: fc.integer({ min: 1, max: 4 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('deliver' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('duplicate' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop' as const), pick: fc.nat() }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tamper' as const),
      pick: fc.nat(),
      inHeader: fc.boolean(),
      position: fc.nat(),
      bit: fc.integer({ min: 0, max: 7 })
    })
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('foreign' as const), to: fc.constantFrom<0 | 1>(0, 1) }) }
)

interface InFlight {
  to: 0 | 1
  message: RatchetMessage
  plaintext: string
}

/** Sends at most this many messages per run, which keeps every run within MAX_SKIP and MAX_PREVIOUS_CHAINS. */
const MAX_SENDS = 60

function expectRejected(s: RatchetSession, m: RatchetMessage, error: new (...a: never[]) => Error): void {
  const before = toHex(s.serialize())
  expect(() => s.decrypt(m)).toThrow(error)
  expect(toHex(s.serialize())).toBe(before)
}

describe('RatchetSession properties', () => {
  it('delivers every message exactly once under reordering, duplication and loss; rejections change nothing', () => {
    const foreignSender = RatchetSession.initAlice(fixedSecrets('foreign'), fixedKeyPair('bob ratchet key').publicKey)
    fc.assert(
      fc.property(fc.array(command, { minLength: 10, maxLength: 120, size: 'max' }), fc.nat(), (commands, finalOrder) => {
        const { alice, bob } = makePair()
        const sessions: [RatchetSession, RatchetSession] = [alice, bob]
        const inFlight: InFlight[] = []
        const delivered: InFlight[] = []
        let sent = 0
        const deliver = (m: InFlight): void => {
          const r = sessions[m.to].decrypt(m.message)
          expect(new TextDecoder().decode(r.plaintext)).toBe(m.plaintext)
          sessions[m.to] = r.session
          delivered.push(m)
        }
        for (const c of commands) {
          switch (c.kind) {
            case 'send': {
              for (let i = 0; i < c.count && sent < MAX_SENDS && sessions[c.from].canSend; i++) {
                const plaintext = `${c.from}:${sent++}`
                const r = sessions[c.from].encrypt(utf8(plaintext))
                sessions[c.from] = r.session
                inFlight.push({ to: c.from === 0 ? 1 : 0, message: r.message, plaintext })
              }
              break
            }
            case 'deliver':
              if (inFlight.length > 0) deliver(inFlight.splice(c.pick % inFlight.length, 1)[0]!)
              break
            case 'duplicate':
              if (delivered.length > 0) {
                const m = delivered[c.pick % delivered.length]!
                expectRejected(sessions[m.to], m.message, DuplicateMessageError)
              }
              break
            case 'drop':
              if (inFlight.length > 0) inFlight.splice(c.pick % inFlight.length, 1)
              break
            case 'tamper':
              if (inFlight.length > 0) {
                const m = inFlight[c.pick % inFlight.length]!
                const part = c.inHeader ? m.message.header.slice() : m.message.ciphertext.slice()
                part[c.position % part.length]! ^= 1 << c.bit
                const bad = c.inHeader ? { ...m.message, header: part } : { ...m.message, ciphertext: part }
                expectRejected(sessions[m.to], bad, DecryptionError)
              }
              break
            case 'foreign':
              expectRejected(sessions[c.to], foreignSender.encrypt(utf8('not yours')).message, DecryptionError)
              break
          }
        }
        // Whatever is still in flight arrives, in some order, and decrypts.
        while (inFlight.length > 0) deliver(inFlight.splice(finalOrder % inFlight.length, 1)[0]!)
        for (const m of delivered) expect(() => sessions[m.to].decrypt(m.message)).toThrow(DuplicateMessageError)
        // And both sessions still talk.
        for (const from of [0, 1] as const) {
          if (!sessions[from].canSend) continue
          const to = from === 0 ? 1 : 0
          const r = sessions[from].encrypt(utf8('still here'))
          expect(new TextDecoder().decode(sessions[to].decrypt(r.message).plaintext)).toBe('still here')
        }
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 150) }
    )
  })

  it('serialise/deserialise at any point is the identity and changes no behaviour', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ from: fc.constantFrom<0 | 1>(0, 1), hold: fc.boolean() }), { minLength: 1, maxLength: 30 }),
        (steps) => {
          const { alice, bob } = makePair()
          const sessions: [RatchetSession, RatchetSession] = [alice, bob]
          const held: InFlight[] = []
          for (const [i, step] of steps.entries()) {
            if (!sessions[step.from].canSend) continue
            const r = sessions[step.from].encrypt(utf8(`m${i}`))
            sessions[step.from] = r.session
            const m: InFlight = { to: step.from === 0 ? 1 : 0, message: r.message, plaintext: `m${i}` }
            if (step.hold) {
              held.push(m)
              continue
            }
            const bytes = sessions[m.to].serialize()
            const restored = RatchetSession.deserialize(bytes)
            expect(toHex(restored.serialize())).toBe(toHex(bytes))
            const out = restored.decrypt(m.message)
            expect(new TextDecoder().decode(out.plaintext)).toBe(m.plaintext)
            sessions[m.to] = out.session
          }
          for (const m of held) {
            const restored = RatchetSession.deserialize(sessions[m.to].serialize())
            const out = restored.decrypt(m.message)
            expect(new TextDecoder().decode(out.plaintext)).toBe(m.plaintext)
            sessions[m.to] = out.session
          }
        }
      ),
      { numRuns: 100 }
    )
  })

  it('deserialize never throws anything but MalformedError/UnsupportedVersionError on mutated state', () => {
    let { alice, bob } = makePair()
    const a = alice.encrypt(utf8('x'))
    const a2 = a.session.encrypt(utf8('y'))
    bob = bob.decrypt(a2.message).session
    alice = a2.session
    const good = bob.serialize()
    fc.assert(
      fc.property(fc.nat(), fc.integer({ min: 1, max: 255 }), (pos, xor) => {
        const bytes = good.slice()
        bytes[pos % bytes.length]! ^= xor
        try {
          RatchetSession.deserialize(bytes)
        } catch (err) {
          expect((err as Error).name).toMatch(/^(MalformedError|UnsupportedVersionError)$/)
        }
      }),
      { numRuns: 300 }
    )
    expect(alice.canSend).toBe(true)
  })
})

describe('RatchetSession properties: beyond MAX_SKIP', () => {
  it('a gap beyond MAX_SKIP, in the current or a new chain, changes nothing and the session goes on', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 3 }), fc.boolean(), fc.integer({ min: 1, max: 3 }), (warmup, newChain, over) => {
        let { alice, bob } = makePair()
        for (let i = 0; i < warmup; i++) {
          const a = alice.encrypt(utf8('w'))
          alice = a.session
          bob = bob.decrypt(a.message).session
          const b = bob.encrypt(utf8('w'))
          bob = b.session
          alice = alice.decrypt(b.message).session
        }
        if (newChain && bob.canSend) {
          // Alice opens a new chain after MAX_SKIP + over unseen messages of her current one.
          let lost: RatchetMessage | undefined
          for (let i = 0; i < MAX_SKIP + over; i++) {
            const a = alice.encrypt(utf8('lost'))
            alice = a.session
            lost ??= a.message
          }
          const b = bob.encrypt(utf8('turn'))
          bob = b.session
          alice = alice.decrypt(b.message).session
          const a = alice.encrypt(utf8('new chain'))
          expectRejected(bob, a.message, TooManySkippedError)
          expect(new TextDecoder().decode(bob.decrypt(lost!).plaintext)).toBe('lost')
        } else {
          const sent: RatchetMessage[] = []
          for (let i = 0; i <= MAX_SKIP + over; i++) {
            const a = alice.encrypt(utf8(`m${i}`))
            alice = a.session
            sent.push(a.message)
          }
          expectRejected(bob, sent.at(-1)!, TooManySkippedError)
          const r = bob.decrypt(sent[0]!)
          expect(new TextDecoder().decode(r.plaintext)).toBe('m0')
          expect(new TextDecoder().decode(r.session.decrypt(sent[over]!).plaintext)).toBe(`m${over}`)
        }
      }),
      { numRuns: 12 }
    )
  })
})
