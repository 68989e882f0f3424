import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, it } from 'node:test'
import { bcs } from '@mysten/sui/bcs'
import { SuiGrpcClient } from '@mysten/sui/grpc'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import { WalrusClient } from '@mysten/walrus'
import { blobIdToBytes } from '../../src/blob/blob-id.js'
import { OffThreadWalrusClient, shardOfPair } from '../../src/walrus/off-thread-client.js'

/**
 * A committee of four storage nodes over 10 shards, given out unevenly and
 * out of order, as the SDK reads it: the system state's member count and
 * shard count, the staking state's node → shards map (in committee order),
 * and each node's `StakingPool` object, which the SDK loads from Sui to
 * address the node (its BCS layout as in contracts/walrus/sources/staking/staking_pool.move).
 */
const N_SHARDS = 10
const COMMITTEE = [
  { nodeId: normalizeSuiAddress('0xa1'), shards: [0, 1, 2, 3] },
  { nodeId: normalizeSuiAddress('0xa2'), shards: [6, 4, 5] },
  { nodeId: normalizeSuiAddress('0xa3'), shards: [9, 7] },
  { nodeId: normalizeSuiAddress('0xa4'), shards: [8] }
]

const Element = bcs.struct('Element', { bytes: bcs.vector(bcs.u8()) })
const PendingValues = bcs.struct('PendingValues', { contents: bcs.vector(bcs.struct('Entry', { key: bcs.u32(), value: bcs.u64() })) })
const IdAndSize = bcs.struct('Table', { id: bcs.Address, size: bcs.u64() })
const Authorized = bcs.enum('Authorized', { Address: bcs.Address, ObjectID: bcs.Address })
const StakingPool = bcs.struct('StakingPool', {
  id: bcs.Address,
  state: bcs.enum('PoolState', { Active: null, Withdrawing: bcs.u32(), Withdrawn: null }),
  voting_params: bcs.struct('VotingParams', { storage_price: bcs.u64(), write_price: bcs.u64(), node_capacity: bcs.u64() }),
  node_info: bcs.struct('StorageNodeInfo', {
    name: bcs.string(),
    node_id: bcs.Address,
    network_address: bcs.string(),
    public_key: Element,
    next_epoch_public_key: bcs.option(Element),
    network_public_key: bcs.vector(bcs.u8()),
    metadata: bcs.struct('ExtendedField', { id: bcs.Address })
  }),
  activation_epoch: bcs.u32(),
  latest_epoch: bcs.u32(),
  wal_balance: bcs.u64(),
  num_shares: bcs.u64(),
  pending_shares_withdraw: PendingValues,
  pre_active_withdrawals: PendingValues,
  pending_commission_rate: PendingValues,
  commission_rate: bcs.u16(),
  exchange_rates: IdAndSize,
  pending_stake: PendingValues,
  rewards_pool: bcs.struct('Balance', { value: bcs.u64() }),
  commission: bcs.struct('Balance', { value: bcs.u64() }),
  commission_receiver: Authorized,
  governance_authorized: Authorized,
  extra_fields: IdAndSize
})

function stakingPoolBytes (nodeId: string, index: number): Uint8Array {
  const empty = { contents: [] }
  return StakingPool.serialize({
    id: nodeId,
    state: { Active: true },
    voting_params: { storage_price: 1n, write_price: 1n, node_capacity: 1n },
    node_info: { name: `node ${index}`, node_id: nodeId, network_address: `node${index}.invalid:9185`, public_key: { bytes: [1] }, next_epoch_public_key: null, network_public_key: [2], metadata: { id: normalizeSuiAddress('0xe0') } },
    activation_epoch: 1,
    latest_epoch: 1,
    wal_balance: 0n,
    num_shares: 0n,
    pending_shares_withdraw: empty,
    pre_active_withdrawals: empty,
    pending_commission_rate: empty,
    commission_rate: 0,
    exchange_rates: { id: normalizeSuiAddress('0xe1'), size: 0n },
    pending_stake: empty,
    rewards_pool: { value: 0n },
    commission: { value: 0n },
    commission_receiver: { Address: nodeId },
    governance_authorized: { Address: nodeId },
    extra_fields: { id: normalizeSuiAddress('0xe2'), size: 0n }
  }).toBytes()
}

/** A Sui client that answers the SDK's object reads with the committee's StakingPool objects, and nothing else. */
function committeeSui (): SuiGrpcClient {
  const sui = new SuiGrpcClient({ network: 'testnet', baseUrl: 'http://127.0.0.1:9' })
  const pools = new Map(COMMITTEE.map((member, i) => [member.nodeId, stakingPoolBytes(member.nodeId, i)]))
  sui.core.getObjects = (async ({ objectIds }: { objectIds: string[] }) => ({
    objects: objectIds.map(id => {
      const content = pools.get(normalizeSuiAddress(id))
      if (content == null) throw new Error(`the stand-in has no object ${id}`)
      return { objectId: id, content }
    })
  })) as unknown as SuiGrpcClient['core']['getObjects']
  return sui
}

type State<K extends 'systemState' | 'stakingState'> = Awaited<ReturnType<WalrusClient[K]>>
const systemState = { committee: { n_shards: N_SHARDS, members: COMMITTEE.map(m => ({ node_id: m.nodeId })) } } as unknown as State<'systemState'>
const stakingState = { committee: [{ contents: COMMITTEE.map(m => ({ key: m.nodeId, value: m.shards })) }] } as unknown as State<'stakingState'>

class SdkOnCommittee extends WalrusClient {
  override async systemState (): Promise<State<'systemState'>> { return systemState }
  override async stakingState (): Promise<State<'stakingState'>> { return stakingState }
}

class OffThreadOnCommittee extends OffThreadWalrusClient {
  override async systemState (): Promise<State<'systemState'>> { return systemState }
  override async stakingState (): Promise<State<'stakingState'>> { return stakingState }
}

describe('Walrus encoding off the main thread', () => {
  it('gives the SDK\'s own encodeBlob byte for byte: blob ID, root hash, metadata, and every sliver with its node, pair and shard', async () => {
    const sdk = new SdkOnCommittee({ network: 'testnet', suiClient: committeeSui() })
    const offThread = new OffThreadOnCommittee({ network: 'testnet', suiClient: committeeSui() })
    try {
      for (const size of [1, 1000, 150_001]) {
        const blob = randomBytes(size)
        const expected = await sdk.encodeBlob(blob)
        const actual = await offThread.encodeBlob(blob)
        assert.equal(actual.blobId, expected.blobId, `${size} bytes: the blob ID`)
        assert.deepEqual(Buffer.from(actual.rootHash), Buffer.from(expected.rootHash))
        assert.deepEqual(actual.metadata, expected.metadata)
        assert.equal(actual.sliversByNode.length, COMMITTEE.length)
        const shape = (slivers: typeof expected.sliversByNode): unknown => slivers.map(node => ({
          primary: node.primary.map(s => ({ ...s, sliver: Buffer.from(s.sliver) })),
          secondary: node.secondary.map(s => ({ ...s, sliver: Buffer.from(s.sliver) }))
        }))
        assert.deepEqual(shape(actual.sliversByNode), shape(expected.sliversByNode), `${size} bytes: the slivers`)
        // Each node gets the pairs of its own shards.
        actual.sliversByNode.forEach((node, i) => {
          assert.deepEqual(node.primary.map(s => s.shardIndex).sort((a, b) => a - b), [...(COMMITTEE[i]?.shards ?? [])].sort((a, b) => a - b))
        })
      }
    } finally {
      await offThread.close()
    }
  })

  it('rotates sliver pairs onto shards by the blob ID read as a big-endian integer', () => {
    const id = new Uint8Array(32)
    id[31] = 3
    assert.deepEqual([0, 1, 9].map(pair => shardOfPair(pair, id, 10)), [3, 4, 2])
    id[30] = 1 // 259 mod 10
    assert.equal(shardOfPair(0, id, 10), 9)
    assert.equal(shardOfPair(5, blobIdToBytes('A'.repeat(43)), 1000), 5, 'an all-zero ID does not rotate')
  })
})
