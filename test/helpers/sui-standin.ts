import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { SuiGraphQLClient } from '@mysten/sui/graphql'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { TESTNET_WALRUS_PACKAGE_CONFIG } from '@mysten/walrus'
import { blobIdToU256 } from '../../src/blob/blob-id.js'
import { SuiLedger, type SuiLedgerInit } from '../../src/chain/sui-ledger.js'
import { newObjectId, SUI_TYPE, SuiChain, type StandInObject } from './sui-standin-chain.js'
import { SuiGraphQLStandIn } from './sui-standin-graphql.js'
import { SuiGrpcStandIn } from './sui-standin-grpc.js'

/** The Walrus packages of the stand-in network: made up, since the stand-in runs no Move. */
export const CALL_PACKAGE = normalizeSuiAddress('0xca11')
export const TYPE_PACKAGE = normalizeSuiAddress('0x7e9e')
export const SYSTEM_OBJECT = TESTNET_WALRUS_PACKAGE_CONFIG.systemObjectId
export const BLOB_TYPE = `${TYPE_PACKAGE}::blob::Blob`

export interface SuiStandIn {
  chain: SuiChain
  grpc: SuiGrpcStandIn
  gql: SuiGraphQLStandIn
  client: SuiGrpcClient
  graphql: SuiGraphQLClient
  signer: Ed25519Keypair
  address: string
  ledger: (init?: Partial<SuiLedgerInit>) => SuiLedger
  /** A certified Walrus Blob object owned by `owner`, as `walrus::blob::Blob` renders in JSON. */
  addBlob: (owner: string, blobId: string) => StandInObject
}

/** A Sui network of one stand-in node (gRPC and GraphQL over the same state), with the Walrus system object and a funded signer. */
export function suiStandIn (options: { fundSui?: bigint } = {}): SuiStandIn {
  const chain = new SuiChain()
  chain.add({ objectId: SYSTEM_OBJECT, type: `${TYPE_PACKAGE}::system::System`, owner: '0x0', shared: true, json: { id: SYSTEM_OBJECT, version: '2', package_id: CALL_PACKAGE, new_package_id: null } })
  const signer = Ed25519Keypair.generate()
  const address = signer.toSuiAddress()
  if ((options.fundSui ?? 1_000_000_000n) > 0n) chain.fund(address, SUI_TYPE, options.fundSui ?? 1_000_000_000n)
  const grpc = new SuiGrpcStandIn(chain, CALL_PACKAGE)
  const gql = new SuiGraphQLStandIn(chain)
  const client = new SuiGrpcClient({ network: 'testnet', transport: grpc })
  const graphql = new SuiGraphQLClient({ network: 'testnet', url: 'http://graphql.standin.invalid/graphql', fetch: gql.fetch })
  return {
    chain,
    grpc,
    gql,
    client,
    graphql,
    signer,
    address,
    ledger: init => new SuiLedger({ network: 'testnet', grpcUrl: 'http://grpc.standin.invalid', graphqlUrl: 'http://graphql.standin.invalid/graphql', systemObjectId: SYSTEM_OBJECT, signer, client, graphql, conflictBackoffMs: 1, ...init }),
    addBlob: (owner, blobId) => {
      const objectId = newObjectId()
      return chain.add({
        objectId,
        type: BLOB_TYPE,
        owner,
        json: { id: objectId, registered_epoch: 700, blob_id: blobIdToU256(blobId).toString(), size: '1234', encoding_type: 1, certified_epoch: 700, storage: { id: newObjectId(), start_epoch: 700, end_epoch: 705, storage_size: '66034000' }, deletable: true }
      })
    }
  }
}
