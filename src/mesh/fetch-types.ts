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

export type ChunkSourceKind = 'peer' | 'walrus'

export type FetchProgress =
  | { type: 'fetch:start', blobId: BlobId, size: number, chunks: number, held: number }
  | { type: 'fetch:chunk', blobId: BlobId, index: number, bytes: number, received: number, total: number, source: ChunkSourceKind, peerId?: string }
  | { type: 'fetch:bad-chunk', blobId: BlobId, index: number, peerId: string, reason: string }
  | { type: 'fetch:done', blobId: BlobId, size: number, bytesFromPeers: number, bytesFromWalrus: number, peers: string[] }

export interface FetchCounters {
  localHits: number
  peerHits: number
  walrusHits: number
  bytesFromPeers: number
  bytesFromWalrus: number
  badChunks: number
}
