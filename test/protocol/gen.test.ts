// The committed codecs in src/protocol/gen/ are what `npm run protos` makes from the .proto files.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'

const root = fileURLToPath(new URL('../../', import.meta.url))
const out = mkdtempSync(join(tmpdir(), 'sotto-protons-'))
afterAll(() => rmSync(out, { recursive: true, force: true }))

it('generated codecs match the .proto files', () => {
  const protos = readdirSync(join(root, 'src/protocol')).filter((f) => f.endsWith('.proto'))
  execFileSync(join(root, 'node_modules/.bin/protons'), ['-o', out, ...protos.map((f) => join(root, 'src/protocol', f))])
  for (const f of protos) {
    const name = f.replace(/\.proto$/, '.ts')
    expect(readFileSync(join(out, name), 'utf8')).toBe(readFileSync(join(root, 'src/protocol/gen', name), 'utf8'))
  }
})
