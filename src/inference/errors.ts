/** A tensor that cannot be read: unknown type, bad dims, a value its type cannot hold, truncated bytes. */
export class TensorFormatError extends Error {
  override readonly name: string = 'TensorFormatError'
  /** The tensor's name, as the caller gave it. */
  readonly tensor: string

  constructor (tensor: string, message: string) {
    super(message)
    this.tensor = tensor
  }
}

/** A tensor, or a set of tensors, over the element, byte or count limits. */
export class TensorTooLargeError extends TensorFormatError {
  override readonly name = 'TensorTooLargeError'
}

/** Inputs that do not fit the model's signature: names, types, ranks or fixed dimensions. */
export class InputMismatchError extends Error {
  override readonly name = 'InputMismatchError'
  /** The first input that does not fit. */
  readonly input: string
  /** Every mismatch found, one sentence each. */
  readonly problems: string[]

  constructor (input: string, problems: string[]) {
    super(problems.join('; '))
    this.input = input
    this.problems = problems
  }
}

/** Inputs the model would accept, but whose run would need more memory than a run may use here. */
export class RunTooLargeError extends Error {
  override readonly name = 'RunTooLargeError'
  /** What the run was estimated to need, in bytes. */
  readonly estimatedBytes: number
  /** The node's limit per run (`inference.maxRunBytes`). */
  readonly maxBytes: number

  constructor (estimatedBytes: number, maxBytes: number, message: string) {
    super(message)
    this.estimatedBytes = estimatedBytes
    this.maxBytes = maxBytes
  }
}
