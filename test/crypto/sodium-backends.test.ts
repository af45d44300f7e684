import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../../src/crypto/primitives.js'
import { type CurveBackend, curve, nativeCurve, wasmCurve } from '../../src/crypto/sodium.js'

// sotto runs X25519 and Ed25519 through natively compiled libsodium (sodium-native) when its prebuilt add-on
// loads, else through libsodium in WebAssembly. Both must give the same bytes and the same verdicts: each is
// run here against the Wycheproof files directly (below the checked wrappers of primitives.ts, which
// test/crypto/wycheproof.test.ts covers for whichever backend is in use), and against each other.

interface WycheproofFile {
  testGroups: Array<{ publicKey?: { pk: string }; tests: Array<Record<string, string | number>> }>
}
const load = (name: string): WycheproofFile =>
  JSON.parse(readFileSync(new URL(`../vectors/wycheproof/${name}`, import.meta.url), 'utf8')) as WycheproofFile

const backends: CurveBackend[] = [wasmCurve, ...(nativeCurve ? [nativeCurve] : [])]

describe('libsodium backends for X25519 and Ed25519', () => {
  it('the native add-on loads on the platforms it ships prebuilt binaries for (else sotto is 2-3x slower)', () => {
    const prebuilt = ['linux', 'darwin', 'win32'].includes(process.platform) && ['x64', 'arm64'].includes(process.arch)
    if (process.env.SOTTO_SODIUM === 'wasm') expect(curve.name).toBe('wasm')
    else if (prebuilt) expect(curve.name).toBe('native')
    expect(curve).toBe(nativeCurve ?? wasmCurve)
  })

  for (const b of backends) {
    it(`${b.name}: Wycheproof X25519 valid cases match, low-order points throw or give zeros`, () => {
      let checked = 0
      for (const group of load('x25519_test.json').testGroups) {
        for (const t of group.tests) {
          const expected = t.shared as string
          let got: string | undefined
          try {
            got = toHex(b.scalarmult(fromHex(t.private as string), fromHex(t.public as string)))
          } catch {
            got = undefined
          }
          if (t.result === 'valid') expect(got, `tcId ${t.tcId}`).toBe(expected)
          else if (got !== undefined) expect(got, `tcId ${t.tcId}`).toBe(expected)
          else expect(expected, `tcId ${t.tcId} refused but not all-zero`).toMatch(/^0+$/)
          checked++
        }
      }
      expect(checked).toBeGreaterThan(500)
    })

    it(`${b.name}: Wycheproof Ed25519 verdicts match exactly`, () => {
      let checked = 0
      for (const group of load('ed25519_test.json').testGroups) {
        const pk = fromHex(group.publicKey?.pk as string)
        for (const t of group.tests) {
          const sig = fromHex(t.sig as string)
          let ok: boolean
          try {
            // sodium-native reads the first 64 bytes of a longer signature (tcId 33, 'signature too long'):
            // the length rule of ed25519Verify in primitives.ts is what refuses it, so it is applied here too.
            ok = sig.length === 64 && b.verifyDetached(sig, fromHex(t.msg as string), pk)
          } catch {
            ok = false
          }
          expect(ok, `tcId ${t.tcId}`).toBe(t.result === 'valid')
          checked++
        }
      }
      expect(checked).toBe(151)
    })
  }

  it.runIf(nativeCurve !== undefined)('native and wasm give identical keys, shared secrets and signatures', () => {
    const n = nativeCurve as CurveBackend
    for (let i = 0; i < 64; i++) {
      const a = crypto.getRandomValues(new Uint8Array(32))
      const b = crypto.getRandomValues(new Uint8Array(32))
      expect(toHex(n.scalarmultBase(a))).toBe(toHex(wasmCurve.scalarmultBase(a)))
      const pb = wasmCurve.scalarmultBase(b)
      expect(toHex(n.scalarmult(a, pb))).toBe(toHex(wasmCurve.scalarmult(a, pb)))
      const kn = n.signSeedKeypair(a)
      const kw = wasmCurve.signSeedKeypair(a)
      expect(toHex(kn.secretKey)).toBe(toHex(kw.secretKey))
      expect(toHex(kn.publicKey)).toBe(toHex(kw.publicKey))
      const m = crypto.getRandomValues(new Uint8Array(i * 7))
      const sn = n.signDetached(m, kn.secretKey)
      expect(toHex(sn)).toBe(toHex(wasmCurve.signDetached(m, kw.secretKey)))
      expect(wasmCurve.verifyDetached(sn, m, kn.publicKey)).toBe(true)
      expect(n.verifyDetached(sn, m, kn.publicKey)).toBe(true)
      const bad = sn.slice()
      bad[i % 64] ^= 1
      expect(n.verifyDetached(bad, m, kn.publicKey)).toBe(false)
    }
  })

  it.runIf(nativeCurve !== undefined)('native reads byte views at their offset (subarrays of larger buffers)', () => {
    const n = nativeCurve as CurveBackend
    const big = crypto.getRandomValues(new Uint8Array(100))
    const seed = big.subarray(7, 39)
    const msg = big.subarray(40, 90)
    const k = n.signSeedKeypair(seed)
    expect(toHex(k.publicKey)).toBe(toHex(wasmCurve.signSeedKeypair(seed.slice()).publicKey))
    expect(toHex(n.signDetached(msg, k.secretKey))).toBe(toHex(wasmCurve.signDetached(msg.slice(), k.secretKey)))
    expect(toHex(n.scalarmultBase(seed))).toBe(toHex(wasmCurve.scalarmultBase(seed.slice())))
  })
})
