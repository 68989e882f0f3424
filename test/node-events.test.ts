import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { quickNodeConfig } from '../harness/in-process-mesh.js'
import { loadOrCreateNodeKey } from '../src/chain/node-key.js'
import { syntheticMlp } from '../sim/synthetic-model.js'
import { HerdNode } from '../src/node.js'
import type { NodeEvent } from '../src/node-events.js'
import { parseNodeConfig } from '../src/node-config.js'
import { InsufficientWalError } from '../src/walrus/errors.js'
import { NetworkWalrusStore } from '../src/walrus/network-store.js'
import { tempDir } from './helpers/devnet.js'
import { startDevnet, waitFor } from './helpers/mesh.js'

describe('the node\'s event feed', () => {
  it('tells a model\'s download and session, a want of funds once, and the bundle anchored once funded', { timeout: 180_000 }, async () => {
    await using dir = await tempDir()
    const devnet = await startDevnet(join(dir.path, 'devnet'))
    const model = syntheticMlp({ inputSize: 16, hiddenSize: 16, outputSize: 4, layers: 1, seed: 9 })
    const { blobId } = await devnet.publish(model, { name: 'mlp', onnx: true })
    const config = parseNodeConfig(quickNodeConfig(join(dir.path, 'node'), devnet, { proofs: { batchSize: 2, intervalMs: 100 }, inference: { warmOnCache: true } }))
    const address = (await loadOrCreateNodeKey(config.dataDir)).toSuiAddress()
    let funded = false
    let writes = 0
    // The devnet's Walrus, refusing writes as the SDK does without WAL until "funded".
    const node = new HerdNode(config, {
      services: built => ({
        ...built,
        walrus: new NetworkWalrusStore({
          readers: built.walrus.readers,
          writer: {
            putFile: async (path, options) => {
              writes++
              if (!funded) throw new InsufficientWalError(address, 'devnet', 1000n)
              return built.walrus.writer.putFile(path, options)
            },
            putBytes: async (bytes, options) => {
              writes++
              if (!funded) throw new InsufficientWalError(address, 'devnet', 1000n)
              return built.walrus.writer.putBytes(bytes, options)
            },
            close: async () => { await built.walrus.close() }
          },
          writeMode: built.walrus.writeMode,
          epochs: built.walrus.epochs,
          owner: address
        })
      })
    })
    const seen: NodeEvent[] = []
    node.events.addEventListener('event', event => { seen.push(event.detail) })
    const of = <T extends NodeEvent['type']>(type: T): Array<Extract<NodeEvent, { type: T }>> => seen.filter((e): e is Extract<NodeEvent, { type: T }> => e.type === type)
    try {
      await node.start()
      for (let i = 0; i < 2; i++) {
        const x = new ort.Tensor('float32', new Float32Array(16).fill(i), [1, 16])
        await node.inference.infer({ model: 'mlp', inputs: { x } })
      }
      const started = of('download:started')
      assert.equal(started.length, 1)
      assert.equal(started[0]?.blobId, blobId)
      const finished = of('download:finished')
      assert.equal(finished.length, 1)
      assert.equal(finished[0]?.size, model.byteLength)
      assert.equal(finished[0]!.bytesFromWalrus + finished[0]!.bytesFromPeers, model.byteLength)
      assert.ok(finished[0]!.ms >= 0 && finished[0]!.at >= started[0]!.at)
      await waitFor('the session warmed', () => of('model:loaded').some(e => e.blobId === blobId), 60_000, 50)

      await waitFor('the want of funds told', () => of('funds:blocked').length > 0, 60_000, 50)
      // The batcher retries while unfunded: told once, not once a retry.
      await waitFor('a retry', () => writes >= 3, 60_000, 50)
      assert.equal(of('funds:blocked').length, 1)
      assert.equal(of('funds:blocked')[0]?.address, address)
      assert.equal(of('proofs:failed').length, 0, 'a want of funds is not told as a failure too')

      funded = true
      await waitFor('the bundle anchored', () => of('bundle:anchored').length > 0, 60_000, 50)
      assert.equal(of('bundle:anchored').reduce((sum, e) => sum + e.receipts, 0), 2)
    } finally {
      await node.stop()
      await devnet.stop()
    }
  })
})
