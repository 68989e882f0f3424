import { bcs } from '@mysten/sui/bcs'
import { deriveDynamicFieldID, normalizeSuiAddress } from '@mysten/sui/utils'
import type { SuiChain } from './sui-standin-chain.js'

/**
 * The Walrus objects a client reads before it writes: the shared `System`
 * object and its versioned inner state (`SystemStateInnerV1`, a dynamic field
 * keyed by the system's `version`), in the BCS layout of the Walrus Move
 * package (contracts/walrus/sources/system/system.move and
 * system_state_inner.move). The committee has no members: nothing here
 * talks to storage nodes.
 */
const Element = bcs.struct('Element', { bytes: bcs.vector(bcs.u8()) })
const BlsCommittee = bcs.struct('BlsCommittee', {
  members: bcs.vector(bcs.struct('BlsCommitteeMember', { public_key: Element, weight: bcs.u16(), node_id: bcs.Address })),
  n_shards: bcs.u16(),
  epoch: bcs.u32(),
  total_aggregated_key: Element
})
const EventBlob = bcs.struct('EventBlob', { blob_id: bcs.u256(), ending_checkpoint_sequence_number: bcs.u64() })
const SystemStateInnerV1 = bcs.struct('SystemStateInnerV1', {
  committee: BlsCommittee,
  total_capacity_size: bcs.u64(),
  used_capacity_size: bcs.u64(),
  storage_price_per_unit_size: bcs.u64(),
  write_price_per_unit_size: bcs.u64(),
  future_accounting: bcs.struct('FutureAccountingRingBuffer', {
    current_index: bcs.u32(),
    length: bcs.u32(),
    ring_buffer: bcs.vector(bcs.struct('FutureAccounting', { epoch: bcs.u32(), used_capacity: bcs.u64(), rewards_to_distribute: bcs.u64() }))
  }),
  event_blob_certification_state: bcs.struct('EventBlobCertificationState', {
    latest_certified_blob: bcs.option(EventBlob),
    aggregate_weight_per_blob: bcs.struct('VecMap', { contents: bcs.vector(bcs.struct('Entry', { key: EventBlob, value: bcs.u16() })) })
  }),
  deny_list_sizes: bcs.struct('ExtendedField', { id: bcs.Address })
})
const System = bcs.struct('System', { id: bcs.Address, version: bcs.u64(), package_id: bcs.Address, new_package_id: bcs.option(bcs.Address) })

export interface WalrusPrices { nShards: number, epoch: number, storagePricePerUnit: bigint, writePricePerUnit: bigint }

/** Gives the system object already on the chain its BCS, and adds its inner state at the dynamic field Walrus reads. */
export function addWalrusSystemState (chain: SuiChain, systemObjectId: string, typePackage: string, callPackage: string, prices: WalrusPrices): void {
  const id = normalizeSuiAddress(systemObjectId)
  const system = chain.objects.get(id)
  if (system == null) throw new Error('the stand-in chain has no Walrus system object')
  const version = 2n
  system.bcs = System.serialize({ id, version, package_id: callPackage, new_package_id: null }).toBytes()
  const fieldId = deriveDynamicFieldID(id, 'u64', bcs.u64().serialize(version).toBytes())
  const inner = SystemStateInnerV1.serialize({
    committee: { members: [], n_shards: prices.nShards, epoch: prices.epoch, total_aggregated_key: { bytes: [] } },
    total_capacity_size: 1n << 50n,
    used_capacity_size: 1n << 40n,
    storage_price_per_unit_size: prices.storagePricePerUnit,
    write_price_per_unit_size: prices.writePricePerUnit,
    future_accounting: { current_index: 0, length: 0, ring_buffer: [] },
    event_blob_certification_state: { latest_certified_blob: null, aggregate_weight_per_blob: { contents: [] } },
    deny_list_sizes: { id: normalizeSuiAddress('0xde') }
  }).toBytes()
  const field = bcs.struct('Field', { id: bcs.Address, name: bcs.u64(), value: bcs.fixedArray(inner.length, bcs.u8()) })
  chain.add({
    objectId: fieldId,
    type: `0x2::dynamic_field::Field<u64, ${typePackage}::system_state_inner::SystemStateInnerV1>`,
    owner: id,
    json: {},
    bcs: field.serialize({ id: fieldId, name: version, value: [...inner] }).toBytes()
  })
}

/** `staking::stake_with_pool(&mut Staking, Coin<WAL>, ID, &mut TxContext)` as GetFunction describes it: where the Walrus SDK learns the WAL type. */
export function stakeWithPool (typePackage: string, walType: string): unknown {
  const datatype = (typeName: string, args: unknown[] = []): unknown => ({ type: 'DATATYPE', typeName, typeParameterInstantiation: args })
  return {
    name: 'stake_with_pool',
    visibility: 'PUBLIC',
    isEntry: false,
    parameters: [
      { reference: 'MUTABLE', body: datatype(`${typePackage}::staking::Staking`) },
      { body: datatype('0x0000000000000000000000000000000000000000000000000000000000000002::coin::Coin', [datatype(walType)]) },
      { body: datatype('0x0000000000000000000000000000000000000000000000000000000000000002::object::ID') }
    ],
    returns: [{ body: datatype(`${typePackage}::staked_wal::StakedWal`) }]
  }
}
