import { logger } from '@libp2p/logger'
import { peerIdFromString } from '@libp2p/peer-id'
import { setTimeout as sleep } from 'node:timers/promises'
import { chunkCount, decodeChunkHashes, HASH_BYTES } from '../blob/chunk-tree.js'
import type { WalrusStore } from '../walrus/types.js'
import type { BlobClient } from './blob-client.js'
import type { BlobDescription } from './fetch-types.js'
import type { PeerScores } from './peer-scores.js'
import type { Provider } from './provider-index.js'

const log = logger('herd:mesh:chunk-hashes')

/** Peers asked for a blob's chunk hashes, in turn, before Walrus alone is left. */
const MAX_PEERS_ASKED = 3

export interface ChunkHashSources {
  providers: Provider[]
  scores: PeerScores
  client: Pick<BlobClient, 'hashes'>
  walrus: Pick<WalrusStore, 'readRange'>
  /** Bytes read from Walrus for the hashes. */
  onWalrusBytes: (bytes: number) => void
}

/**
 * A blob's chunk hashes, checked against its registered root: from a peer
 * that has them, and from Walrus too when no peer has answered within
 * `hedgeMs` (a busy peer can take a second; Walrus's latency is known), the
 * first valid answer winning. A peer whose hashes fail the check is scored
 * down.
 */
export async function fetchChunkHashes (sources: ChunkHashSources, description: BlobDescription, hedgeMs: number, signal: AbortSignal): Promise<Uint8Array[]> {
  const done = new AbortController()
  const both = AbortSignal.any([signal, done.signal])
  try {
    const fromPeers = hashesFromPeers(sources, description, both)
    const early = await Promise.race([fromPeers, sleep(hedgeMs, undefined, { signal: both }).then(() => undefined)])
    if (early != null) return early
    const fromWalrus = hashesFromWalrus(sources, description, both)
    return await Promise.any([fromPeers.then(found => found ?? Promise.reject(new Error('no peer had the hashes'))), fromWalrus])
      .catch((err: unknown) => { throw err instanceof AggregateError ? err.errors.at(-1) : err })
  } finally {
    done.abort()
  }
}

async function hashesFromPeers (sources: ChunkHashSources, description: BlobDescription, signal: AbortSignal): Promise<Uint8Array[] | undefined> {
  for (const provider of sources.providers.slice(0, MAX_PEERS_ASKED)) {
    if (sources.scores.isBanned(provider.peerId) || signal.aborted) continue
    try {
      const reply = await sources.client.hashes(peerIdFromString(provider.peerId), description.blobId, { signal })
      return decodeChunkHashes(reply.hashes, description)
    } catch (err) {
      log('chunk hashes of %s from %s failed - %e', description.blobId, provider.peerId, err)
      if ((err as Error).name === 'ChunkVerificationError') sources.scores.badChunk(provider.peerId, `chunk hashes of ${description.blobId}: ${(err as Error).message}`)
    }
  }
  return undefined
}

async function hashesFromWalrus (sources: ChunkHashSources, description: BlobDescription, signal: AbortSignal): Promise<Uint8Array[]> {
  const bytes = HASH_BYTES * chunkCount(description.size, description.chunkSize)
  const hashes = await sources.walrus.readRange(description.chunkHashesBlobId, { start: 0, end: bytes - 1 }, { signal })
  sources.onWalrusBytes(hashes.byteLength)
  return decodeChunkHashes(hashes, description)
}
