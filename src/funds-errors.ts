/**
 * The node's address cannot pay for a write: a Sui transaction's gas (the
 * ledger's, or a Walrus SDK write's) or Walrus storage. Both layers that pay
 * throw these, so the batcher, the funds monitor and the CLI know one class
 * per want; fund `address` on `network` and the write can go again.
 */
export class InsufficientFundsError extends Error {
  override name = 'InsufficientFundsError'
  readonly address: string
  readonly network: string

  constructor (message: string, address: string, network: string, options?: { cause?: unknown }) {
    super(message, options)
    this.address = address
    this.network = network
  }
}

/** No SUI (or too little) for the gas of a transaction: the ledger's writes and the Walrus SDK's register, certify and extend. */
export class InsufficientGasError extends InsufficientFundsError {
  override name = 'InsufficientGasError'

  constructor (address: string, network: string, detail?: string, options?: { cause?: unknown }) {
    super(`no SUI to pay gas for ${address} on Sui ${network}: send SUI to this address, then try again${detail != null ? ` (${detail})` : ''}`, address, network, options)
  }
}

/** Too little WAL to pay for storage. */
export class InsufficientWalError extends InsufficientFundsError {
  override name = 'InsufficientWalError'
  /** FROST (1 WAL = 10^9 FROST) the write needed, when the SDK said. */
  readonly needed?: bigint

  constructor (address: string, network: string, needed?: bigint, options?: { cause?: unknown }) {
    super(`not enough WAL for ${address} on Walrus ${network} to pay for storage${needed != null ? ` (needs ${needed} FROST)` : ''}: send WAL to this address, then write again`, address, network, options)
    if (needed != null) this.needed = needed
  }
}

const FUNDS_ERRORS = new Set(['InsufficientGasError', 'InsufficientWalError'])

/** Known by name, as errors are once they have crossed a process or been recorded as text. */
export function isWantOfFunds (err: unknown): err is InsufficientFundsError {
  return FUNDS_ERRORS.has((err as Error | undefined)?.name ?? '')
}
