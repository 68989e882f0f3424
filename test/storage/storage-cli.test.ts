import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { runCli, spawnCli, tempDir } from '../helpers/devnet.js'

describe('herd devnet --epoch-ms and herd model push --share', () => {
  it('runs the devnet with the epochs asked for, and stores a shared model anyone may extend', async () => {
    await using dir = await tempDir()
    const bad = await runCli(['devnet', '--dir', join(dir.path, 'bad'), '--epoch-ms', '5'])
    assert.notEqual(bad.code, 0)
    assert.match(bad.stderr, /--epoch-ms must be from 100/)

    const devnet = await spawnCli(['devnet', '--dir', join(dir.path, 'devnet'), '--walrus-port', '0', '--ledger-port', '0', '--shards', '100', '--epoch-ms', '60000'])
    const client = new WalrusHttpClient({ aggregator: devnet.ready.walrus, publisher: devnet.ready.walrus })
    try {
      assert.equal(devnet.ready.epochMs, 60_000)
      assert.deepEqual(await client.epoch(), { epoch: 1, epochMs: 60_000 })
      const file = join(dir.path, 'model.bin')
      await writeFile(file, randomBytes(5000))
      const env = { HERD_HOME: dir.path }
      const shared = await runCli(['model', 'push', file, '--name', 'shared', '--share', '--epochs', '2', '--walrus', devnet.ready.walrus, '--ledger', devnet.ready.ledger], { env })
      assert.equal(shared.code, 0, shared.stderr)
      const entry = JSON.parse(shared.stdout)
      for (const blobId of [entry.blobId, entry.chunkHashesBlobId]) {
        const life = await client.lifetime(blobId)
        assert.equal(life?.shared, true)
        assert.equal(life?.owner, undefined)
        // No key: a shared blob needs none.
        assert.equal((await client.extend({ blobId, currentEndEpoch: life.endEpoch, endEpoch: life.endEpoch + 1, shared: true })).endEpoch, life.endEpoch + 1)
      }
      const owned = await runCli(['model', 'push', file, '--name', 'owned', '--epochs', '2', '--walrus', devnet.ready.walrus, '--ledger', devnet.ready.ledger], { env })
      assert.equal(owned.code, 0, owned.stderr)
      // The same bytes, already stored as shared: the publisher answers alreadyCertified, as Walrus does.
      assert.equal((await client.lifetime(JSON.parse(owned.stdout).blobId))?.shared, true)
    } finally {
      await client.close()
      await devnet.stop()
    }
  })
})
