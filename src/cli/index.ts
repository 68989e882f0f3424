#!/usr/bin/env node
import { enableCompileCache } from 'node:module'

// V8's code for herd's modules kept on disk (os.tmpdir(), or $NODE_COMPILE_CACHE; NODE_DISABLE_COMPILE_CACHE=1 turns it off):
// a node's start compiles over a thousand files. Set before anything else is imported, and passed on to the inference threads.
const cache = enableCompileCache()
if (cache.directory != null) process.env.NODE_COMPILE_CACHE ??= cache.directory
const { CommanderError } = await import('commander')
const { buildProgram } = await import('./program.js')

async function main (): Promise<void> {
  try {
    await (await buildProgram(process.argv.slice(2))).parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    // The error's name is what scripts and tests match on; a bare Error has none worth printing.
    const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : ''
    process.stderr.write(`herd: ${name}${(err as Error).message ?? String(err)}\n`)
    process.exitCode = 1
  }
}

await main()
