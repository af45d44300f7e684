// Module hooks for the child process of relay-kill.test.ts: run the TypeScript sources directly
// (`.js` imports resolve to the `.ts` file beside them; each file is transpiled on load with TypeScript's
// transpileModule). For that test only: a child that can be killed with SIGKILL must be a real process.
import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import ts from 'typescript'

export async function resolve(specifier, context, next) {
  if (specifier.endsWith('.js') && (specifier.startsWith('./') || specifier.startsWith('../')) && context.parentURL?.startsWith('file:')) {
    const path = fileURLToPath(new URL(specifier, context.parentURL))
    const tsPath = path.replace(/\.js$/, '.ts')
    if (!existsSync(path) && existsSync(tsPath)) return { url: pathToFileURL(tsPath).href, format: 'module', shortCircuit: true }
  }
  return next(specifier, context)
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts')) return next(url, context)
  const source = await readFile(fileURLToPath(url), 'utf8')
  const out = ts.transpileModule(source, {
    fileName: fileURLToPath(url),
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, sourceMap: false, esModuleInterop: true }
  })
  return { format: 'module', source: out.outputText, shortCircuit: true }
}
