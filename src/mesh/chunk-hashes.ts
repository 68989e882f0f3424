import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { setTimeout as sleep } from 'node:timers/promises'
import { chunkCount, decodeChunkHashes, HASH_BYTES, hashFromHex } from '../blob/chunk-tree.js'
import type { WalrusStore } from '../walrus/types.js'
import type { BlobClient } from './blob-client.js'
import type { BlobDescription } from './fetch-types.js'
import type { PeerScores } from './peer-scores.js'
import type { Provider } from './provider-index.js'

const log = logger('herd:mesh:chunk-hashes')

/** Peers asked for a blob's chunk hashes before Walrus alone is left. */
const MAX_PEERS_ASKED = 3

export interface ChunkHashSources {
  providers: Provider[]
  scores: PeerScores
  client: Pick<BlobClient, 'hashes'>
  walrus: Pick<WalrusStore, 'readRange'>
  /** Bytes read from Walrus for the hashes, and how long the read took (a small read: Walrus's latency). */
  onWalrusBytes: (bytes: number, ms: number) => void
}

/**
 * A blob's chunk hashes, checked against its registered root: the root
 * itself for a blob of one chunk; otherwise from a peer
 * that has them, and from Walrus too when no peer has answered within
 * `hedgeMs` (a busy peer can take a second; Walrus's latency is known), the
 * first valid answer winning. A peer whose hashes fail the check is scored
 * down.
 */
export async function fetchChunkHashes (sources: ChunkHashSources, description: BlobDescription, hedgeMs: number, signal: AbortSignal): Promise<Uint8Array[]> {
  // A one-chunk blob's root is its leaf (the tree carries a lone node up unchanged): asking a peer or Walrus for it cost a
  // round trip before the blob's own read, a Walrus latency on every cold one-chunk model.
  if (chunkCount(description.size, description.chunkSize) === 1) return decodeChunkHashes(hashFromHex(description.chunkRoot), description)
  const done = new AbortController()
  const both = AbortSignal.any([signal, done.signal])
  try {
    const fromPeers = hashesFromPeers(sources, description, hedgeMs / (MAX_PEERS_ASKED + 1), both)
    const early = await Promise.race([fromPeers, sleep(hedgeMs, undefined, { signal: both }).then(() => undefined)])
    if (early != null) return early
    const fromWalrus = hashesFromWalrus(sources, description, both)
    return await Promise.any([fromPeers.then(found => found ?? Promise.reject(new Error('no peer had the hashes'))), fromWalrus])
      .catch((err: unknown) => { throw err instanceof AggregateError ? err.errors.at(-1) : err })
  } finally {
    done.abort()
  }
}

/**
 * The first valid answer of up to MAX_PEERS_ASKED peers, asked one after
 * another `staggerMs` apart, or at once when the one before failed. Asked
 * strictly in turn, a peer that took the request and never answered (a liar,
 * or a peer gone silent) held the hashes until Walrus's hedge, the whole
 * download waiting behind it.
 */
async function hashesFromPeers (sources: ChunkHashSources, description: BlobDescription, staggerMs: number, signal: AbortSignal): Promise<Uint8Array[] | undefined> {
  const askable = sources.providers.slice(0, MAX_PEERS_ASKED).filter(provider => !sources.scores.isBanned(provider.peerId))
  const attempts: Array<Promise<Uint8Array[]>> = []
  let previousFailed: Promise<void> | undefined
  for (const [turn, provider] of askable.entries()) {
    const start = previousFailed == null ? Promise.resolve() : Promise.race([previousFailed, sleep(staggerMs * turn, undefined, { signal })])
    const attempt = start.then(async () => {
      signal.throwIfAborted()
      try {
        const reply = await sources.client.hashes(peerIdFromString(provider.peerId), description.blobId, { signal })
        return decodeChunkHashes(reply.hashes, description)
      } catch (err) {
        log('chunk hashes of %s from %s failed - %e', description.blobId, provider.peerId, err)
        if ((err as Error).name === 'ChunkVerificationError') sources.scores.badChunk(provider.peerId, `chunk hashes of ${description.blobId}: ${(err as Error).message}`)
        throw err
      }
    })
    // Settles only on failure: a success ends the race through Promise.any below.
    previousFailed = attempt.then(async () => new Promise<void>(() => {}), () => undefined)
    attempts.push(attempt)
  }
  if (attempts.length === 0) return undefined
  return Promise.any(attempts).catch(() => undefined)
}

async function hashesFromWalrus (sources: ChunkHashSources, description: BlobDescription, signal: AbortSignal): Promise<Uint8Array[]> {
  const bytes = HASH_BYTES * chunkCount(description.size, description.chunkSize)
  const startedAt = Date.now()
  const hashes = await sources.walrus.readRange(description.chunkHashesBlobId, { start: 0, end: bytes - 1 }, { signal })
  sources.onWalrusBytes(hashes.byteLength, Date.now() - startedAt)
  return decodeChunkHashes(hashes, description)
}
