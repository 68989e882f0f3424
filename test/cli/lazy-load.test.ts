import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { COMMANDS, buildProgram, commandNamed } from '../../src/cli/program.js'
import { CLI, tempDir } from '../helpers/devnet.js'

const run = promisify(execFile)

/** Records the URL of every module the process loads, written to $LOADED_OUT at exit. */
const RECORDER = `
import { registerHooks } from 'node:module'
import { writeFileSync } from 'node:fs'
const loaded = []
registerHooks({ load (url, context, next) { loaded.push(url); return next(url, context) } })
process.on('exit', () => { writeFileSync(process.env.LOADED_OUT, loaded.join('\\n')) })
`

/** The modules `herd ARGS` loads. */
async function modulesLoadedBy (args: string[]): Promise<string[]> {
  await using dir = await tempDir()
  const recorder = join(dir.path, 'recorder.mjs')
  const out = join(dir.path, 'loaded.txt')
  await writeFile(recorder, RECORDER)
  await run(process.execPath, ['--import', recorder, CLI, ...args], { env: { ...process.env, LOADED_OUT: out }, timeout: 60_000 })
  return (await readFile(out, 'utf8')).split('\n')
}

function packagesIn (urls: string[]): Set<string> {
  return new Set(urls.flatMap(url => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(url)?.[1] ?? []))
}

describe('the CLI loads what a command needs', () => {
  it('finds the command group its arguments name, and registers only that one', async () => {
    assert.equal(commandNamed(['status', '--json']), 'status')
    assert.equal(commandNamed(['--json', 'status']), 'status')
    assert.equal(commandNamed(['statsu']), undefined)
    assert.equal(commandNamed([]), undefined)
    assert.deepEqual((await buildProgram(['status', '--json'])).commands.map(c => c.name()), ['status'])
    // Help and a misspelt command are answered from every group.
    assert.deepEqual((await buildProgram(['--help'])).commands.map(c => c.name()), COMMANDS.map(([name]) => name))
    assert.deepEqual((await buildProgram(['statsu'])).commands.map(c => c.name()), COMMANDS.map(([name]) => name))
    assert.deepEqual((await buildProgram(['--version'])).commands, [])
  })

  it('herd status loads neither libp2p, nor Sui\'s SDK, nor onnxruntime, nor level', async () => {
    const packages = packagesIn(await modulesLoadedBy(['status', '--help']))
    for (const heavy of ['libp2p', '@libp2p/kad-dht', '@mysten/sui', '@mysten/walrus', 'onnxruntime-node', 'level', 'fastify']) {
      assert.ok(!packages.has(heavy), `herd status loaded ${heavy}`)
    }
    assert.ok(packages.has('commander'))
  })

  it('a devnet node loads neither Walrus\'s SDK nor Sui\'s gRPC and GraphQL clients, and no other command group', async () => {
    const urls = await modulesLoadedBy(['start', '--help'])
    const packages = packagesIn(urls)
    assert.ok(packages.has('libp2p') && packages.has('onnxruntime-node'), 'the node itself is loaded')
    for (const heavy of ['@mysten/walrus', 'graphql', '@protobuf-ts/runtime-rpc']) assert.ok(!packages.has(heavy), `a devnet node loaded ${heavy}`)
    assert.ok(!urls.some(url => /@mysten\/sui\/dist\/(grpc|graphql)\//.test(url)), 'Sui\'s gRPC or GraphQL client was loaded')
    assert.ok(!urls.some(url => /\/dist\/src\/cli\/commands\/(?!start\.js)/.test(url)), 'another command group was loaded')
    assert.ok(!urls.some(url => /\/dist\/sim\//.test(url)), 'the simulation harness was loaded')
  })

  it('herd --version loads no command group', async () => {
    const urls = await modulesLoadedBy(['--version'])
    assert.ok(!urls.some(url => /\/dist\/src\/cli\/commands\//.test(url)))
  })
})
