import assert from 'node:assert/strict'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import ort from 'onnxruntime-node'
import { request } from 'undici'
import { quickNodeConfig } from '../harness/in-process-mesh.js'
import { ApiServer } from '../src/api/server.js'
import { InsufficientGasError } from '../src/chain/errors.js'
import { loadOrCreateNodeKey } from '../src/chain/node-key.js'
import type { Ledger } from '../src/chain/types.js'
import { syntheticMlp } from '../sim/synthetic-model.js'
import { tensorsToJson } from '../src/inference/tensor-codec.js'
import { HerdNode } from '../src/node.js'
import { FundsMonitor } from '../src/node-funds.js'
import { parseNodeConfig } from '../src/node-config.js'
import type { NodeServices } from '../src/node-services.js'
import { InsufficientWalError } from '../src/walrus/errors.js'
import { NetworkWalrusStore } from '../src/walrus/network-store.js'
import { tempDir } from './helpers/devnet.js'
import { startDevnet, waitFor } from './helpers/mesh.js'
import { HttpLedger } from '../src/chain/http-ledger.js'
import { PaymentLog } from '../src/payment-log.js'
import { modelAttributes } from '../src/chain/sui-ledger.js'
import { SUI_TYPE } from './helpers/sui-standin-chain.js'
import { GAS_USED } from './helpers/sui-standin-grpc.js'
import { suiStandIn } from './helpers/sui-standin.js'

/** The devnet's own Walrus and ledger, refusing writes with the real networks' named errors until "funded". */
function unfunded (built: NodeServices, address: string, funded: { wal: boolean, sui: boolean }, tries: { bundle: number, anchor: number }): NodeServices {
  const { walrus } = built
  const writer = {
    putFile: async (path: string, options?: Parameters<NetworkWalrusStore['putFile']>[1]) => {
      tries.bundle++
      if (!funded.wal) throw new InsufficientWalError(address, 'devnet', 1000n)
      return walrus.writer.putFile(path, options)
    },
    putBytes: async (bytes: Uint8Array, options?: Parameters<NetworkWalrusStore['putBytes']>[1]) => {
      tries.bundle++
      if (!funded.wal) throw new InsufficientWalError(address, 'devnet', 1000n)
      return walrus.writer.putBytes(bytes, options)
    },
    close: async () => { await walrus.close() }
  }
  const ledger = new Proxy(built.ledger, {
    get (target, property) {
      if (property === 'anchor') {
        return async (...args: Parameters<Ledger['anchor']>) => {
          tries.anchor++
          if (!funded.sui) throw new InsufficientGasError(address, 'devnet')
          return target.anchor(...args)
        }
      }
      const value = Reflect.get(target, property, target)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return { ...built, ledger, walrus: new NetworkWalrusStore({ readers: walrus.readers, writer, writeMode: walrus.writeMode, epochs: walrus.epochs, owner: address }) }
}

async function json (url: string, body?: unknown): Promise<{ status: number, json: any }> {
  const response = await request(url, body == null ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  return { status: response.statusCode, json: await response.body.json() }
}

describe('a node without funds', () => {
  it('serves inference while its bundles and anchors wait, shows them in /status, and sends them all once funded', async () => {
    await using dir = await tempDir()
    const devnet = await startDevnet(join(dir.path, 'devnet'))
    await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 16, outputSize: 4, layers: 1, seed: 5 }), { name: 'mlp', onnx: true })
    const funded = { wal: false, sui: false }
    const tries = { bundle: 0, anchor: 0 }
    const config = parseNodeConfig(quickNodeConfig(join(dir.path, 'node'), devnet, { proofs: { batchSize: 3, intervalMs: 100 } }))
    // The key the node will load: the stand-ins name its address, as the real errors do.
    const address = (await loadOrCreateNodeKey(config.dataDir)).toSuiAddress()
    const node = new HerdNode(config, { services: built => unfunded(built, address, funded, tries) })
    const api = new ApiServer({ node, port: 0 })
    try {
      await node.start()
      assert.equal(node.key.toSuiAddress(), address)
      await api.start()
      const receipts: string[] = []
      for (let i = 0; i < 3; i++) {
        const x = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, j) => Math.sin(i + j)), [1, 16])
        const { status, json: reply } = await json(`${api.url}/v1/infer`, { model: 'mlp', inputs: tensorsToJson({ x }) })
        assert.equal(status, 200, JSON.stringify(reply))
        receipts.push(reply.receipt.id)
      }

      await waitFor('the bundle to wait for WAL', async () => (await json(`${api.url}/status`)).json.funds.blocked[0]?.kind === 'bundle', 30_000, 50)
      let funds = (await json(`${api.url}/status`)).json.funds
      assert.equal(funds.address, address)
      assert.equal(funds.blocked.length, 1)
      assert.match(funds.blocked[0].error, /^InsufficientWalError: /)
      assert.ok(funds.blocked[0].since <= Date.now())
      assert.equal(node.status().proofs.queued, 3, 'the receipts wait in the durable queue')
      assert.equal(tries.anchor, 0, 'nothing is anchored before its bundle is stored')

      funded.wal = true
      await waitFor('the anchor to wait for SUI', async () => (await json(`${api.url}/status`)).json.funds.blocked[0]?.kind === 'anchor', 60_000, 50)
      funds = (await json(`${api.url}/status`)).json.funds
      assert.match(funds.blocked[0].error, /^InsufficientGasError: /)

      // Still serving while unfunded.
      const x = new ort.Tensor('float32', new Float32Array(16).fill(0.5), [1, 16])
      assert.equal((await json(`${api.url}/v1/infer`, { model: 'mlp', inputs: tensorsToJson({ x }) })).status, 200)

      funded.sui = true
      await waitFor('the queue to drain', async () => {
        const status = (await json(`${api.url}/status`)).json
        return status.funds.blocked.length === 0 && status.proofs.queued === 0 && status.proofs.sealed === 4
      }, 60_000, 50)
      const anchors = await node.ledger.listAnchors(address)
      assert.equal(anchors.reduce((sum, a) => sum + a.count, 0), 4, 'every receipt anchored, none dropped')
      for (const id of receipts) assert.equal((await request(`${api.url}/v1/proofs/${id}`)).statusCode, 200)
      assert.ok(tries.bundle >= 2 && tries.anchor >= 2, `retried: ${JSON.stringify(tries)}`)
    } finally {
      await api.stop()
      await node.stop()
      await devnet.stop()
    }
  })

  it('reads the balances at start, and again while a write waits but at most once a period', async () => {
    const blocked = [{ kind: 'anchor' as const, since: 1, error: 'InsufficientGasError: none' }]
    let reads = 0
    let waiting: typeof blocked = []
    const balances = async (): Promise<{ sui: bigint, wal: bigint }> => { reads++; return { sui: 5n * BigInt(reads), wal: 7n } }
    const slow = new FundsMonitor({ address: '0xabc', network: 'testnet', balances, blocked: () => waiting, refreshMs: 3_600_000 })
    slow.start()
    await waitFor('the first read', () => slow.status().sui != null)
    assert.deepEqual({ ...slow.status(), checkedAt: undefined }, { address: '0xabc', sui: '5', wal: '7', checkedAt: undefined, blocked: [] })
    waiting = blocked
    assert.deepEqual(slow.status().blocked, blocked)
    assert.equal(reads, 1, 'not again within the period')
    await slow.stop()

    const quick = new FundsMonitor({ address: '0xabc', network: 'testnet', balances, blocked: () => waiting, refreshMs: 1 })
    quick.start()
    await waitFor('a read while blocked', () => { quick.status(); return reads >= 3 })
    await quick.stop()
    const devnet = new FundsMonitor({ address: '0xabc', network: 'devnet', blocked: () => [] })
    devnet.start()
    assert.deepEqual(devnet.status(), { address: '0xabc', blocked: [] }, 'the devnet has no balances')
    await devnet.stop()
  })

  it('anchors its bundles on Sui, on the Blob objects its writes own, once its address is funded, and shows what it paid', async () => {
    await using dir = await tempDir()
    const devnet = await startDevnet(join(dir.path, 'devnet'))
    await devnet.publish(syntheticMlp({ inputSize: 16, hiddenSize: 16, outputSize: 4, layers: 1, seed: 6 }), { name: 'mlp', onnx: true })
    const config = parseNodeConfig(quickNodeConfig(join(dir.path, 'node'), devnet, { proofs: { batchSize: 2, intervalMs: 100 } }))
    const key = await loadOrCreateNodeKey(config.dataDir)
    const address = key.toSuiAddress()
    // Sui over the gRPC and GraphQL stand-ins, the node's address without SUI; the model's entry on a Blob object the node owns.
    const sui = suiStandIn({ fundSui: 0n })
    const registered = new HttpLedger({ url: devnet.ledgerUrl })
    const entry = await registered.getModel('mlp')
    await registered.close()
    sui.addBlob(address, entry.blobId).attributes = new Map(Object.entries(modelAttributes(entry)))
    let bundles = 0
    const node = new HerdNode(config, {
      services: (built, { onPaid }) => ({
        ...built,
        ledger: sui.ledger({ signer: key, onPaid }),
        // The publisher sends each Blob object it creates to the node's address: here, onto the stand-in chain.
        walrus: new NetworkWalrusStore({
          readers: built.walrus.readers,
          writer: {
            putFile: async (path, options) => {
              const stored = await built.walrus.writer.putFile(path, options)
              return { ...stored, objectId: sui.addBlob(options?.sendObjectTo ?? '0x0', stored.blobId).objectId }
            },
            putBytes: async (bytes, options) => {
              const stored = await built.walrus.writer.putBytes(bytes, options)
              bundles++
              return { ...stored, objectId: sui.addBlob(options?.sendObjectTo ?? '0x0', stored.blobId).objectId }
            },
            close: async () => { await built.walrus.close() }
          },
          writeMode: 'publisher',
          epochs: 1,
          owner: address
        })
      })
    })
    const api = new ApiServer({ node, port: 0 })
    try {
      await node.start()
      await api.start()
      const receipts: string[] = []
      for (let i = 0; i < 2; i++) {
        const x = new ort.Tensor('float32', Float32Array.from({ length: 16 }, (_, j) => Math.cos(i + j)), [1, 16])
        const { status, json: reply } = await json(`${api.url}/v1/infer`, { model: 'mlp', inputs: tensorsToJson({ x }) })
        assert.equal(status, 200, JSON.stringify(reply))
        receipts.push(reply.receipt.id)
      }
      await waitFor('the anchor to wait for SUI', async () => (await json(`${api.url}/status`)).json.funds.blocked[0]?.kind === 'anchor', 30_000, 50)
      let funds = (await json(`${api.url}/status`)).json.funds
      assert.match(funds.blocked[0].error, /^InsufficientGasError: /)
      assert.ok(funds.blocked[0].error.includes(address), 'names the address to fund')
      assert.deepEqual(funds.paid, { sui: '0', wal: '0', transactions: 0 })
      assert.ok(!sui.grpc.methods().includes('ExecuteTransaction'), 'nothing signed without gas')

      sui.chain.fund(address, SUI_TYPE, 1_000_000_000n)
      await waitFor('the queue to drain', async () => {
        const status = (await json(`${api.url}/status`)).json
        return status.funds.blocked.length === 0 && status.proofs.queued === 0 && status.proofs.sealed === 2
      }, 60_000, 50)
      const anchors = await node.ledger.listAnchors(address)
      assert.equal(anchors.length, 1)
      assert.equal(anchors[0]!.count, 2)
      assert.equal(sui.chain.objects.get(anchors[0]!.bundleObjectId!)?.owner, address, 'written on the bundle\'s own Blob object, which the node owns')
      assert.equal(bundles, 1)
      for (const id of receipts) assert.equal((await request(`${api.url}/v1/proofs/${id}`)).statusCode, 200)
      await waitFor('the payment to be recorded', async () => (await json(`${api.url}/status`)).json.funds.paid.transactions === 1, 10_000, 50)
      funds = (await json(`${api.url}/status`)).json.funds
      assert.deepEqual(funds.paid, { sui: String(GAS_USED), wal: '0', transactions: 1 }, 'the anchor\'s gas, from its effects')
    } finally {
      await api.stop()
      await node.stop()
      await devnet.stop()
    }
    // Kept across restarts: the node's payment log in its data dir.
    assert.equal((await new PaymentLog(join(config.dataDir, 'payments')).totals()).devnet?.suiMist, GAS_USED)
  })
})
