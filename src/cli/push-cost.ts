import type { Signer } from '@mysten/sui/cryptography'
import type { SuiGrpcClient } from '@mysten/sui/grpc'
import { InsufficientGasError } from '../chain/errors.js'
import { walrusWriteMode, type NodeConfig } from '../node-config.js'
import type { NodeServices } from '../node-services.js'
import { InsufficientWalError } from '../walrus/errors.js'
import { encodedBlobLength } from '../walrus/encoded-size.js'
import { WalrusSdkStore } from '../walrus/sdk-store.js'

/**
 * The gas of a transaction that cannot be simulated before the ones ahead of
 * it exist (a certification, the registry attributes): an allowance for a few
 * Move calls plus the storage fee of a Blob object and its metadata field
 * (mostly rebated when deleted). See docs/networks.md.
 */
export const GAS_ESTIMATE_MIST_PER_TX = 10_000_000n

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
  /** MIST the SDK's registration would use, simulated with the node key (SDK writes only, when it can be built). */
  registerGasMist?: bigint
}

/**
 * What storing these blobs costs, from the network's own prices (Walrus's
 * system object, through the SDK); on the devnet, Walrus's encoded size at the
 * devnet's shard count and no cost.
 */
export async function blobCosts (config: NodeConfig, blobs: Array<{ what: string, size: number }>, epochs: number, options: { signer?: Signer, suiClient?: SuiGrpcClient } = {}): Promise<BlobCost[]> {
  if (config.network === 'devnet') return blobs.map(b => ({ ...b, encodedSize: encodedBlobLength(b.size, config.embedded.nShards), costFrost: 0n }))
  const sdk = walrusWriteMode(config) === 'sdk'
  const store = new WalrusSdkStore({
    network: config.network,
    suiUrl: config.sui!.url,
    ...(sdk && options.signer != null ? { signer: options.signer } : {}),
    ...(options.suiClient != null ? { suiClient: options.suiClient } : {})
  })
  const costs: BlobCost[] = []
  for (const blob of blobs) {
    const cost = await store.storageCostOf(blob.size, epochs)
    costs.push({ ...blob, encodedSize: cost.encodedSize, costFrost: cost.storageCostWal + cost.writeCostWal, ...(cost.registerGasMist != null ? { registerGasMist: cost.registerGasMist } : {}) })
  }
  return costs
}

/**
 * Gas of a push in MIST: the registry attributes, and with the SDK each blob's
 * registration (simulated where it could be) and certification.
 */
export function pushGasMist (writeMode: 'publisher' | 'sdk', blobs: BlobCost[]): { mist: bigint, transactions: number, simulated: number } {
  let mist = GAS_ESTIMATE_MIST_PER_TX
  let transactions = 1
  let simulated = 0
  if (writeMode === 'sdk') {
    for (const blob of blobs) {
      if (blob.registerGasMist != null) simulated++
      mist += (blob.registerGasMist ?? GAS_ESTIMATE_MIST_PER_TX) + GAS_ESTIMATE_MIST_PER_TX
      transactions += 2
    }
  }
  return { mist, transactions, simulated }
}

/** A push on a network the node cannot pay on fails before anything is stored, naming the address to fund. */
export async function requireFunds (services: NodeServices, address: string, writeMode: 'publisher' | 'sdk'): Promise<void> {
  if (services.balances == null) return
  const { sui, wal } = await services.balances({ signal: AbortSignal.timeout(30_000) })
  if (sui === 0n) throw new InsufficientGasError(address, services.network)
  if (writeMode === 'sdk' && wal === 0n) throw new InsufficientWalError(address, services.network)
}
