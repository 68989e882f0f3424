import type { Signer } from '@mysten/sui/cryptography'
import type { SuiGraphQLClient } from '@mysten/sui/graphql'
import type { SuiGrpcClient } from '@mysten/sui/grpc'
import { HttpLedger } from './chain/http-ledger.js'
import type { Ledger } from './chain/types.js'
import type { NodeConfig } from './node-config.js'
import type { OnPaid } from './payments.js'
import { WalrusHttpClient } from './walrus/http-client.js'
import { NetworkWalrusStore } from './walrus/network-store.js'

/** The node key as the services use it: it signs Sui transactions and names the address that owns what the node writes. */
export type NodeSigner = Signer & { toSuiAddress: () => string }

export interface Balances {
  /** MIST. */
  sui: bigint
  /** FROST. */
  wal: bigint
}

export interface SuiClients {
  grpc: SuiGrpcClient
  graphql: SuiGraphQLClient
}

export interface NodeServices {
  network: NodeConfig['network']
  walrus: NetworkWalrusStore
  ledger: Ledger
  /** Testnet and mainnet. */
  sui?: SuiClients
  /** The node address's SUI and WAL, on testnet and mainnet. */
  balances?: (options?: { signal?: AbortSignal }) => Promise<Balances>
}

/** Where the devnet's Walrus and ledger are when the config names none: the embedded ones, or a `herd devnet`. */
export interface DevnetDefaults {
  walrusUrl: string
  ledger: () => Ledger
}

/**
 * The clients of Walrus and the ledger that a config asks for, built without
 * touching the network: on the devnet the HTTP API and the local ledger, on
 * testnet and mainnet the profile's aggregators with its publisher or the
 * Walrus SDK, and a SuiLedger on gRPC and GraphQL.
 */
export async function buildServices (config: NodeConfig, key?: NodeSigner, devnet?: DevnetDefaults, options: { onPaid?: OnPaid } = {}): Promise<NodeServices> {
  if (config.network === 'devnet') {
    const signer = key != null ? { signer: key } : {}
    const owner = key != null ? { owner: key.toSuiAddress() } : {}
    const walrus = config.walrus ?? (devnet != null ? { aggregator: [devnet.walrusUrl], publisher: devnet.walrusUrl, epochs: 1 } : undefined)
    if (walrus == null) throw new RangeError('a devnet config without walrus needs the devnet defaults')
    const ledger = config.ledger != null ? new HttpLedger({ url: config.ledger, ...signer }) : devnet?.ledger()
    if (ledger == null) throw new RangeError('a devnet config without ledger needs the devnet defaults')
    // The node key signs the local Walrus's stand-in for extend_blob on the blobs the node owns.
    const writer = new WalrusHttpClient({ ...(walrus.publisher != null ? { publisher: walrus.publisher } : {}), ...signer })
    return {
      network: 'devnet',
      walrus: new NetworkWalrusStore({ readers: walrus.aggregator.map(aggregator => new WalrusHttpClient({ aggregator })), writer, writeMode: 'publisher', epochs: walrus.epochs, ...owner }),
      ledger
    }
  }
  // Sui's and Walrus's SDKs are loaded only for the networks that use them: a devnet node never needs them.
  const { buildSuiServices } = await import('./sui-services.js')
  return buildSuiServices(config, key, options)
}
