/** A blob ID string or number that is not a Walrus blob ID. */
export class InvalidBlobIdError extends Error {
  override readonly name = 'InvalidBlobIdError'
}

/** A chunk, chunk tree or inclusion proof that does not match what it claims. */
export class ChunkVerificationError extends Error {
  override readonly name = 'ChunkVerificationError'
}

/** Arguments to a blob-layer function that are out of range. */
export class InvalidArgumentError extends Error {
  override readonly name = 'InvalidArgumentError'
}

/** The encoder worker failed or was stopped before it answered. */
export class EncoderError extends Error {
  override readonly name = 'EncoderError'
}

/** The blob has no registry entry, so its chunks cannot be checked against a registered root. */
export class UnregisteredBlobError extends Error {
  override readonly name = 'UnregisteredBlobError'
}
