import { SuiGraphQLClient } from '@mysten/sui/graphql'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { SuiLedger } from './chain/sui-ledger.js'
import { suiBalances, walCoinType } from './chain/sui-wallet.js'
import { walrusWriteMode, type NodeConfig } from './node-config.js'
import type { NodeServices, NodeSigner } from './node-services.js'
import type { OnPaid } from './payments.js'
import { WalrusHttpClient } from './walrus/http-client.js'
import { NetworkWalrusStore, type BlobWriter } from './walrus/network-store.js'
import { WalrusSdkStore } from './walrus/sdk-store.js'

/**
 * buildServices on testnet and mainnet: the profile's aggregators with its
 * publisher or the Walrus SDK, and a SuiLedger on gRPC and GraphQL. Apart,
 * so a devnet node never loads Sui's and Walrus's SDKs.
 */
export function buildSuiServices (config: NodeConfig, key?: NodeSigner, options: { onPaid?: OnPaid } = {}): NodeServices {
  const signer = key != null ? { signer: key } : {}
  // Told what each transaction the node key signs costs it (the devnet charges nothing).
  const paid = options.onPaid != null ? { onPaid: options.onPaid } : {}
  const owner = key != null ? { owner: key.toSuiAddress() } : {}
  const { sui, walrus } = config
  // The schema refuses a testnet or mainnet config without these.
  if (sui == null || walrus == null) throw new RangeError(`a ${config.network} config needs its sui and walrus sections`)
  const network = config.network
  if (network === 'devnet') throw new RangeError('the devnet\'s services are built by buildServices')
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
