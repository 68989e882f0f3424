import type { BlobId } from '../blob/blob-id.js'

/** What the registry says about a blob: enough to check every chunk without trusting whoever sends it. */
export interface BlobDescription {
  blobId: BlobId
  size: number
  chunkSize: number
  /** 64 hex digits. */
  chunkRoot: string
  chunkHashesBlobId: BlobId
}

/** Where the fetcher learns what a blob's chunks must hash to (the chain's ModelRegistry). */
export interface BlobRegistry {
  /** Throws UnregisteredBlobError when the blob has no entry. */
  describe: (blobId: BlobId, options: { signal: AbortSignal }) => Promise<BlobDescription>
}

export type ChunkSourceKind = 'peer' | 'walrus'

/**
 * A fetch as it happens, one union for every reader (the node's event feed,
 * the API's NDJSON stream, the CLI's bar). `fetch:done` carries the totals:
 * `source` is `local` when the blob was already cached (no bytes moved).
 */
export type FetchProgress =
  | { type: 'fetch:start', blobId: BlobId, size: number, chunks: number, held: number }
  | { type: 'fetch:chunk', blobId: BlobId, index: number, bytes: number, received: number, total: number, source: ChunkSourceKind, peerId?: string, bytesFromPeers: number, bytesFromWalrus: number }
  | { type: 'fetch:bad-chunk', blobId: BlobId, index: number, peerId: string, reason: string }
  | { type: 'fetch:done', blobId: BlobId, size: number, source: 'local' | 'fetched', bytesFromPeers: number, bytesFromWalrus: number, peers: string[] }

export interface FetchCounters {
  localHits: number
  peerHits: number
  walrusHits: number
  bytesFromPeers: number
  bytesFromWalrus: number
  badChunks: number
}
