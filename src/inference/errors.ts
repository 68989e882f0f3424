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
