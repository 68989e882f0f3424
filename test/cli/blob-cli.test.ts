import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { BlobIdComputer } from '../../src/blob/blob-id-computer.js'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { CLI, runCli, spawnCli, tempDir, type Spawned } from '../helpers/devnet.js'

describe('herd blob and herd devnet', () => {
  let devnet: Spawned
  let dir: Awaited<ReturnType<typeof tempDir>>
  let url: string

  before(async () => {
    dir = await tempDir()
    devnet = await spawnCli(['devnet', '--dir', join(dir.path, 'devnet'), '--walrus-port', '0', '--ledger-port', '0', '--shards', '10'])
    url = devnet.ready.walrus
  })
  after(async () => {
    await devnet?.stop()
    await dir?.[Symbol.asyncDispose]()
  })

  it('prints a ready line with the local Walrus URL', () => {
    assert.equal(devnet.ready.event, 'ready')
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/)
    assert.equal(devnet.ready.nShards, 10)
  })

  it('puts, identifies and gets a file, with JSON on stdout', async () => {
    const bytes = randomBytes(150_000)
    const file = join(dir.path, 'model.bin')
    await writeFile(file, bytes)
    const id = await runCli(['blob', 'id', file, '--shards', '10', '--chunk-size', '65536'])
    assert.equal(id.code, 0, id.stderr)
    const identity = JSON.parse(id.stdout)
    const computer = new BlobIdComputer({ nShards: 10 })
    assert.equal(identity.blobId, (await computer.computeBytes(bytes)).blobId)
    await computer.stop()
    assert.equal(identity.chunks, 3)
    assert.match(identity.chunkRoot, /^[0-9a-f]{64}$/)

    const put = await runCli(['blob', 'put', file, '--walrus', url, '--epochs', '5'])
    assert.equal(put.code, 0, put.stderr)
    const stored = JSON.parse(put.stdout)
    assert.equal(stored.blobId, identity.blobId)
    assert.equal(stored.status, 'newlyCreated')
    assert.equal(JSON.parse((await runCli(['blob', 'put', file, '--walrus', url])).stdout).status, 'alreadyCertified')

    const out = join(dir.path, 'copy.bin')
    const get = await runCli(['blob', 'get', stored.blobId, '-o', out], { env: { HERD_WALRUS: url } })
    assert.equal(get.code, 0, get.stderr)
    assert.deepEqual(JSON.parse(get.stdout), { blobId: stored.blobId, path: out, bytes: bytes.length })
    assert.equal(get.stderr, '', 'no progress bar when stderr is not a terminal')
    assert.deepEqual(await readFile(out), bytes)
    const rangeOut = join(dir.path, 'range.bin')
    const ranged = await runCli(['blob', 'get', stored.blobId, '--walrus', url, '--range', '5-9', '-o', rangeOut])
    assert.equal(ranged.code, 0, ranged.stderr)
    assert.deepEqual(await readFile(rangeOut), bytes.subarray(5, 10))
  })

  it('shows a progress bar of the Walrus read on a terminal', async t => {
    if (spawnSync('script', ['--version']).error != null) { t.skip('no script(1) (util-linux) here to give herd blob get a terminal'); return }
    // Under the 10-shard devnet's largest blob (1.75 MiB).
    const bytes = randomBytes(1.5 * 1024 * 1024)
    const file = join(dir.path, 'large.bin')
    await writeFile(file, bytes)
    const put = await runCli(['blob', 'put', file, '--walrus', url])
    assert.equal(put.code, 0, put.stderr)
    const stored = JSON.parse(put.stdout)
    const out = join(dir.path, 'large-copy.bin')
    // script(1) gives the command a terminal; what it prints, stdout and stderr, is in the typescript file.
    const typescript = join(dir.path, 'typescript')
    const get = spawnSync('script', ['-qfec', `'${process.execPath}' '${CLI}' blob get ${stored.blobId} --walrus ${url} -o '${out}'`, typescript], { timeout: 60_000 })
    assert.equal(get.status, 0, get.stderr?.toString())
    const screen = await readFile(typescript, 'utf8')
    assert.match(screen, /walrus \S+ 100% \| 1\.5\/1\.5 MiB/, screen)
    assert.deepEqual(await readFile(out), bytes)
    const quiet = spawnSync('script', ['-qfec', `'${process.execPath}' '${CLI}' blob get ${stored.blobId} --walrus ${url} -o '${out}' --quiet`, typescript], { timeout: 60_000 })
    assert.equal(quiet.status, 0)
    assert.doesNotMatch(await readFile(typescript, 'utf8'), /walrus \S+ \d+%/, '--quiet: no bar')
  })

  it('reports bad input on stderr with a non-zero exit', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['blob', 'get', 'not-an-id', '--walrus', url], /blob ID must be 43 characters/],
      [['blob', 'get', blobIdFromBytes(new Uint8Array(32)), '--walrus', url], /404 BLOB_NOT_FOUND/],
      // A blob ID that begins with '-' is the argument, not an option.
      [['blob', 'get', blobIdFromBytes(new Uint8Array([0xf8, ...new Uint8Array(31)])), '--walrus', url], /404 BLOB_NOT_FOUND/],
      [['blob', 'get', blobIdFromBytes(new Uint8Array(32)), '--walrus', url, '--no-such-option'], /too many arguments/],
      [['blob', 'put', join(dir.path, 'missing'), '--walrus', url], /no such file/],
      [['blob', 'put', dir.path, '--walrus', url], /not a regular file/],
      [['blob', 'put', join(dir.path, 'x'), '--epochs', 'many'], /--epochs must be a whole number/],
      [['blob', 'get', 'x', '--walrus', 'ftp://host'], /must be an http or https URL/],
      [['blob', 'get', 'x', '--range', '9-1'], /START <= END/],
      [['devnet', '--walrus-port', '70000'], /--walrus-port must be from 0 to 65535/],
      [['nonsense'], /unknown command/],
      // Mainnet has no public publisher: the node key pays, and there is none here.
      [['blob', 'put', join(dir.path, 'model.bin'), '--network', 'mainnet', '--data-dir', dir.path], /no node key at/],
      [['blob', 'get', 'x', '--network', 'moon'], /Allowed choices are devnet, testnet, mainnet/]
    ]
    for (const [args, message] of cases) {
      const result = await runCli(args)
      assert.notEqual(result.code, 0, args.join(' '))
      assert.match(result.stderr, message, args.join(' '))
      assert.equal(result.stdout, '', args.join(' '))
    }
  })

  it('stops cleanly on SIGINT', async () => {
    const second = await spawnCli(['devnet', '--dir', join(dir.path, 'second'), '--walrus-port', '0', '--ledger-port', '0', '--shards', '10'])
    assert.equal(await second.stop('SIGINT'), 0)
    assert.deepEqual(JSON.parse(second.lines.at(-1) ?? '{}'), { event: 'stopped', signal: 'SIGINT' })
  })
})
