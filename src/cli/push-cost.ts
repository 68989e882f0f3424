import { InsufficientGasError } from '../chain/errors.js'
import type { NodeConfig } from '../node-config.js'
import type { NodeServices } from '../node-services.js'
import { InsufficientWalError } from '../walrus/errors.js'
import { WalrusSdkStore } from '../walrus/sdk-store.js'

/**
 * Gas is not simulated before the transactions exist: an allowance per
 * transaction for a few Move calls plus the storage fee of a Blob object and
 * its metadata field (mostly rebated when deleted). See docs/networks.md.
 */
export const GAS_ESTIMATE_MIST_PER_TX = 10_000_000n

/** Sui transactions a model push signs: the registry attributes, and with the SDK a register and a certify per blob. */
export function pushTransactions (writeMode: 'publisher' | 'sdk', blobs: number): number {
  return writeMode === 'sdk' ? 1 + 2 * blobs : 1
}

/** 10^9 base units (MIST, FROST) to a decimal string of SUI or WAL. */
export function formatCoin (units: bigint): string {
  const whole = units / 1_000_000_000n
  const fraction = (units % 1_000_000_000n).toString().padStart(9, '0').replace(/0+$/, '')
  return fraction === '' ? whole.toString() : `${whole}.${fraction}`
}

export interface BlobCost {
  what: string
  size: number
  encodedSize: number
  /** FROST: storage for the epochs plus the write fee. */
  costFrost: bigint
}

/** The local Walrus's own estimate of the encoded size (5x plus per-shard metadata): the devnet charges nothing. */
function devnetEncodedSize (size: number, nShards: number): number {
  return Math.max(size, 1) * 5 + nShards * 64 * 2
}

/** What storing these blobs costs, from the network's own prices (Walrus's system object, through the SDK). */
export async function blobCosts (config: NodeConfig, blobs: Array<{ what: string, size: number }>, epochs: number, options: { signal?: AbortSignal } = {}): Promise<BlobCost[]> {
  if (config.network === 'devnet') return blobs.map(b => ({ ...b, encodedSize: devnetEncodedSize(b.size, config.embedded.nShards), costFrost: 0n }))
  options.signal?.throwIfAborted()
  const store = new WalrusSdkStore({ network: config.network, suiUrl: config.sui!.url })
  const costs: BlobCost[] = []
  for (const blob of blobs) {
    const cost = await store.storageCostOf(blob.size, epochs)
    costs.push({ ...blob, encodedSize: cost.encodedSize, costFrost: cost.storageCostWal + cost.writeCostWal })
  }
  return costs
}

/** A push on a network the node cannot pay on fails before anything is stored, naming the address to fund. */
export async function requireFunds (services: NodeServices, address: string, writeMode: 'publisher' | 'sdk'): Promise<void> {
  if (services.balances == null) return
  const { sui, wal } = await services.balances({ signal: AbortSignal.timeout(30_000) })
  if (sui === 0n) throw new InsufficientGasError(address, services.network)
  if (writeMode === 'sdk' && wal === 0n) throw new InsufficientWalError(address, services.network)
}
