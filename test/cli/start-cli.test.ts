import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { request } from 'undici'
import { runCli, spawnCli, tempDir } from '../helpers/devnet.js'
import { randomModel } from '../helpers/mesh.js'

describe('herd start', () => {
  it('runs alone on its embedded Walrus and ledger, serves a pushed model, and stops cleanly on SIGTERM', async () => {
    await using dir = await tempDir()
    const node = await spawnCli(['start', '--data-dir', join(dir.path, 'node'), '--api-port', '0'])
    try {
      const { ready } = node
      assert.match(ready.peerId, /^12D3KooW/)
      assert.ok(ready.multiaddrs.length >= 1 && ready.multiaddrs.every((a: string) => a.startsWith('/ip4/127.0.0.1/tcp/')))
      assert.match(ready.api, /^http:\/\/127\.0\.0\.1:\d+$/)
      assert.match(ready.walrus, /^http:\/\/127\.0\.0\.1:\d+\/?$/)
      const status = await (await request(`${ready.api}/status`)).body.json() as any
      assert.equal(status.peerId, ready.peerId)
      assert.equal(status.peers, 0)
      assert.equal(status.walrus.embedded, true)
      assert.equal(status.ledger.embedded, true)

      const file = join(dir.path, 'model.bin')
      const bytes = randomModel(100_000)
      await writeFile(file, bytes)
      const push = await runCli(['model', 'push', file, '--name', 'blob-model', '--walrus', ready.walrus.replace(/\/$/, ''), '--ledger', ready.ledger, '--data-dir', join(dir.path, 'pusher'), '--chunk-size', '16384'])
      assert.equal(push.code, 0, push.stderr)
      const entry = JSON.parse(push.stdout)
      const fetched = await runCli(['fetch', entry.blobId, '--api', ready.api])
      assert.equal(fetched.code, 0, fetched.stderr)
      const done = JSON.parse(fetched.stdout)
      assert.equal(done.type, 'fetch:done')
      assert.equal(done.source, 'fetched')
      assert.equal(done.bytesFromWalrus, bytes.byteLength)
      const again = JSON.parse((await runCli(['fetch', entry.blobId, '--api', ready.api])).stdout)
      assert.equal(again.source, 'local')
      const served = await request(`${ready.api}/v1/blobs/${entry.blobId}`)
      assert.equal(served.statusCode, 200)
      assert.deepEqual(Buffer.from(await served.body.arrayBuffer()), Buffer.from(bytes))

      assert.equal(await node.stop('SIGTERM'), 0)
      assert.ok(node.lines.some(line => JSON.parse(line).event === 'stopped'))
    } finally {
      await node.stop('SIGKILL')
    }
  })

  it('refuses bad configuration with a message that names the problem', async () => {
    await using dir = await tempDir()
    const configPath = join(dir.path, 'bad.json')
    await writeFile(configPath, JSON.stringify({ cache: { quotaBytes: -5 }, listen: ['not-a-multiaddr'] }))
    const bad = await runCli(['start', '--data-dir', dir.path, '--config', configPath])
    assert.equal(bad.code, 1)
    assert.match(bad.stderr, /cache\.quotaBytes/)
    assert.match(bad.stderr, /listen\.0: not a multiaddr/)
    const notJson = join(dir.path, 'not.json')
    await writeFile(notJson, '{ nope')
    assert.match((await runCli(['start', '--data-dir', dir.path, '--config', notJson])).stderr, /is not JSON/)
    const bootstrap = await runCli(['start', '--data-dir', dir.path, '--bootstrap', '/ip4/127.0.0.1/tcp/4001'])
    assert.match(bootstrap.stderr, /must end in \/p2p\/PEER_ID/)
    const quota = await runCli(['start', '--data-dir', dir.path, '--quota', 'lots'])
    assert.notEqual(quota.code, 0)
    assert.match(quota.stderr, /--quota must be a size/)
  })
})
