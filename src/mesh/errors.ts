/** A peer's message or stream broke the protocol: wrong shape, too large, out of range. */
export class MeshProtocolError extends Error {
  override readonly name = 'MeshProtocolError'
}

/** No peer and no Walrus read could supply the blob. */
export class BlobUnavailableError extends Error {
  override readonly name = 'BlobUnavailableError'
}

export { UnregisteredBlobError } from '../blob/errors.js'

/** The blob was fetched, then evicted before it could be opened, again and again: the cache is too small for the blobs in use. */
export class BlobEvictedError extends Error {
  override readonly name = 'BlobEvictedError'
}

/** A peer answered a blob request with a status other than OK. */
export class PeerRefusedError extends Error {
  override readonly name = 'PeerRefusedError'
  constructor (message: string, readonly status: string) {
    super(message)
  }
}

/** The known peers store (`DATA_DIR/peers`) cannot be opened or is not one. */
export class KnownPeersError extends Error {
  override readonly name = 'KnownPeersError'
}
