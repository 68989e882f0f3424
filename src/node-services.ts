import type { Signer } from '@mysten/sui/cryptography'
import { SuiGraphQLClient } from '@mysten/sui/graphql'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { HttpLedger } from './chain/http-ledger.js'
import { SuiLedger } from './chain/sui-ledger.js'
import { suiBalances, walCoinType } from './chain/sui-wallet.js'
import type { Ledger } from './chain/types.js'
import { walrusWriteMode, type NodeConfig } from './node-config.js'
import type { OnPaid } from './payments.js'
import { WalrusHttpClient } from './walrus/http-client.js'
import { NetworkWalrusStore, type BlobWriter } from './walrus/network-store.js'
import { WalrusSdkStore } from './walrus/sdk-store.js'

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
export function buildServices (config: NodeConfig, key?: NodeSigner, devnet?: DevnetDefaults, options: { onPaid?: OnPaid } = {}): NodeServices {
  const signer = key != null ? { signer: key } : {}
  // Told what each transaction the node key signs costs it (testnet and mainnet; the devnet charges nothing).
  const paid = options.onPaid != null ? { onPaid: options.onPaid } : {}
  const owner = key != null ? { owner: key.toSuiAddress() } : {}
  if (config.network === 'devnet') {
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
  const { sui, walrus } = config
  // The schema refuses a testnet or mainnet config without these.
  if (sui == null || walrus == null) throw new RangeError(`a ${config.network} config needs its sui and walrus sections`)
  const network = config.network
  const grpc = new SuiGrpcClient({ network, baseUrl: sui.url })
  const graphql = new SuiGraphQLClient({ network, url: sui.graphqlUrl })
  const ledger = new SuiLedger({
    network,
    grpcUrl: sui.url,
    graphqlUrl: sui.graphqlUrl,
    systemObjectId: sui.walrusPackage.systemObjectId,
    ...signer,
    registryOwners: config.registry.trustedPublishers,
    client: grpc,
    graphql,
    ...paid
  })
  const writeMode = walrusWriteMode(config)
  const sdk = new WalrusSdkStore({
    network,
    suiUrl: sui.url,
    ...signer,
    suiClient: grpc,
    ...paid,
    ...(walrus.uploadRelay != null ? { uploadRelay: { host: walrus.uploadRelay.host, sendTip: { max: walrus.uploadRelay.maxTipMist } } } : {})
  })
  const writer: BlobWriter = writeMode === 'publisher' ? new WalrusHttpClient({ publisher: walrus.publisher! }) : sdk
  const address = key?.toSuiAddress()
  // The WAL type is read from the chain, as the Walrus SDK reads it, once: it changes only with a new WAL package.
  let wal: Promise<string> | undefined
  const walType = async (options: { signal?: AbortSignal }): Promise<string> => {
    wal ??= walCoinType(grpc, sui.walrusPackage.systemObjectId, options).catch(err => { wal = undefined; throw err })
    return wal
  }
  return {
    network,
    // Sui, not the aggregators, knows the epoch and the Blob objects, however the node writes: the keeper reads both there.
    walrus: new NetworkWalrusStore({ readers: walrus.aggregator.map(aggregator => new WalrusHttpClient({ aggregator })), writer, writeMode, epochs: walrus.epochs, ...owner, onChain: sdk }),
    ledger,
    sui: { grpc, graphql },
    ...(address != null ? { balances: async (options = {}) => suiBalances(grpc, address, await walType(options), options) } : {})
  }
}
