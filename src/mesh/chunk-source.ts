import type { BlobId } from '../blob/blob-id.js'

/** One blob as the blob server sees it: complete, or a download in progress with some chunks held. */
export interface ServedBlob {
  readonly size: number
  readonly chunkSize: number
  readonly chunkCount: number
  readonly complete: boolean
  readonly leaves: Uint8Array[]
  has: (index: number) => boolean
  /** Bit i, most significant bit first, set when chunk i is held. */
  bitfield: () => Uint8Array
  /** Chunks held now: a WATCH sends the bitfield again when this changes. */
  held: () => number
  /** Whether the download is still this node's (always, for a complete blob): a WATCH of one let go ends. */
  active: () => boolean
  /** Read into `into` when given (at least chunkSize bytes) and the source can; else into a buffer of its own. */
  readChunk: (index: number, into?: Uint8Array) => Promise<Uint8Array>
  release: () => void
}

/** What the node can serve on /herd/blob/1.0.0. */
export interface ChunkSource {
  open: (blobId: BlobId) => Promise<ServedBlob | undefined>
  /**
   * Whether this node has told the mesh it is fetching the blob: a download
   * that may not have made its partial yet (it reads the chunk hashes first).
   * A HAVE or WATCH of such a blob waits for the partial rather than
   * answering NOT_FOUND, which rested and scored down an honest reader.
   */
  fetching?: (blobId: BlobId) => boolean
}
