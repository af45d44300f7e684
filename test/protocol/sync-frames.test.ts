import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  DEFAULT_FRAME_LIMITS,
  decodeFrame,
  encodeFrame,
  FrameType,
  MalformedSyncMessageError,
  type SyncFrame,
  SyncLimitError,
  SyncProtocolError
} from '../../src/protocol/sync/index.js'

const id = (n: number) => new Uint8Array(32).fill(n)

describe('sync frames', () => {
  it('round-trip every frame type', () => {
    const frames: SyncFrame[] = [
      { type: FrameType.Open, topic: '/sotto/1/c/ab', message: Uint8Array.of(0x61, 0, 0, 2, 0) },
      { type: FrameType.Reconcile, message: Uint8Array.of(0x61) },
      { type: FrameType.Want, ids: [id(1), id(2)] },
      { type: FrameType.Sizes, sizes: [0, 512, 131072] },
      { type: FrameType.Fetch, ids: [id(3)] },
      { type: FrameType.Envelopes, envelopes: [{ id: id(4), bytes: Uint8Array.of(1, 2, 3) }] },
      { type: FrameType.Envelopes, envelopes: [] },
      { type: FrameType.Ack, stored: 7 },
      { type: FrameType.Done },
      { type: FrameType.Reject, reason: 1 }
    ]
    for (const f of frames) expect(decodeFrame(encodeFrame(f))).toEqual(f)
  })

  it('pins the byte layout', () => {
    const hex = (f: SyncFrame) => Buffer.from(encodeFrame(f)).toString('hex')
    expect(hex({ type: FrameType.Open, topic: 'ab', message: Uint8Array.of(0x61) })).toBe('0102616261')
    expect(hex({ type: FrameType.Sizes, sizes: [1, 256] })).toBe('0400020000000100000100')
    expect(hex({ type: FrameType.Envelopes, envelopes: [{ id: id(0xaa), bytes: Uint8Array.of(9) }] })).toBe(
      '060001' + 'aa'.repeat(32) + '0000000109'
    )
    expect(hex({ type: FrameType.Ack, stored: 258 })).toBe('070102')
    expect(hex({ type: FrameType.Done })).toBe('08')
    expect(hex({ type: FrameType.Reject, reason: 2 })).toBe('0902')
  })

  it('rejects malformed and oversized frames with typed errors', () => {
    const bad = (h: string) => () => decodeFrame(Buffer.from(h, 'hex'))
    expect(bad('')).toThrow(MalformedSyncMessageError)
    expect(bad('ff')).toThrow(MalformedSyncMessageError)
    expect(bad('0100')).toThrow(MalformedSyncMessageError) // empty topic
    expect(bad('0105616161')).toThrow(MalformedSyncMessageError) // topic longer than the frame
    expect(bad('0101ff61')).toThrow(MalformedSyncMessageError) // topic not UTF-8
    expect(bad('030000')).toThrow(MalformedSyncMessageError) // empty WANT
    expect(bad('030001' + '00'.repeat(31))).toThrow(MalformedSyncMessageError) // short id
    expect(bad('030401' + '00'.repeat(32 * 1025))).toThrow(SyncLimitError) // 1025 ids
    expect(bad('04000100040001')).toThrow(SyncLimitError) // size above the envelope bound
    expect(bad('060001' + '00'.repeat(32) + '00000000')).toThrow(SyncLimitError) // empty envelope
    expect(bad('060001' + '00'.repeat(32) + '0000000501')).toThrow(MalformedSyncMessageError) // truncated
    expect(bad('060000' + '00')).toThrow(MalformedSyncMessageError) // trailing byte
    expect(bad('0800')).toThrow(MalformedSyncMessageError)
    expect(() => decodeFrame(new Uint8Array(DEFAULT_FRAME_LIMITS.maxFrameBytes + 1).fill(2))).toThrow(SyncLimitError)
    expect(() => decodeFrame(new Uint8Array(DEFAULT_FRAME_LIMITS.maxMessageBytes + 2).fill(2))).toThrow(SyncLimitError)
  })

  it('random bytes decode or fail with a protocol error, nothing else', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.uint8Array({ maxLength: 200 }), (type, body) => {
        try {
          decodeFrame(Uint8Array.from([type, ...body]))
        } catch (e) {
          expect(e).toBeInstanceOf(SyncProtocolError)
        }
      }),
      { numRuns: 3000 }
    )
  })
})
