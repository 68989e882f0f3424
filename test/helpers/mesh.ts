import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { BlobId } from '../../src/blob/blob-id.js'
import { chunkTreeOfFile, encodeChunkHashes, toHex } from '../../src/blob/chunk-tree.js'
import { HttpLedger } from '../../src/chain/http-ledger.js'
import { ChainStore } from '../../src/chain/local/chain-store.js'
import { LedgerServer } from '../../src/chain/local/server.js'
import { readOnnxSignature } from '../../src/inference/model-signature.js'
import { CACHE_TOPIC } from '../../src/mesh/constants.js'
import { HerdNode } from '../../src/node.js'
import { parseNodeConfig, type NodeConfigInput } from '../../src/node-config.js'
import { WalrusHttpClient } from '../../src/walrus/http-client.js'
import type { LocalWalrus } from '../../src/walrus/local/server.js'
import { startLocalWalrus } from './devnet.js'

/** Bounded wait for a condition that other nodes make true. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** A local Walrus and ledger in this process, shared by the nodes of a test, as Walrus and Sui are shared. */
export interface TestDevnet {
  walrus: LocalWalrus
  ledgerUrl: string
  /** Stores a blob and its chunk hashes on the local Walrus and registers it; `onnx` reads and records its signature. */
  publish: (bytes: Uint8Array, options?: { chunkSize?: number, name?: string, onnx?: boolean }) => Promise<{ blobId: BlobId, size: number }>
  stop: () => Promise<void>
}

export async function startTestDevnet (dir: string, options: { nShards?: number } = {}): Promise<TestDevnet> {
  const walrus = await startLocalWalrus(join(dir, 'walrus'), { nShards: options.nShards ?? 100, maxBlobBytes: 512 * 1024 * 1024 })
  const store = new ChainStore(join(dir, 'ledger'))
  await store.open()
  const server = new LedgerServer({ store })
  await server.start()
  const publisher = Ed25519Keypair.generate()
  const ledger = new HttpLedger({ url: server.url, signer: publisher })
  const client = new WalrusHttpClient({ aggregator: walrus.url, publisher: walrus.url })
  let n = 0
  return {
    walrus,
    ledgerUrl: server.url,
    async publish (bytes, publishOptions = {}) {
      n++
      const path = join(dir, `model-${n}.bin`)
      const hashesPath = `${path}.hashes`
      await writeFile(path, bytes)
      const tree = await chunkTreeOfFile(path, { chunkSize: publishOptions.chunkSize ?? 1024 * 1024 })
      await writeFile(hashesPath, encodeChunkHashes(tree.leaves))
      const signature = publishOptions.onnx === true ? await readOnnxSignature(path) : { format: 'raw', inputs: [], outputs: [] }
      const stored = await client.putFile(path)
      const hashes = await client.putFile(hashesPath)
      await ledger.registerModel({
        name: publishOptions.name ?? `model-${n}`,
        version: '1',
        blobId: stored.blobId,
        size: tree.size,
        chunkSize: tree.chunkSize,
        chunkRoot: toHex(tree.root),
        chunkHashesBlobId: hashes.blobId,
        format: signature.format,
        inputs: signature.inputs,
        outputs: signature.outputs
      })
      await Promise.all([rm(path), rm(hashesPath)])
      return { blobId: stored.blobId, size: tree.size }
    },
    async stop () {
      await Promise.all([ledger.close(), client.close()])
      await server.stop()
      await store.close()
      await walrus.stop()
    }
  }
}

export function randomModel (bytes: number): Uint8Array {
  return new Uint8Array(randomBytes(bytes))
}

/** Fast settings for tests: digests often, short waits. */
export function testNodeConfig (dataDir: string, devnet: TestDevnet, overrides: Partial<NodeConfigInput> = {}): NodeConfigInput {
  return {
    dataDir,
    walrus: { aggregator: devnet.walrus.url, publisher: devnet.walrus.url },
    ledger: devnet.ledgerUrl,
    api: { host: '127.0.0.1', port: 0 },
    mesh: { digestIntervalMs: 1_000, providerTtlMs: 10_000, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] },
    fetch: { coordinationMs: 300, stallMs: 1_500, haveIntervalMs: 100 },
    ...overrides
  }
}

/** In-process nodes on loopback, all connected to each other and subscribed to the cache topic. */
export async function startNodes (count: number, dir: string, devnet: TestDevnet, overrides: Partial<NodeConfigInput> = {}): Promise<HerdNode[]> {
  const nodes: HerdNode[] = []
  try {
    for (let i = 0; i < count; i++) {
      const node = new HerdNode(parseNodeConfig(testNodeConfig(join(dir, `node-${i}`), devnet, overrides)))
      nodes.push(node)
      await node.start()
    }
    await connectAll(nodes)
  } catch (err) {
    await stopNodes(nodes)
    throw err
  }
  return nodes
}

export async function connectAll (nodes: HerdNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) {
      await (nodes[i] as HerdNode).libp2p.dial((nodes[j] as HerdNode).libp2p.getMultiaddrs())
    }
  }
  for (const node of nodes) {
    await waitFor('every node to subscribe to the cache topic', () => node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length >= nodes.length - 1)
  }
}

export async function stopNodes (nodes: HerdNode[]): Promise<void> {
  await Promise.all(nodes.map(async node => { await node.stop() }))
}
