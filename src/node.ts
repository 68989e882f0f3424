import { mkdir, rm } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { Registry } from 'prom-client'
import { parseBlobId, type BlobId } from './blob/blob-id.js'
import { BlobCache } from './blob/cache/index.js'
import { ChainStore } from './chain/local/chain-store.js'
import { LedgerServer } from './chain/local/server.js'
import { LocalLedger } from './chain/local-ledger.js'
import { loadOrCreateNodeKey } from './chain/node-key.js'
import { ModelRegistry } from './chain/registry.js'
import type { Ledger } from './chain/types.js'
import { InferClient, InferServer, INFER_PROTOCOL } from './inference/infer-protocol.js'
import { InferenceService } from './inference/inference-service.js'
import { WorkerRunner } from './inference/worker-runner.js'
import { Batcher, type RefusedBundle, type SealedBundle } from './proof/batcher.js'
import { ProofService } from './proof/proof-service.js'
import { ReceiptStore } from './proof/receipt-store.js'
import { AnnouncedAddresses, ownAnnouncedAddresses } from './mesh/announced-addresses.js'
import { CacheAnnouncer } from './mesh/announcer.js'
import { BlobClient } from './mesh/blob-client.js'
import { blobIdToCid } from './mesh/blob-key.js'
import { BlobServer } from './mesh/blob-server.js'
import { cacheChunkSource } from './mesh/cache-chunk-source.js'
import { BLOB_PROTOCOL, CACHE_TOPIC } from './mesh/constants.js'
import type { FetchProgress } from './mesh/fetch-types.js'
import { Fetcher } from './mesh/fetcher.js'
import { MeshHolders } from './mesh/holders.js'
import { dialableAddresses, KnownPeers } from './mesh/known-peers.js'
import { PeerIdMemo } from './mesh/peer-id-memo.js'
import { RequestLog } from './blob/cache/request-log.js'
import { RequestRecorder } from './blob/cache/request-recorder.js'
import { createMeshLibp2p, type MeshLibp2p } from './mesh/libp2p.js'
import { redialKnownPeers } from './mesh/redial-known.js'
import { PeerScores } from './mesh/peer-scores.js'
import { ProviderIndex } from './mesh/provider-index.js'
import { bundleByteBudget, bundleWritesAtOnce, type NodeConfig } from './node-config.js'
import { NodeEventFeed, type NodeTiming } from './node-events.js'
import { FundsMonitor, type FundsStatus } from './node-funds.js'
import { NO_PAYMENTS, PaymentLog } from './payment-log.js'
import type { OnPaid } from './payments.js'
import { buildServices, type NodeServices } from './node-services.js'
import type { NetworkWalrusStore } from './walrus/network-store.js'
import type { WalrusStore } from './walrus/types.js'
import { StorageKeeper, type ListedBlob, type StorageStatus } from './storage/keeper.js'
import { StorageTracker } from './storage/tracker.js'
import { LocalWalrus } from './walrus/local/server.js'

const log = logger('herd:node')

/** How long a DHT provide may take in the background. */
const DHT_PROVIDE_MS = 30_000
/** Cached blobs listed in the status, the most recently used first: the page and `herd status` show what is hot, not the whole cache. */
const STATUS_RECENT_BLOBS = 20
/** Opening an inference stream ahead to a new peer gives up after this long: the first request opens its own. */
const PREPARE_STREAM_MS = 10_000

export interface NodeStatus {
  network: NodeConfig['network']
  peerId: string
  address: string
  multiaddrs: string[]
  peers: number
  walrus: { aggregator: string, publisher?: string, embedded: boolean }
  ledger: { url?: string, kind: string, embedded: boolean }
  cache: { blobs: number, bytes: number, quotaBytes: number, pinned: number, partials: number, openHandles: number, evictions: number, downloads: Array<{ blobId: string, size: number, held: number, chunks: number }>, recent: Array<{ blobId: string, size: number, pinned: boolean, hits: number, addedAt: number, lastAccessAt: number }> }
  fetch: { localHits: number, peerHits: number, walrusHits: number, bytesFromPeers: number, bytesFromWalrus: number, badChunks: number, active: string[] }
  /** Chunk uploads to peers; `paceBytesPerSec` is mesh.uploadBytesPerSec (0: none), `paceWaitSeconds` how long uploads have waited on it. */
  serve: { requests: number, chunksServed: number, bytesServed: number, refused: number, watching: number, paceBytesPerSec: number, paceWaitSeconds: number }
  gossip: { published: number, received: number, rejected: number, ignored: number, knownBlobs: number, digests: number }
  inference: { runs: number, forwarded: number, fetched: number, failed: number, busy: number, queue: number, sessions: number, sessionBytes: number, sessionLoads: number, warm: string[] }
  /** What the node can pay with, and the writes waiting for funds. */
  funds: FundsStatus
  /** What the node keeps alive on Walrus: blobs renewed, failing, near their end, lost. */
  storage: StorageStatus
  proofs: { enabled: boolean, queued: number, queuedBytes: number, limit: number, sealed: number, bundles: number, retrying: boolean, lastError?: string, lastSealAt?: number, nextSealAt?: number, bundleBudget: number, writing: number, writesAtOnce: number, refused: number, lastRefusal?: string, setAside: number }
  penalizedPeers: Array<{ peerId: string, score: number, badChunks: number, failures: number, banned: boolean, reason?: string }>
}


export interface HerdNodeInit {
  /** Replaces the Walrus and ledger clients built from the config (a test's stand-in for an unfunded wallet, say); `onPaid` records in the node's payment log. */
  services?: (built: NodeServices, context: { onPaid: OnPaid }) => NodeServices
}

interface Embedded {
  walrus?: LocalWalrus
  ledgerStore?: ChainStore
  ledgerServer?: LedgerServer
}

/**
 * A herd node: the cache, the libp2p mesh (announcements, blob exchange,
 * fetcher) and the clients of Walrus and the ledger, built from one config
 * and started and stopped in order.
 */
export class HerdNode {
  readonly config: NodeConfig
  readonly metrics = new Registry()
  /** Peers, downloads, sessions, bundles and warnings as they happen (`'event'`), and the durations the parts measure (`'timing'`): docs/architecture.md. */
  readonly events = new NodeEventFeed()
  private readonly onTiming = (timing: NodeTiming): void => { this.events.timing(timing) }
  private readonly embedded: Embedded = {}
  /** cache.requestLog: flushed on stop, so the records of the last requests are not lost. */
  private requestLog?: RequestLog
  private parts?: {
    key: Ed25519Keypair
    libp2p: MeshLibp2p
    knownPeers: KnownPeers
    /** Ends the redial of known peers after a start. */
    redial: AbortController
    cache: BlobCache
    walrus: NetworkWalrusStore
    ledger: Ledger
    registry: ModelRegistry
    funds: FundsMonitor
    providers: ProviderIndex
    scores: PeerScores
    announcer: CacheAnnouncer
    server: BlobServer
    fetcher: Fetcher
    runner: WorkerRunner
    inference: InferenceService
    inferServer: InferServer
    inferClient: InferClient
    receipts: ReceiptStore
    batcher: Batcher
    proofs: ProofService
    tracker: StorageTracker
    keeper: StorageKeeper
  }

  private readonly background = new Set<Promise<unknown>>()
  private payments?: PaymentLog

  private readonly init: HerdNodeInit

  constructor (config: NodeConfig, init: HerdNodeInit = {}) {
    this.config = config
    this.init = init
  }

  private get started (): NonNullable<HerdNode['parts']> {
    if (this.parts == null) throw new Error('the node is not started')
    return this.parts
  }

  get libp2p (): MeshLibp2p { return this.started.libp2p }
  get cache (): BlobCache { return this.started.cache }
  get fetcher (): Fetcher { return this.started.fetcher }
  get ledger (): Ledger { return this.started.ledger }
  get registry (): ModelRegistry { return this.started.registry }
  get walrus (): NetworkWalrusStore { return this.started.walrus }
  get scores (): PeerScores { return this.started.scores }
  get providers (): ProviderIndex { return this.started.providers }
  get peerId (): PeerId { return this.started.libp2p.peerId }
  get key (): Ed25519Keypair { return this.started.key }
  get inference (): InferenceService { return this.started.inference }
  get runner (): WorkerRunner { return this.started.runner }
  get inferClient (): InferClient { return this.started.inferClient }
  get proofs (): ProofService { return this.started.proofs }
  get batcher (): Batcher { return this.started.batcher }

  async start (): Promise<void> {
    if (this.parts != null) return
    const { config } = this
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 })
    const key = await loadOrCreateNodeKey(config.dataDir)
    // One Ed25519 key is both the Sui address and the peer ID, so proofs signed in the mesh tie to on-chain anchors.
    const privateKey = await generateKeyPairFromSeed('Ed25519', decodeSuiPrivateKey(key.getSecretKey()).secretKey)
    try {
      // What the node key pays, kept across restarts; told to /status as it is written.
      const payments = new PaymentLog(join(config.dataDir, 'payments'), { onWritten: (network, totals) => { if (network === config.network) funds.paidChanged(totals) } })
      this.payments = payments
      const onPaid: OnPaid = payment => { payments.add(config.network, payment) }
      const built = await buildServices(config, key, config.network === 'devnet' ? await this.startEmbedded(key) : undefined, { onPaid })
      const { walrus, ledger } = this.init.services?.(built, { onPaid }) ?? built
      const registry = new ModelRegistry({ ledger })
      const funds = new FundsMonitor({
        address: key.toSuiAddress(),
        network: config.network,
        ...(built.balances != null ? { balances: built.balances } : {}),
        paid: async ({ signal }) => (await payments.totals({ signal }))[config.network] ?? NO_PAYMENTS,
        blocked: () => { const blocked = this.parts?.batcher.stats().blocked; return blocked != null ? [blocked] : [] }
      })
      const cache = new BlobCache({ dir: join(config.dataDir, 'cache'), quotaBytes: config.cache.quotaBytes, policy: config.cache.policy, roomWaitMs: config.cache.roomWaitMs, newBlobGraceMs: config.cache.newBlobGraceMs })
      await cache.start()
      // Cleared once the cache's index is open, so the data dir is this process's: tmp holds only what a process was in the middle of (a relayed blob), which a crash leaves behind.
      await rm(join(config.dataDir, 'tmp'), { recursive: true, force: true })
      const knownPeers = new KnownPeers(join(config.dataDir, 'peers'))
      await knownPeers.open()
      const libp2p = await createMeshLibp2p({
        privateKey,
        listen: config.listen,
        bootstrap: config.bootstrap,
        privateNetwork: config.mesh.privateNetwork,
        allow: config.mesh.allow,
        metricsRegistry: this.metrics
      })
      const selfId = libp2p.peerId.toString()
      const providers = new ProviderIndex({ ttlMs: config.mesh.providerTtlMs })
      const scores = new PeerScores()
      const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => libp2p.dialProtocol(peer, protocol, options) })
      const server = new BlobServer({ registrar: libp2pRegistrar(libp2p), source: { ...cacheChunkSource(cache), fetching: (blobId): boolean => announcer.isFetching(blobId) }, scores }, config.mesh.uploadBytesPerSec != null ? { uploadBytesPerSec: config.mesh.uploadBytesPerSec } : {})
      let fetcher: Fetcher | undefined
      // When each download in progress began, for the speed its finished event reports.
      const downloadsStarted = new Map<string, number>()
      this.requestLog = config.cache.requestLog.enabled ? new RequestLog({ path: join(config.dataDir, 'cache', 'requests.jsonl'), maxBytes: config.cache.requestLog.maxBytes }) : undefined
      const requestRecorder = this.requestLog != null ? new RequestRecorder(this.requestLog) : undefined
      let inference: InferenceService | undefined
      const runner = new WorkerRunner({
        workers: config.inference.concurrency,
        memoryBudgetBytes: config.inference.memoryBudgetBytes,
        maxRunBytes: config.inference.maxRunBytes,
        intraOpNumThreads: config.inference.intraOpNumThreads,
        graphOptimizationLevel: config.inference.graphOptimizationLevel,
        inlineMaxRunMs: config.inference.inlineMaxRunMs
      })
      const announcedAddresses = new AnnouncedAddresses({
        peerStore: libp2p.peerStore,
        connections: peer => libp2p.getConnections(peer).length
      }, { privateNetwork: config.mesh.privateNetwork })
      const announcer = new CacheAnnouncer({
        pubsub: libp2p.services.pubsub,
        peerId: libp2p.peerId,
        providers,
        scores,
        ownAddresses: () => ownAnnouncedAddresses(libp2p.getMultiaddrs()),
        learnAddresses: (peer, addresses) => { announcedAddresses.learn(peer, addresses) },
        heldBlobIds: () => cache.entries().map(e => e.blobId),
        load: () => ({ downloads: fetcher?.active().length ?? 0, uploads: server.stats.uploads, inferQueue: inference?.load ?? 0, sessionsWarm: runner.stats().sessions, warm: runner.warmBlobIds().map(id => parseBlobId(id)) })
      }, { digestIntervalMs: config.mesh.digestIntervalMs })
      fetcher = new Fetcher({
        selfId,
        cache,
        client,
        providers,
        scores,
        walrus,
        registry,
        announceFetching: (blobId, since) => { announcer.fetching(blobId, since) },
        announceStopped: blobId => {
          if (!cache.has(blobId)) announcer.dropped(blobId)
          downloadsStarted.delete(blobId)
          this.events.emit({ type: 'download:stopped', blobId })
        },
        withdrawFetching: blobId => { if (!cache.has(blobId)) announcer.dropped(blobId) },
        findProviders: (blobId, options) => this.findProviders(blobId, options),
        meshPeers: () => libp2p.services.pubsub.getSubscribers(CACHE_TOPIC).length,
        gossipDelayMs: () => announcer.gossipDelayMs(),
        onTiming: this.onTiming,
        ...(requestRecorder != null ? { requestRecorder } : {})
      }, { tuning: config.fetch })
      if (requestRecorder != null) fetcher.addEventListener('progress', event => { requestRecorder.done((event as CustomEvent).detail) })
      const receipts = new ReceiptStore({ dir: join(config.dataDir, 'proofs'), maxQueued: config.proofs.maxQueued, onTiming: this.onTiming, durability: config.proofs.durability, syncIntervalMs: config.proofs.syncIntervalMs, maxUnsynced: config.proofs.maxUnsynced })
      await receipts.start()
      const tracker = new StorageTracker(join(config.dataDir, 'storage'))
      await tracker.open()
      const address = key.toSuiAddress()
      // The keeper extends through this, so each extension paid is a line for the operator.
      const keeperWalrus: Pick<WalrusStore, 'epoch' | 'lifetime' | 'extend'> = {
        epoch: async options => walrus.epoch(options),
        lifetime: async (blobId, options) => walrus.lifetime(blobId, options),
        extend: async (request, options) => {
          const result = await walrus.extend(request, options)
          this.events.emit({ type: 'storage:renewed', blobId: request.blobId, fromEpoch: request.currentEndEpoch, toEpoch: result.endEpoch, ...(result.cost != null ? { cost: result.cost } : {}) })
          return result
        }
      }
      const keeper = new StorageKeeper({
        tracker,
        walrus: keeperWalrus,
        address,
        ownModels: async options => (await ledger.listModels(options))
          .filter(m => m.registeredBy === address && m.chunkHashesBlobId !== '')
          .map(m => ({ blobId: m.blobId, size: m.size, chunkHashesBlobId: m.chunkHashesBlobId, name: m.name, version: m.version, ...(m.blobObjectId != null ? { blobObjectId: m.blobObjectId } : {}) })),
        pinned: () => cache.entries().filter(e => e.pinned).map(e => ({ blobId: e.blobId, size: e.size })),
        registryEntry: async (blobId, options) => {
          const entry = await registry.model(blobId, options).catch(() => undefined)
          if (entry?.blobId !== blobId) return undefined
          return { ...(entry.chunkHashesBlobId !== '' ? { chunkHashesBlobId: entry.chunkHashesBlobId } : {}), ...(entry.blobObjectId != null ? { blobObjectId: entry.blobObjectId } : {}) }
        },
        // A renewal waiting for WAL or SUI is told once, as the batcher's writes are.
        onFailure: err => { if (funds.failed(err)) this.events.emit({ type: 'funds:blocked', address, error: err.message }) },
        onPaid: () => { funds.paid() },
        onWarning: warning => { this.events.emit({ type: 'storage:warning', ...warning }) }
      }, config.storage)
      // A bundle is tracked as soon as Walrus holds it, with what its write bought: with short epochs it may end before its anchor lands.
      const bundleWalrus: Pick<WalrusStore, 'putBytes'> = {
        putBytes: async (bytes, options) => {
          const stored = await walrus.putBytes(bytes, { ...options, epochs: keeper.epochsToBuy(options?.epochs ?? walrus.epochs) })
          await keeper.track(stored.blobId, 'bundle', {
            holds: 'a proof bundle, anchor pending',
            ...(stored.endEpoch != null ? { endEpoch: stored.endEpoch } : {}),
            ...(stored.size != null ? { size: stored.size } : {}),
            // A newly created Blob object went to the node's address (sent there by the publisher, or made by the SDK with the node key).
            ...(stored.objectId != null && stored.status === 'newlyCreated' ? { objectId: stored.objectId, owner: address } : {})
          })
          return stored
        }
      }
      const batcher = new Batcher({ store: receipts, walrus: bundleWalrus, ledger, onTiming: this.onTiming }, {
        batchSize: config.proofs.batchSize,
        intervalMs: config.proofs.intervalMs,
        includeTensors: config.proofs.includeTensors,
        retainSealedMs: config.proofs.retainSealedMs,
        maxBundleBytes: bundleByteBudget(config),
        concurrentWrites: bundleWritesAtOnce(config)
      })
      batcher.addEventListener('error', event => {
        const err = (event as CustomEvent<Error>).detail
        if (funds.failed(err)) this.events.emit({ type: 'funds:blocked', address: key.toSuiAddress(), error: err.message })
        else if (!FundsMonitor.isWantOfFunds(err)) this.events.emit({ type: 'proofs:failed', error: `${err.name}: ${err.message}` })
      })
      batcher.addEventListener('sealed', event => {
        funds.paid()
        const sealed = (event as CustomEvent<SealedBundle>).detail
        this.events.emit({ type: 'bundle:anchored', bundleBlobId: sealed.bundleBlobId, receipts: sealed.count })
      })
      batcher.addEventListener('refused', event => {
        const refused = (event as CustomEvent<RefusedBundle>).detail
        this.events.emit({ type: 'bundle:refused', receipts: refused.count, status: refused.status, reason: refused.reason, setAside: refused.setAside })
      })
      batcher.addEventListener('sealed', event => {
        const { bundleBlobId, root, count } = (event as CustomEvent<SealedBundle>).detail
        this.inBackground(keeper.track(bundleBlobId, 'bundle', { holds: `the proof bundle of ${count} receipts with root ${root}` })
          .catch(err => { log.error('could not track proof bundle %s - %e', bundleBlobId, err) }))
      })
      const proofs = new ProofService({ signer: key, store: receipts, batcher }, { includeTensors: config.proofs.includeTensors, maxBundleBytes: bundleByteBudget(config) })
      const inferClient = new InferClient({ dialProtocol: async (peer, protocol, options) => libp2p.dialProtocol(peer, protocol, options) })
      const peerIds = new PeerIdMemo()
      const holders = new MeshHolders({
        peerIds,
        providers,
        scores,
        connections: peerId => libp2p.getConnections(peerId),
        ping: async (peerId, options) => libp2p.services.ping.ping(peerId, options)
      })
      inference = new InferenceService({
        selfId,
        runner,
        registry,
        blobs: fetcher,
        mesh: holders,
        ...(config.proofs.enabled ? { issueReceipt: async run => proofs.issue(run), prepareReceipt: inputs => proofs.prepareInputs(inputs) } : {}),
        forward: async (peerId, input, options) => inferClient.infer(peerIds.get(peerId), input, options),
        onTiming: this.onTiming
      }, {
        concurrency: config.inference.concurrency,
        queueDepth: config.inference.queueDepth,
        defaultDeadlineMs: config.inference.defaultDeadlineMs,
        maxHops: config.inference.maxHops,
        peerFetchBytesPerSec: config.inference.peerFetchBytesPerSec,
        walrusFetchBytesPerSec: config.inference.walrusFetchBytesPerSec
      })
      const inferServer = new InferServer({ registrar: libp2pRegistrar(libp2p), service: inference })
      const redial = new AbortController()
      this.parts = { key, libp2p, knownPeers, redial, cache, walrus, ledger, registry, funds, providers, scores, announcer, server, fetcher, runner, inference, inferServer, inferClient, receipts, batcher, proofs, tracker, keeper }

      cache.addEventListener('added', event => {
        const blobId = event.detail.blobId
        announcer.added(blobId)
        if (config.mesh.dhtProvide) this.inBackground(this.provide(blobId))
        if (config.inference.warmOnCache) this.inBackground(this.warm(blobId))
      })
      cache.addEventListener('removed', event => {
        announcer.dropped(event.detail.blobId)
        this.inBackground(runner.drop(event.detail.blobId))
        this.events.emit({ type: 'cache:removed', blobId: event.detail.blobId, reason: event.detail.reason })
      })
      libp2p.addEventListener('peer:connect', event => { this.events.emit({ type: 'peer:joined', peerId: event.detail.toString() }) })
      // A herd peer is kept with the addresses it announced, to be dialed again after a restart.
      libp2p.addEventListener('peer:identify', event => {
        if (!event.detail.protocols.includes(BLOB_PROTOCOL)) return
        this.inBackground(knownPeers.remember(event.detail.peerId.toString(), dialableAddresses(event.detail.listenAddrs, config.mesh.privateNetwork))
          .catch(err => { log.error('could not keep known peer %p - %e', event.detail.peerId, err) }))
      })
      // A stream to each peer that serves inference, open before the first request to it needs one.
      libp2p.addEventListener('peer:identify', event => {
        if (!event.detail.protocols.includes(INFER_PROTOCOL)) return
        this.inBackground(inferClient.prepare(event.detail.peerId, { signal: AbortSignal.timeout(PREPARE_STREAM_MS) })
          .catch(err => { log('no inference stream opened ahead to %p - %e', event.detail.peerId, err) }))
      })
      libp2p.addEventListener('peer:disconnect', event => {
        announcer.forgetPeer(event.detail.toString())
        this.events.emit({ type: 'peer:left', peerId: event.detail.toString() })
      })
      fetcher.addEventListener('progress', event => {
        const progress = (event as CustomEvent<FetchProgress>).detail
        if (progress.type === 'fetch:start') {
          downloadsStarted.set(progress.blobId, Date.now())
          this.events.emit({ type: 'download:started', blobId: progress.blobId, size: progress.size, chunks: progress.chunks, held: progress.held })
        } else if (progress.type === 'fetch:done') {
          const ms = Date.now() - (downloadsStarted.get(progress.blobId) ?? Date.now())
          downloadsStarted.delete(progress.blobId)
          this.events.emit({ type: 'download:finished', blobId: progress.blobId, size: progress.size, bytesFromPeers: progress.bytesFromPeers, bytesFromWalrus: progress.bytesFromWalrus, peers: progress.peers.length, ms })
        }
      })

      await libp2p.start()
      await server.start()
      proofs.start()
      batcher.start()
      funds.start()
      keeper.start()
      await inferServer.start()
      announcer.start()
      fetcher.start()
      if (config.inference.startThreads) runner.startThreads()
      if (config.mesh.redialKnownPeers > 0) {
        this.inBackground(redialKnownPeers(knownPeers.all(), {
          dial: async (addresses, options) => libp2p.dial(addresses, options),
          isConnected: peerId => libp2p.getConnections(peerIdFromString(peerId)).length > 0
        }, { max: config.mesh.redialKnownPeers, signal: redial.signal }))
      }
      log('started %p, listening on %s', libp2p.peerId, libp2p.getMultiaddrs().map(a => a.toString()).join(' '))
    } catch (err) {
      await this.stop()
      throw err
    }
  }

  /** Stops in the reverse order of start: downloads stay resumable, the index is flushed, the embedded services close last. */
  async stop (): Promise<void> {
    const parts = this.parts
    this.parts = undefined
    if (parts != null) {
      parts.redial.abort()
      await parts.fetcher.stop()
      await this.requestLog?.flush().catch(err => { log.error('flushing the request log - %e', err) })
      this.requestLog = undefined
      await parts.announcer.stop()
      // Our kept streams first: a peer stopping at the same time is not left waiting on them.
      await parts.inferClient.close()
      await parts.inferServer.stop().catch(err => { log.error('stopping the inference server - %e', err) })
      await parts.server.stop().catch(err => { log.error('stopping the blob server - %e', err) })
      await Promise.allSettled([...this.background])
      await parts.libp2p.stop()
      await parts.knownPeers.close()
      await parts.runner.stop()
      // The writes of receipts already answered (logged durability) reach the store, and the batcher hears of them.
      await parts.proofs.stop()
      await parts.batcher.stop()
      await parts.keeper.stop()
      await parts.tracker.close()
      await this.payments?.flush()
      await parts.funds.stop()
      await parts.receipts.stop()
      await parts.cache.stop()
      await parts.walrus.close()
      await parts.ledger.close()
    }
    await this.embedded.ledgerServer?.stop()
    await this.embedded.ledgerStore?.close()
    await this.embedded.walrus?.stop()
    this.embedded.ledgerServer = undefined
    this.embedded.ledgerStore = undefined
    this.embedded.walrus = undefined
  }

  /** On the devnet, the local Walrus and ledger the config does not point elsewhere, started in the data dir. */
  private async startEmbedded (key: Ed25519Keypair): Promise<{ walrusUrl: string, ledger: () => Ledger }> {
    const { config } = this
    let walrusUrl = ''
    if (config.walrus == null) {
      const walrus = new LocalWalrus({ dir: join(config.dataDir, 'walrus'), port: config.embedded.walrusPort, nShards: config.embedded.nShards, epochMs: config.embedded.walrusEpochMs })
      this.embedded.walrus = walrus
      await walrus.start()
      walrusUrl = walrus.url
    }
    let local: LocalLedger | undefined
    if (config.ledger == null) {
      const store = new ChainStore(join(config.dataDir, 'ledger'))
      await store.open()
      this.embedded.ledgerStore = store
      const server = new LedgerServer({ store, port: config.embedded.ledgerPort })
      this.embedded.ledgerServer = server
      await server.start()
      local = new LocalLedger(store, key)
    }
    return {
      walrusUrl,
      ledger: () => {
        if (local == null) throw new Error('no embedded ledger was started')
        return local
      }
    }
  }

  private async warm (blobId: BlobId): Promise<void> {
    try {
      const entry = await this.registry.model(blobId)
      if (entry.format !== 'onnx') return
      const handle = await this.cache.open(blobId)
      if (handle == null) return
      try {
        await this.runner.warm(blobId, handle.path)
        this.events.emit({ type: 'model:loaded', blobId })
      } finally {
        handle.release()
      }
    } catch (err) {
      log('warming a session for %s failed - %e', blobId, err)
    }
  }

  private async * findProviders (blobId: BlobId, options: { signal: AbortSignal }): AsyncIterable<PeerId> {
    for await (const provider of this.libp2p.contentRouting.findProviders(blobIdToCid(blobId), options)) yield provider.id
  }

  private async provide (blobId: BlobId): Promise<void> {
    try {
      await this.libp2p.contentRouting.provide(blobIdToCid(blobId), { signal: AbortSignal.timeout(DHT_PROVIDE_MS) })
    } catch (err) {
      // Expected on a small mesh: gossip is the first tier and still tells peers.
      log('DHT provide of %s did not finish - %e', blobId, err)
    }
  }

  private inBackground (work: Promise<unknown>): void {
    const tracked = work.finally(() => { this.background.delete(tracked) })
    this.background.add(tracked)
  }

  private proofStatus (): NodeStatus['proofs'] {
    const { receipts, batcher, proofs } = this.started
    const queued = receipts.queued()
    // Receipts answered and not yet written are queued too: a status read between a reply and its write behind said 0.
    const unwritten = proofs.unwrittenStats()
    const stats = batcher.stats()
    return {
      enabled: this.config.proofs.enabled,
      queued: queued.count + unwritten.count,
      queuedBytes: queued.bytes + unwritten.bytes,
      limit: queued.limit,
      sealed: stats.sealed,
      bundles: stats.bundles,
      retrying: stats.retrying,
      ...(stats.lastError != null ? { lastError: stats.lastError } : {}),
      ...(stats.lastSealAt != null ? { lastSealAt: stats.lastSealAt } : {}),
      ...(stats.nextSealAt != null ? { nextSealAt: stats.nextSealAt } : {}),
      bundleBudget: stats.bundleBudget,
      writing: stats.writing,
      writesAtOnce: stats.writesAtOnce,
      refused: stats.refused,
      ...(stats.lastRefusal != null ? { lastRefusal: stats.lastRefusal } : {}),
      setAside: queued.setAside
    }
  }

  private ledgerUrl (): string | undefined {
    return this.embedded.ledgerServer?.url ?? this.config.ledger ?? this.config.sui?.url
  }

  /** Every blob the node keeps on Walrus, for `herd storage status`. */
  storageBlobs (): ListedBlob[] {
    return this.started.keeper.list()
  }

  multiaddrs (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  status (): NodeStatus {
    const { libp2p, cache, fetcher, server, announcer, providers, scores, walrus, ledger, inference, runner, funds } = this.started
    const sessions = runner.stats()
    const stats = cache.stats()
    const known = providers.stats()
    const pace = server.pace()
    return {
      network: this.config.network,
      peerId: libp2p.peerId.toString(),
      address: this.started.key.toSuiAddress(),
      multiaddrs: this.multiaddrs(),
      peers: libp2p.getPeers().length,
      walrus: { aggregator: walrus.aggregator?.toString() ?? '', ...(walrus.publisher != null ? { publisher: walrus.publisher.toString() } : {}), embedded: this.embedded.walrus != null },
      ledger: { kind: ledger.kind, embedded: this.embedded.ledgerServer != null, ...(this.ledgerUrl() != null ? { url: this.ledgerUrl() } : {}) },
      cache: { blobs: stats.blobs, bytes: stats.bytes, quotaBytes: stats.quotaBytes, pinned: stats.pinned, partials: stats.partials, openHandles: stats.openHandles, evictions: stats.evictions, downloads: cache.partials(), recent: recentBlobs(cache) },
      fetch: { ...fetcher.counters, active: fetcher.active() },
      serve: { requests: server.stats.requests, chunksServed: server.stats.chunksServed, bytesServed: server.stats.bytesServed, refused: server.stats.refused, watching: server.stats.watching, paceBytesPerSec: pace.bytesPerSec, paceWaitSeconds: pace.waitedSeconds },
      gossip: { ...announcer.stats, knownBlobs: known.blobs, digests: known.digests },
      inference: { ...inference.stats, queue: inference.load, sessions: sessions.sessions, sessionBytes: sessions.estimatedBytes, sessionLoads: sessions.loads, warm: runner.warmBlobIds() },
      funds: funds.status(),
      storage: this.started.keeper.status(),
      proofs: this.proofStatus(),
      penalizedPeers: scores.penalized().map(s => ({ peerId: s.peerId, score: s.score, badChunks: s.badChunks, failures: s.failures, banned: scores.isBanned(s.peerId), ...(s.lastReason != null ? { reason: s.lastReason } : {}) }))
    }
  }
}

function recentBlobs (cache: BlobCache): NodeStatus['cache']['recent'] {
  return cache.entries().sort((a, b) => b.lastAccessAt - a.lastAccessAt).slice(0, STATUS_RECENT_BLOBS)
    .map(e => ({ blobId: e.blobId, size: e.size, pinned: e.pinned, hits: e.hits, addedAt: e.addedAt, lastAccessAt: e.lastAccessAt }))
}

function libp2pRegistrar (libp2p: MeshLibp2p): ConstructorParameters<typeof BlobServer>[0]['registrar'] {
  return {
    handle: async (protocol, handler, options) => { await libp2p.handle(protocol, handler, options) },
    unhandle: async protocol => { await libp2p.unhandle(protocol) }
  }
}
