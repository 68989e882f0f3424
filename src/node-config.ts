import { readFile } from 'node:fs/promises'
import { multiaddr } from '@multiformats/multiaddr'
import { z } from 'zod'
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from './api/constants.js'
import { DEFAULT_N_SHARDS } from './blob/blob-id-computer.js'
import { DEFAULT_NEW_BLOB_GRACE_MS, DEFAULT_POLICY, DEFAULT_QUOTA_BYTES, DEFAULT_ROOM_WAIT_MS } from './blob/cache/constants.js'
import { POLICY_NAMES } from './blob/cache/policy.js'
import { DEFAULT_REQUEST_LOG_BYTES, MAX_LINE_CHARS } from './blob/cache/request-log.js'
import {
  DEFAULT_CONCURRENCY, DEFAULT_DEADLINE_MS, DEFAULT_GRAPH_OPTIMIZATION_LEVEL, DEFAULT_INTRA_OP_THREADS, DEFAULT_MAX_HOPS, DEFAULT_MAX_RUN_BYTES,
  DEFAULT_INLINE_MAX_RUN_MS, DEFAULT_MEMORY_BUDGET_BYTES, DEFAULT_PEER_FETCH_BYTES_PER_SEC, DEFAULT_QUEUE_DEPTH, DEFAULT_WALRUS_FETCH_BYTES_PER_SEC
} from './inference/constants.js'
import { DIGEST_INTERVAL_MS, MAX_KNOWN_PEERS, PROVIDER_TTL_MS, REDIAL_KNOWN_PEERS } from './mesh/constants.js'
import { MIN_UPLOAD_BYTES_PER_SEC } from './mesh/upload-pace.js'
import { MAX_BUNDLE_BYTES, MIN_BUNDLE_BUDGET } from './proof/bundle.js'
import {
  DEFAULT_BATCH_INTERVAL_MS, DEFAULT_BATCH_SIZE, DEFAULT_MAX_BUNDLE_BYTES, DEFAULT_MAX_QUEUED, DEFAULT_MAX_UNSYNCED, DEFAULT_RECEIPT_DURABILITY, DEFAULT_RETAIN_SEALED_MS,
  DEFAULT_SYNC_INTERVAL_MS, MAX_CONCURRENT_WRITES, MAX_SYNC_INTERVAL_MS, MAX_UNSYNCED, RECEIPT_DURABILITIES
} from './proof/constants.js'
import { DEFAULT_BUNDLE_RETENTION_MS, DEFAULT_CHECK_INTERVAL_MS, DEFAULT_EXTEND_EPOCHS, DEFAULT_MAX_SPEND_PER_EPOCH_FROST, DEFAULT_REGISTRY_SYNC_MS, DEFAULT_RENEW_WITHIN_EPOCHS } from './storage/constants.js'
import { DEFAULT_EPOCH_MS, MAX_EPOCH_MS, MIN_EPOCH_MS } from './walrus/local/constants.js'
import { apiTokenSchema } from './api/api-token.js'
import { NETWORKS, type Network } from './networks.js'

const multiaddrString = z.string().refine(value => {
  try {
    multiaddr(value)
    return true
  } catch {
    return false
  }
}, { message: 'not a multiaddr' })

const bootstrapAddr = multiaddrString.refine(value => value.includes('/p2p/'), { message: 'a bootstrap multiaddr must end in /p2p/PEER_ID' })

const httpUrl = z.url({ protocol: /^https?$/ }).transform(url => url.replace(/\/+$/, ''))

/** A name the API answers to, as a Host header gives it (lower case, an IPv6 address in brackets); no port: any port. */
export interface ApiHost { name: string, port?: number }

/** `name`, `name:port`, `[v6]` or `[v6]:port`; undefined when it is none of them. */
export function parseApiHost (text: string): ApiHost | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(text.toLowerCase())
  if (match == null) return undefined
  const port = match[2] != null ? Number(match[2]) : undefined
  if (port != null && port > 65535) return undefined
  return { name: match[1] as string, ...(port != null ? { port } : {}) }
}

export { NETWORKS, type Network }

/** A Sui address or object ID in full: 0x and 64 hex digits (any case; kept lower case). */
const suiId = z.string().regex(/^0x[0-9a-fA-F]{64}$/, { message: 'not a Sui address or object ID (0x and 64 hex digits)' }).transform(id => id.toLowerCase())
const MAX_WALRUS_EPOCHS = 53

/**
 * The node's configuration: built-in defaults, the network's profile
 * (config/NAME.json), a config file, HERD_* variables and flags, each over the
 * one before (src/cli/resolve-config.ts). Every field but dataDir has a default,
 * taken from its layer's constants.ts; a section left out is parsed as `{}`
 * (`prefault`), so its fields' defaults are the only ones.
 */
const nodeConfigFields = z.strictObject({
  dataDir: z.string().min(1),
  /** devnet: the embedded local Walrus and ledger (or a `herd devnet`); testnet and mainnet: Walrus and Sui. */
  network: z.enum(NETWORKS).default('devnet'),
  listen: z.array(multiaddrString).min(1).default(['/ip4/127.0.0.1/tcp/0']),
  bootstrap: z.array(bootstrapAddr).default([]),
  api: z.strictObject({
    host: z.string().min(1).default(DEFAULT_API_HOST),
    port: z.number().int().min(0).max(65535).default(DEFAULT_API_PORT),
    /** Host headers answered besides the API's own address and localhost: the names a proxy or DNS gives it. */
    allowedHosts: z.array(z.string().max(300).refine(v => parseApiHost(v) != null, 'a host name, [IPv6] address or either with :port')).max(64).default([]),
    /** Set: every route but GET /health needs `Authorization: Bearer TOKEN`. */
    token: apiTokenSchema.optional()
  }).prefault({}),
  /** Absent on the devnet: an embedded local Walrus in the data dir. */
  walrus: z.strictObject({
    /** One aggregator or several, read in turn when one fails. */
    aggregator: z.union([httpUrl, z.array(httpUrl).min(1).max(8)]).transform(value => typeof value === 'string' ? [value] : value),
    /** Writes go through it, with the Blob objects sent to the node's address. */
    publisher: httpUrl.optional(),
    /** Writes through @mysten/walrus with the node key, through this relay (testnet and mainnet). */
    uploadRelay: z.strictObject({
      host: httpUrl,
      /** Most MIST the node tips the relay per write. */
      maxTipMist: z.number().int().min(0).max(1_000_000_000).default(10_000_000)
    }).optional(),
    /** publisher: the publisher above; sdk: @mysten/walrus paying WAL from the node key. Default: walrusWriteMode. */
    write: z.enum(['publisher', 'sdk']).optional(),
    /** Storage epochs bought by each write (model pushes, proof bundles). */
    epochs: z.number().int().min(1).max(MAX_WALRUS_EPOCHS).default(1)
  }).optional(),
  /** The devnet's ledger URL (`herd devnet`). Absent on the devnet: an embedded local ledger in the data dir. */
  ledger: httpUrl.optional(),
  /** Sui, on testnet and mainnet (the profile has it). */
  sui: z.strictObject({
    /** Full node URL; it serves gRPC(-Web). */
    url: httpUrl,
    graphqlUrl: httpUrl,
    /** Filled in from @mysten/walrus's package config for the network when absent. */
    walrusPackage: z.strictObject({
      systemObjectId: suiId,
      stakingPoolId: suiId,
      exchangeIds: z.array(suiId).max(16).optional()
    })
  }).optional(),
  registry: z.strictObject({
    /** Addresses whose registered models count, besides the node's own. */
    trustedPublishers: z.array(suiId).max(256).default([])
  }).prefault({}),
  embedded: z.strictObject({
    nShards: z.number().int().min(1).max(65535).default(DEFAULT_N_SHARDS),
    walrusPort: z.number().int().min(0).max(65535).default(0),
    ledgerPort: z.number().int().min(0).max(65535).default(0),
    /** Epoch length of the embedded Walrus: blobs expire at their end epoch, as on Walrus. */
    walrusEpochMs: z.number().int().min(MIN_EPOCH_MS).max(MAX_EPOCH_MS).default(DEFAULT_EPOCH_MS)
  }).prefault({}),
  cache: z.strictObject({
    quotaBytes: z.number().int().min(1).default(DEFAULT_QUOTA_BYTES),
    policy: z.enum(POLICY_NAMES).default(DEFAULT_POLICY),
    /** A download waits this long for models in use to make room before failing. */
    roomWaitMs: z.number().int().min(0).max(600_000).default(DEFAULT_ROOM_WAIT_MS),
    /** A model just downloaded is not evicted before its first use for this long: the fetch and the run that follows it are not split. */
    newBlobGraceMs: z.number().int().min(0).max(600_000).default(DEFAULT_NEW_BLOB_GRACE_MS),
    /** Every request for a model, appended to DATA_DIR/cache/requests.jsonl for `herd sim replay`; rotated to requests.jsonl.1 past maxBytes. */
    requestLog: z.strictObject({
      enabled: z.boolean().default(false),
      maxBytes: z.number().int().min(MAX_LINE_CHARS).max(2 ** 40).default(DEFAULT_REQUEST_LOG_BYTES)
    }).prefault({})
  }).prefault({}),
  mesh: z.strictObject({
    digestIntervalMs: z.number().int().min(100).max(3_600_000).default(DIGEST_INTERVAL_MS),
    providerTtlMs: z.number().int().min(1_000).max(86_400_000).default(PROVIDER_TTL_MS),
    /** Keep loopback and private addresses in DHT records (one machine, a LAN). */
    privateNetwork: z.boolean().default(true),
    /** Announce complete blobs on the DHT too. */
    dhtProvide: z.boolean().default(true),
    /** Herd peers met before (DATA_DIR/peers) dialed again after a start, the most recent first; 0: none. */
    redialKnownPeers: z.number().int().min(0).max(MAX_KNOWN_PEERS).default(REDIAL_KNOWN_PEERS),
    /** Multiaddr prefixes exempt from libp2p's connection limits, such as /ip4/127.0.0.1 for many nodes on one machine. */
    allow: z.array(multiaddrString).default([]),
    /** Chunk bytes a second this node uploads to all peers together, at most; absent: no limit. Set a little under the uplink (docs/operating.md). */
    uploadBytesPerSec: z.number().int().min(MIN_UPLOAD_BYTES_PER_SEC).max(2 ** 40).optional()
  }).prefault({}),
  inference: z.strictObject({
    /** Runs at once and runs waiting; past the queue a request is answered BUSY. */
    concurrency: z.number().int().min(1).max(64).default(DEFAULT_CONCURRENCY),
    queueDepth: z.number().int().min(0).max(10_000).default(DEFAULT_QUEUE_DEPTH),
    /** Estimated memory of open onnxruntime sessions; the least useful idle one is closed past it. */
    memoryBudgetBytes: z.number().int().min(1).default(DEFAULT_MEMORY_BUDGET_BYTES),
    /** A run expected to need more memory than this (inputs, outputs, hidden layers) is refused before it starts. */
    maxRunBytes: z.number().int().min(1024 * 1024).max(2 ** 48).default(DEFAULT_MAX_RUN_BYTES),
    intraOpNumThreads: z.number().int().min(1).max(256).default(DEFAULT_INTRA_OP_THREADS),
    graphOptimizationLevel: z.enum(['disabled', 'basic', 'extended', 'all']).default(DEFAULT_GRAPH_OPTIMIZATION_LEVEL),
    /** Load a session as soon as an ONNX model lands in the cache. */
    warmOnCache: z.boolean().default(false),
    /** Start the inference threads with the node, not on its first run. */
    startThreads: z.boolean().default(true),
    defaultDeadlineMs: z.number().int().min(100).max(3_600_000).default(DEFAULT_DEADLINE_MS),
    /** A request is forwarded to a holder at most this many times. */
    maxHops: z.number().int().min(0).max(4).default(DEFAULT_MAX_HOPS),
    /** What the routing policy expects a fetch to achieve, from peers and from Walrus. */
    peerFetchBytesPerSec: z.number().int().min(1).default(DEFAULT_PEER_FETCH_BYTES_PER_SEC),
    walrusFetchBytesPerSec: z.number().int().min(1).default(DEFAULT_WALRUS_FETCH_BYTES_PER_SEC),
    /** A model whose run took at most this many ms on an inference thread runs on the event loop (shorter than the hop); 0: never. */
    inlineMaxRunMs: z.number().min(0).max(100).default(DEFAULT_INLINE_MAX_RUN_MS)
  }).prefault({}),
  proofs: z.strictObject({
    /** Sign a receipt for every inference served and anchor them in batches. */
    enabled: z.boolean().default(true),
    /** Seal once this many receipts are queued; a seal then takes every receipt queued, to maxBundleBytes. */
    batchSize: z.number().int().min(1).max(65_536).default(DEFAULT_BATCH_SIZE),
    intervalMs: z.number().int().min(10).max(86_400_000).default(DEFAULT_BATCH_INTERVAL_MS),
    /** Keep inputs and outputs in the bundles on Walrus, so anyone can re-execute. */
    includeTensors: z.boolean().default(true),
    /** Receipts waiting to be sealed; past it the node stops serving inference until Walrus and the ledger catch up. */
    maxQueued: z.number().int().min(1).default(DEFAULT_MAX_QUEUED),
    /** Sealed bundles are forgotten locally after this long (their proofs stay verifiable from Walrus and the ledger); 0 keeps them. */
    retainSealedMs: z.number().int().min(0).default(DEFAULT_RETAIN_SEALED_MS),
    /** A bundle's size at most; a receipt's tensors that would not fit alone are left out. Unset: bundleByteBudget(). */
    maxBundleBytes: z.number().int().min(MIN_BUNDLE_BUDGET).max(MAX_BUNDLE_BYTES).optional(),
    /** Proof bundles on their way to Walrus at once; anchors still go one at a time. Unset: bundleWritesAtOnce(). */
    concurrentWrites: z.number().int().min(1).max(MAX_CONCURRENT_WRITES).optional(),
    /** `strict`: a receipt is synced before its reply leaves; `logged`: answered once signed, written behind and synced within syncIntervalMs (docs/proofs.md). */
    durability: z.enum(RECEIPT_DURABILITIES).default(DEFAULT_RECEIPT_DURABILITY),
    /** Logged receipts are synced at most this long after their reply. */
    syncIntervalMs: z.number().int().min(1).max(MAX_SYNC_INTERVAL_MS).default(DEFAULT_SYNC_INTERVAL_MS),
    /** Logged receipts answered and not yet synced, at most: what a crash or a power loss could take. */
    maxUnsynced: z.number().int().min(1).max(MAX_UNSYNCED).default(DEFAULT_MAX_UNSYNCED)
  }).prefault({}),
  /** Keeping on Walrus what the node is responsible for: its pushed models, pins and proof bundles (src/storage). Writes buy walrus.epochs. */
  storage: z.strictObject({
    /** Extend a blob once it has this many epochs left, or fewer. */
    renewWithinEpochs: z.number().int().min(1).max(MAX_WALRUS_EPOCHS - 1).default(DEFAULT_RENEW_WITHIN_EPOCHS),
    /** An extension moves the end to this many epochs past the current one. */
    extendEpochs: z.number().int().min(2).max(MAX_WALRUS_EPOCHS).default(DEFAULT_EXTEND_EPOCHS),
    /** Proof bundles are renewed this long after they are sealed, then left to expire. */
    bundleRetentionMs: z.number().int().min(0).default(DEFAULT_BUNDLE_RETENTION_MS),
    /** FROST (10^-9 WAL) spent on extensions in one epoch at most; one extension may cross it, then renewals wait. */
    maxSpendPerEpochFrost: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(DEFAULT_MAX_SPEND_PER_EPOCH_FROST),
    checkIntervalMs: z.number().int().min(10).max(86_400_000).default(DEFAULT_CHECK_INTERVAL_MS),
    /** How often the registry is read for models the node's address registered. */
    registrySyncMs: z.number().int().min(0).max(86_400_000).default(DEFAULT_REGISTRY_SYNC_MS)
  }).refine(s => s.extendEpochs > s.renewWithinEpochs, { message: 'extendEpochs must be more than renewWithinEpochs, or every renewal would be due again at once' })
    .prefault({}),
  fetch: z.strictObject({
    requestsPerPeer: z.number().int().min(1).max(64).optional(),
    requestBytes: z.number().int().min(1024).max(64 * 1024 * 1024).optional(),
    walrusReads: z.number().int().min(1).max(64).optional(),
    haveIntervalMs: z.number().int().min(10).max(60_000).optional(),
    /** Follow downloading peers through WATCH streams instead of HAVE polls (off: docs/mesh.md). */
    watchPeers: z.boolean().optional(),
    coordinationMs: z.number().int().min(0).max(60_000).optional(),
    stallMs: z.number().int().min(100).max(600_000).optional(),
    maxWalrusFaults: z.number().int().min(1).max(1000).optional(),
    hashesHedgeMs: z.number().int().min(0).max(60_000).optional(),
    paceWindowMs: z.number().int().min(100).max(600_000).optional(),
    minSourceBytesPerSec: z.number().int().min(1).max(10 * 1024 ** 3).optional()
  }).default({})
})

/** A network's profile (config/NAME.json): the same fields, any of them. */
export const profileSchema = nodeConfigFields.partial()

export const nodeConfigSchema = nodeConfigFields.superRefine((config, ctx) => {
  const problem = (path: string[], message: string): void => { ctx.addIssue({ code: 'custom', path, message }) }
  if (config.network === 'devnet') {
    if (config.sui != null) problem(['sui'], 'the devnet has no Sui: set network to testnet or mainnet')
    if (config.walrus?.write === 'sdk' || config.walrus?.uploadRelay != null) problem(['walrus', 'write'], 'the Walrus SDK writes to testnet or mainnet only')
    return
  }
  if (config.ledger != null) problem(['ledger'], `a ledger URL is the devnet's; on ${config.network} the ledger is Sui`)
  if (config.sui == null) problem(['sui'], `${config.network} needs the sui section (its profile has it)`)
  if (config.walrus == null) problem(['walrus'], `${config.network} needs the walrus section (its profile has it)`)
  else if (config.walrus.write === 'publisher' && config.walrus.publisher == null) problem(['walrus', 'publisher'], 'write is "publisher" but no publisher is set')
  else if (config.walrus.write === 'publisher' && config.walrus.uploadRelay != null) problem(['walrus', 'uploadRelay'], 'an upload relay serves SDK writes, not a publisher\'s')
})

export type NodeConfigInput = z.input<typeof nodeConfigSchema>
export type NodeConfig = z.output<typeof nodeConfigSchema>

/** How a config's writes reach Walrus: as set, else through an upload relay if one is set, else the publisher, else the SDK. */
export function walrusWriteMode (config: NodeConfig): 'publisher' | 'sdk' {
  const walrus = config.walrus
  if (config.network === 'devnet' || walrus == null) return 'publisher'
  return walrus.write ?? (walrus.uploadRelay != null ? 'sdk' : walrus.publisher != null ? 'publisher' : 'sdk')
}

/**
 * Proof bundles on their way to Walrus at once: `proofs.concurrentWrites`,
 * or by default PUBLISHER_WRITES_AT_ONCE through a testnet or mainnet
 * publisher, which pays for its writes and takes seconds for each (one at a
 * time, a node sealed at most one bundle's bytes a write: about 85 detection
 * receipts a second with their tensors at 1.5 s a write). Through the SDK, 1
 * unless set, as on the devnet: each write there is the node's own, its
 * slivers sent to every storage node (about 2,200 requests) and its two
 * transactions taking their turn with the key's others
 * (oneTransactionAtATime), so several at once are the operator's choice.
 */
export function bundleWritesAtOnce (config: NodeConfig): number {
  if (config.proofs.concurrentWrites != null) return config.proofs.concurrentWrites
  return config.network !== 'devnet' && walrusWriteMode(config) === 'publisher' ? PUBLISHER_WRITES_AT_ONCE : 1
}

/** Bundle writes at once through a testnet or mainnet publisher, unless set. */
export const PUBLISHER_WRITES_AT_ONCE = 4

/**
 * A proof bundle's bytes at most: `proofs.maxBundleBytes`, or by default
 * DEFAULT_MAX_BUNDLE_BYTES through a publisher (under its 10 MiB upload
 * limit), and SDK_MAX_BUNDLE_BYTES through the SDK, which has no such limit
 * and where the node pays for each bundle: at 1,000 shards every blob
 * carries about 63 MiB of encoded metadata and 1.5 s of encoding whatever
 * its size, and two Sui transactions, so fewer, larger bundles cost less a
 * receipt (docs/proofs.md). Walrus's upload relay takes bodies of up to 1 GiB.
 */
export function bundleByteBudget (config: NodeConfig): number {
  if (config.proofs.maxBundleBytes != null) return config.proofs.maxBundleBytes
  return walrusWriteMode(config) === 'sdk' ? SDK_MAX_BUNDLE_BYTES : DEFAULT_MAX_BUNDLE_BYTES
}

/** A bundle's bytes at most through the SDK, unless set: the encoder then holds about 4.5 times it in slivers (145 MiB). */
export const SDK_MAX_BUNDLE_BYTES = 32 * 1024 * 1024

/** A config error names the field and what was wrong with it. */
export class NodeConfigError extends Error {
  override readonly name = 'NodeConfigError'
}

export function parseNodeConfig (input: unknown, where = 'config'): NodeConfig {
  const result = nodeConfigSchema.safeParse(input)
  if (!result.success) {
    const problems = result.error.issues.map(issue => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    throw new NodeConfigError(`${where} is not valid: ${problems.join('; ')}`)
  }
  return result.data
}

/** Reads a JSON config file; the caller merges flags over it before parsing. */
export async function readConfigFile (path: string): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new NodeConfigError(`cannot read config file ${path}: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new NodeConfigError(`config file ${path} is not JSON: ${(err as Error).message}`)
  }
  if (json == null || typeof json !== 'object' || Array.isArray(json)) throw new NodeConfigError(`config file ${path} must hold a JSON object`)
  return json as Record<string, unknown>
}
