/** onnxruntime cannot load the model file (not a model, an unsupported operator, a missing file); not cached: the next acquire retries. */
export class ModelLoadError extends Error {
  override readonly name = 'ModelLoadError'
  readonly blobId: string

  constructor (blobId: string, message: string, options?: ErrorOptions) {
    super(message, options)
    this.blobId = blobId
  }
}

/** The session pool was stopped: it hands out no more sessions. */
export class SessionPoolStoppedError extends Error {
  override readonly name = 'SessionPoolStoppedError'
}
