import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { ApiServer } from '../../src/api/server.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import { syntheticMlp } from '../../sim/synthetic-model.js'
import { tensorsToJson } from '../../src/inference/tensor-codec.js'
import { parseNodeConfig } from '../../src/node-config.js'
import { HerdNode } from '../../src/node.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import { runCli, tempDir } from '../helpers/devnet.js'

/** The figure: blobs bought for one to five 2 s epochs must outlive 30 s because the node renews them. */
const EPOCH_MS = 2_000
const OUTLIVE_MS = 30_000

describe('a node keeps its storage alive on a devnet with 2 s epochs', () => {
  it('a model pushed and pinned stays fetchable from Walrus, and a receipt issued at the start still verifies, after 30 s', async () => {
    await using dir = await tempDir()
    const dataDir = join(dir.path, 'node')
    const node = new HerdNode(parseNodeConfig({
      dataDir,
      listen: ['/ip4/127.0.0.1/tcp/0'],
      api: { host: '127.0.0.1', port: 0 },
      mesh: { digestIntervalMs: 1_000, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] },
      embedded: { nShards: 100, walrusPort: 0, ledgerPort: 0, walrusEpochMs: EPOCH_MS },
      proofs: { batchSize: 1, intervalMs: 200 },
      storage: { checkIntervalMs: 200, registrySyncMs: 500 }
    }))
    await node.start()
    const api = new ApiServer({ node, port: 0 })
    let client: WalrusHttpClient | undefined
    try {
      await api.start()
      const status = node.status()
      const walrusUrl = status.walrus.aggregator.replace(/\/+$/, '')
      client = new WalrusHttpClient({ aggregator: walrusUrl, retries: 1, retryBaseDelayMs: 5, retryMaxDelayMs: 20 })
      const modelPath = join(dir.path, 'mlp.onnx')
      await writeFile(modelPath, syntheticMlp({ inputSize: 16, hiddenSize: 32, outputSize: 4, layers: 2, seed: 3 }))
      // Five epochs (10 s): room for the push's own steps on a loaded machine, far short of the 30 s it must outlive.
      const push = await runCli(['model', 'push', modelPath, '--name', 'mlp', '--data-dir', dataDir, '--walrus', walrusUrl, '--ledger', status.ledger.url as string, '--epochs', '5'])
      assert.equal(push.code, 0, push.stdout + push.stderr)
      const entry = JSON.parse(push.stdout) as { blobId: BlobId, chunkHashesBlobId: BlobId }
      const pin = await request(`${api.url}/v1/blobs/${entry.blobId}/pin`, { method: 'POST' })
      assert.equal(pin.statusCode, 200, await pin.body.text())

      const x = new ort.Tensor('float32', Float32Array.from({ length: 32 }, (_, i) => Math.sin(i)), [2, 16])
      const infer = await request(`${api.url}/v1/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'mlp', inputs: tensorsToJson({ x }) }) })
      const answer = await infer.body.json() as { receipt: { id: string } }
      assert.equal(infer.statusCode, 200, JSON.stringify(answer))
      const startedAt = Date.now()
      const startEpoch = (await client.epoch()).epoch

      await sleep(OUTLIVE_MS)
      const epoch = (await client.epoch()).epoch
      assert.ok(epoch >= startEpoch + 10, `epochs passed: ${epoch - startEpoch}`)
      for (const blobId of [entry.blobId, entry.chunkHashesBlobId]) {
        assert.equal((await client.readRange(blobId, { start: 0, end: 15 })).length, 16, `blob ${blobId} is still served ${Date.now() - startedAt} ms on`)
      }
      const verify = await runCli(['proof', 'verify', answer.receipt.id, '--api', api.url])
      assert.equal(verify.code, 0, verify.stdout + verify.stderr)
      assert.equal(JSON.parse(verify.stdout).valid, true)

      const storage = node.status().storage
      assert.equal(storage.expired, 0, 'nothing lost')
      assert.ok(storage.renewed >= 3, `renewed ${storage.renewed}`)
      const kinds = new Map(node.storageBlobs().map(b => [b.blobId, b.kind]))
      assert.equal(kinds.get(entry.blobId), 'model,pin')
      assert.equal(kinds.get(entry.chunkHashesBlobId), 'chunk-hashes,pin')
      assert.ok([...kinds.values()].includes('bundle'))
      const printed = await runCli(['storage', 'status', '--api', api.url])
      assert.equal(printed.code, 0, printed.stderr)
      assert.match(printed.stdout, /^BLOB\s+KIND\s+SIZE\s+END EPOCH\s+NEXT RENEWAL\s+STATE\s+HOLDS$/m)
      const row = printed.stdout.split('\n').find(line => line.startsWith(entry.blobId))?.split(/\s{2,}/)
      // The keeper renews while this runs, so the row is checked for its shape and sense, not against a second read.
      const [blobCell, kindCell, sizeCell, endCell, nextCell] = row ?? []
      assert.deepEqual([blobCell, kindCell, Number(sizeCell)], [entry.blobId, 'model,pin', (await stat(modelPath)).size])
      assert.ok(Number(endCell) > startEpoch + 10, `end epoch ${endCell}`)
      assert.equal(Number(nextCell), Number(endCell) - 2, 'renewed from two epochs before its end (renewWithinEpochs)')
      const metrics = await (await request(`${api.url}/metrics`)).body.text()
      assert.match(metrics, /^herd_storage_expired 0$/m)
      assert.match(metrics, /^herd_storage_renewed_total [1-9]\d*$/m)
      assert.match(metrics, /^herd_storage_failing \d+$/m)
      assert.match(metrics, /^herd_storage_expiring_soon \d+$/m)
    } finally {
      await client?.close()
      await api.stop()
      await node.stop()
    }
  })
})
