import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { randomBytes } from 'node:crypto'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { CLI, runCli, spawnCli, tempDir, type Spawned } from '../helpers/devnet.js'
import { randomModel } from '../helpers/mesh.js'

/** The JSON event lines a node printed so far, by event name. */
function events (node: Spawned, name: string): Array<Record<string, any>> {
  return node.lines.map(line => JSON.parse(line)).filter(line => line.event === name)
}

async function until (check: () => boolean, what: string): Promise<void> {
  // Bounded by count, not by a tight time: the machine is shared.
  for (let i = 0; !check(); i++) {
    if (i > 600) assert.fail(`${what} did not happen`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

describe('herd start events and herd status', () => {
  it('prints peers and downloads as JSON lines, and herd status shows the node from /status', { timeout: 300_000 }, async () => {
    await using dir = await tempDir()
    const a = await spawnCli(['start', '--data-dir', join(dir.path, 'a'), '--api-port', '0'])
    let b: Spawned | undefined
    try {
      b = await spawnCli(['start', '--data-dir', join(dir.path, 'b'), '--api-port', '0', '--walrus', a.ready.walrus.replace(/\/$/, ''), '--ledger', a.ready.ledger, '--bootstrap', a.ready.multiaddrs[0]])
      const nodeB = b
      await until(() => events(nodeB, 'peer:joined').some(e => e.peerId === a.ready.peerId), 'B telling that A joined')
      await until(() => events(a, 'peer:joined').some(e => e.peerId === nodeB.ready.peerId), 'A telling that B joined')
      assert.ok(nodeB.lines.every(line => typeof JSON.parse(line) === 'object'), 'stdout is JSON lines when it is not a terminal')

      const file = join(dir.path, 'model.bin')
      const bytes = randomModel(200_000)
      await writeFile(file, bytes)
      const push = await runCli(['model', 'push', file, '--name', 'status-model', '--walrus', a.ready.walrus.replace(/\/$/, ''), '--ledger', a.ready.ledger, '--data-dir', join(dir.path, 'pusher'), '--chunk-size', '65536'])
      assert.equal(push.code, 0, push.stderr)
      const { blobId } = JSON.parse(push.stdout)
      assert.equal((await runCli(['fetch', blobId, '--api', nodeB.ready.api, '--quiet'])).code, 0)
      await until(() => events(nodeB, 'download:finished').length === 1, 'B telling that its download finished')
      const started = events(nodeB, 'download:started')
      assert.equal(started.length, 1)
      assert.equal(started[0]?.blobId, blobId)
      assert.equal(started[0]?.size, bytes.byteLength)
      const finished = events(nodeB, 'download:finished')[0]!
      assert.equal(finished.level, 'info')
      assert.equal(finished.size, bytes.byteLength)
      assert.equal(finished.bytesFromPeers + finished.bytesFromWalrus, bytes.byteLength)
      assert.match(finished.msg, /^download finished /)

      // A download that cannot finish (no registry entry) is a warning line.
      const unknown = blobIdFromBytes(randomBytes(32))
      assert.notEqual((await runCli(['fetch', unknown, '--api', nodeB.ready.api, '--quiet'])).code, 0)
      await until(() => events(nodeB, 'download:stopped').some(e => e.blobId === unknown && e.level === 'warn'), 'B warning that a download stopped')

      const text = await runCli(['status', '--api', nodeB.ready.api])
      assert.equal(text.code, 0, text.stderr)
      assert.match(text.stdout, /^peers\s+1$/m)
      assert.match(text.stdout, /\b1 blobs\b/)
      assert.match(text.stdout, /^downloads\s+none$/m)
      const json = await runCli(['status', '--api', nodeB.ready.api, '--json'])
      const status = JSON.parse(json.stdout)
      assert.equal(status.peerId, nodeB.ready.peerId)
      assert.equal(status.cache.bytes, bytes.byteLength)

      // --watch, not on a terminal: one frame per read until SIGINT, then a clean exit.
      const watch = spawn(process.execPath, [CLI, 'status', '--api', nodeB.ready.api, '--watch', '--interval', '200'], { stdio: ['ignore', 'pipe', 'pipe'] })
      let frames = ''
      watch.stdout.on('data', (d: Buffer) => { frames += d.toString() })
      const watchExit = new Promise<number | null>(resolve => watch.on('exit', code => { resolve(code) }))
      await until(() => (frames.match(/^herd node /gm) ?? []).length >= 2, 'two frames of --watch')
      watch.kill('SIGINT')
      assert.equal(await watchExit, 0)

      assert.equal(await b.stop('SIGTERM'), 0)
      await until(() => events(a, 'peer:left').some(e => e.peerId === nodeB.ready.peerId), 'A telling that B left')
    } finally {
      await b?.stop('SIGKILL')
      await a.stop('SIGKILL')
    }
  })

  it('tells each storage renewal as a line, and herd status shows what the node keeps on Walrus', { timeout: 300_000 }, async () => {
    await using dir = await tempDir()
    const config = join(dir.path, 'config.json')
    // Three-second epochs and frequent checks: a model bought for five epochs is due for renewal (two left) within about 9 s, and ends in 15.
    await writeFile(config, JSON.stringify({ embedded: { walrusEpochMs: 3000 }, storage: { checkIntervalMs: 200, registrySyncMs: 500 } }))
    const dataDir = join(dir.path, 'node')
    const node = await spawnCli(['start', '--data-dir', dataDir, '--api-port', '0', '--config', config])
    try {
      const file = join(dir.path, 'model.bin')
      await writeFile(file, randomModel(50_000))
      // Pushed with the node's own key (its data dir): a node keeps alive the models its address registered.
      const push = await runCli(['model', 'push', file, '--name', 'kept', '--walrus', node.ready.walrus.replace(/\/$/, ''), '--ledger', node.ready.ledger, '--data-dir', dataDir, '--epochs', '5', '--chunk-size', '16384'])
      assert.equal(push.code, 0, push.stderr)
      const { blobId } = JSON.parse(push.stdout)
      await until(() => events(node, 'storage:renewed').some(e => e.blobId === blobId), 'the node telling it renewed the model')
      const renewed = events(node, 'storage:renewed').find(e => e.blobId === blobId)!
      assert.equal(renewed.level, 'info')
      assert.ok(renewed.toEpoch > renewed.fromEpoch, `${renewed.fromEpoch} -> ${renewed.toEpoch}`)
      assert.match(renewed.msg, /^storage renewed .*: end epoch \d+ -> \d+/)
      const text = await runCli(['status', '--api', node.ready.api])
      assert.equal(text.code, 0, text.stderr)
      // The model and its chunk hashes.
      assert.match(text.stdout, /^storage\s+2 kept on Walrus \(epoch \d+\), [1-9]\d* renewed, 0 failing, \d+ within one epoch of their end$/m)
    } finally {
      await node.stop()
    }
  })

  it('sends the API token a node asks for, and names its absence', { timeout: 120_000 }, async () => {
    await using dir = await tempDir()
    const token = 'status-test-token-0123456789'
    const node = await spawnCli(['start', '--data-dir', join(dir.path, 'node'), '--api-port', '0', '--api-token', token])
    try {
      const refused = await runCli(['status', '--api', node.ready.api], { env: { HERD_API_TOKEN: '' } })
      assert.equal(refused.code, 1)
      assert.match(refused.stderr, /^herd: NodeStatusError: /)
      const allowed = await runCli(['status', '--api', node.ready.api, '--api-token', token, '--json'])
      assert.equal(allowed.code, 0, allowed.stderr)
      assert.equal(JSON.parse(allowed.stdout).peerId, node.ready.peerId)
    } finally {
      await node.stop()
    }
  })

  it('names what is wrong when the node cannot be read', { timeout: 120_000 }, async () => {
    const unreachable = await runCli(['status', '--api', 'http://127.0.0.1:1'])
    assert.equal(unreachable.code, 1)
    assert.match(unreachable.stderr, /^herd: NodeStatusError: /)
    const badUrl = await runCli(['status', '--api', 'ftp://127.0.0.1'])
    assert.notEqual(badUrl.code, 0)
    assert.match(badUrl.stderr, /must be an http or https URL/)
    const badInterval = await runCli(['status', '--watch', '--interval', '5'])
    assert.notEqual(badInterval.code, 0)
    assert.match(badInterval.stderr, /--interval must be from 200/)
    const badLevel = await runCli(['start', '--log-level', 'loud'])
    assert.notEqual(badLevel.code, 0)
    assert.match(badLevel.stderr, /--log-level must be one of/)
  })
})
