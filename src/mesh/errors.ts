/** A peer's message or stream broke the protocol: wrong shape, too large, out of range. */
export class MeshProtocolError extends Error {
  override readonly name = 'MeshProtocolError'
}

/** No peer and no Walrus read could supply the blob. */
export class BlobUnavailableError extends Error {
  override readonly name = 'BlobUnavailableError'
}

/** The blob has no registry entry, so its chunks cannot be checked against a registered root. */
export class UnregisteredBlobError extends Error {
  override readonly name = 'UnregisteredBlobError'
}

/** A peer answered a blob request with a status other than OK. */
export class PeerRefusedError extends Error {
  override readonly name = 'PeerRefusedError'
  constructor (message: string, readonly status: string) {
    super(message)
  }
}
