// An in-process devnet (local Walrus and ledger) and herd nodes on loopback, for the tests and the benchmarks alike.
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { BlobId } from '../src/blob/blob-id.js'
import { chunkTreeOfFile, DEFAULT_CHUNK_SIZE, encodeChunkHashes, toHex } from '../src/blob/chunk-tree.js'
import type { TensorSpec } from '../src/chain/types.js'
import { HttpLedger } from '../src/chain/http-ledger.js'
import { ChainStore } from '../src/chain/local/chain-store.js'
import { LedgerServer } from '../src/chain/local/server.js'
import { readOnnxSignature } from '../src/inference/model-signature.js'
import { CACHE_TOPIC } from '../src/mesh/constants.js'
import { HerdNode } from '../src/node.js'
import { parseNodeConfig, type NodeConfigInput } from '../src/node-config.js'
import { WalrusHttpClient } from '../src/walrus/http-client.js'
import { LocalWalrus } from '../src/walrus/local/server.js'

/** Bounded wait for a condition that other nodes make true. */
export async function waitFor (what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (await check()) return
    await new Promise(resolve => setTimeout(resolve, everyMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
}

/** Runs `work` with a signal that aborts after `ms`, and rejects then even if `work` does not heed the signal. */
export async function withTimeout<T> (what: string, ms: number, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const signal = AbortSignal.timeout(ms)
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(new Error(`${what} took longer than ${ms} ms`)) }
    signal.addEventListener('abort', onAbort, { once: true })
    work(signal).then(resolve, reject).finally(() => { signal.removeEventListener('abort', onAbort) })
  })
}

export interface PublishOptions {
  /** The registry name; `model-N` (N counting this devnet's publishes) if not given. */
  name?: string
  chunkSize?: number
  /** Read the file's ONNX signature and register it; otherwise the model is registered as raw bytes. */
  onnx?: boolean
}

export interface PublishedModel {
  blobId: BlobId
  size: number
  inputs: TensorSpec[]
}

/** A local Walrus and ledger in this process, shared by the nodes of a test or benchmark, as Walrus and Sui are shared. */
export interface Devnet {
  walrus: LocalWalrus
  /** The ledger's own store: what it keeps on disk (block bytes), beside what its HTTP API answers. */
  store: ChainStore
  ledgerUrl: string
  /** Stores a file and its chunk hashes on the local Walrus and registers it on the ledger. */
  publishFile: (path: string, options?: PublishOptions) => Promise<PublishedModel>
  /** The same for bytes in memory, through a file in the devnet's directory removed afterwards. */
  publish: (bytes: Uint8Array, options?: PublishOptions) => Promise<PublishedModel>
  stop: () => Promise<void>
}

export interface DevnetOptions {
  /** 100 by default: blob IDs (RS2 encoding) are quick at few shards, and no node here checks them against mainnet's 1000. */
  nShards?: number
  /** The local Walrus's upload limit; its own default (512 MiB) if not given. */
  maxBlobBytes?: number
  /** How long a put may go unanswered before the client retries it; the client's default if not given. */
  publishTimeoutMs?: number
}

export async function startDevnet (dir: string, options: DevnetOptions = {}): Promise<Devnet> {
  const walrus = new LocalWalrus({
    dir: join(dir, 'walrus'),
    nShards: options.nShards ?? 100,
    ...(options.maxBlobBytes != null ? { maxBlobBytes: options.maxBlobBytes } : {})
  })
  await walrus.start()
  const store = new ChainStore(join(dir, 'ledger'))
  await store.open()
  const server = new LedgerServer({ store })
  await server.start()
  const ledger = new HttpLedger({ url: server.url, signer: Ed25519Keypair.generate() })
  const client = new WalrusHttpClient({
    aggregator: walrus.url,
    publisher: walrus.url,
    ...(options.publishTimeoutMs != null ? { publishTimeoutMs: options.publishTimeoutMs } : {})
  })
  let published = 0
  let written = 0

  const publishFile = async (path: string, publishOptions: PublishOptions = {}): Promise<PublishedModel> => {
    const n = ++published
    const hashesPath = join(dir, `model-${n}.hashes`)
    const tree = await chunkTreeOfFile(path, { chunkSize: publishOptions.chunkSize ?? DEFAULT_CHUNK_SIZE })
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
    await rm(hashesPath)
    return { blobId: stored.blobId, size: tree.size, inputs: signature.inputs }
  }

  return {
    walrus,
    store,
    ledgerUrl: server.url,
    publishFile,
    async publish (bytes, publishOptions) {
      const path = join(dir, `bytes-${++written}.bin`)
      await writeFile(path, bytes)
      try {
        return await publishFile(path, publishOptions)
      } finally {
        await rm(path)
      }
    },
    async stop () {
      await Promise.all([ledger.close(), client.close()])
      await server.stop()
      await store.close()
      await walrus.stop()
    }
  }
}

/** Where a devnet answers: all a node's config needs of it, whether it runs in this process or another. */
export type DevnetAddresses = { walrus: { url: string } } & Pick<Devnet, 'ledgerUrl'>

const LOOPBACK_MESH = { digestIntervalMs: 1_000, privateNetwork: true, dhtProvide: false, allow: ['/ip4/127.0.0.1'] }

/** A node of the devnet on a private loopback mesh (no DHT provider records, a digest a second); every other setting the product's default. */
export function devnetNodeConfig (dataDir: string, devnet: DevnetAddresses, overrides: Partial<NodeConfigInput> = {}): NodeConfigInput {
  return {
    dataDir,
    walrus: { aggregator: devnet.walrus.url, publisher: devnet.walrus.url },
    ledger: devnet.ledgerUrl,
    mesh: LOOPBACK_MESH,
    ...overrides
  }
}

/** quickNodeConfig's mesh settings, for a caller that changes one of them. */
export const QUICK_MESH = { ...LOOPBACK_MESH, providerTtlMs: 10_000 }

/** The same with short waits (provider TTL, fetch coordination and stall), so a few nodes settle in seconds. */
export function quickNodeConfig (dataDir: string, devnet: DevnetAddresses, overrides: Partial<NodeConfigInput> = {}): NodeConfigInput {
  return devnetNodeConfig(dataDir, devnet, {
    api: { host: '127.0.0.1', port: 0 },
    mesh: QUICK_MESH,
    fetch: { coordinationMs: 300, stallMs: 1_500, haveIntervalMs: 100 },
    ...overrides
  })
}

/** A started node; one that fails to start has stopped what it started. */
export async function startNode (config: NodeConfigInput): Promise<HerdNode> {
  const node = new HerdNode(parseNodeConfig(config))
  await node.start()
  return node
}

export async function connectPair (from: HerdNode, to: HerdNode): Promise<void> {
  await withTimeout('a dial between nodes', 15_000, async signal => from.libp2p.dial(to.libp2p.getMultiaddrs(), { signal }))
}

/** Connects every node to every other and waits until each sees all the others on the cache topic. */
export async function connectAll (nodes: HerdNode[]): Promise<void> {
  for (let i = 0; i < nodes.length; i++) {
    for (let j = i + 1; j < nodes.length; j++) await connectPair(nodes[i] as HerdNode, nodes[j] as HerdNode)
  }
  for (const node of nodes) {
    await waitFor('every node to subscribe to the cache topic', () => node.libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length >= nodes.length - 1, 30_000)
  }
}

/** Stops every node, even past one that fails to stop, then throws the first failure. */
export async function stopNodes (nodes: Iterable<HerdNode>): Promise<void> {
  const results = await Promise.allSettled([...nodes].map(async node => { await node.stop() }))
  const failed = results.find(result => result.status === 'rejected')
  if (failed != null) throw failed.reason
}
