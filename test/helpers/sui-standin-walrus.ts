import { bcs } from '@mysten/sui/bcs'
import { deriveDynamicFieldID, normalizeSuiAddress } from '@mysten/sui/utils'
import { storageUnits } from '../../src/walrus/encoded-size.js'
import { newObjectId, SUI_TYPE, type SuiChain } from './sui-standin-chain.js'

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

export interface WalrusPrices {
  nShards: number
  epoch: number
  storagePricePerUnit: bigint
  writePricePerUnit: bigint
  /** Given, the Walrus calls take WAL of this type from the sender at these prices, as the Move package does. */
  walType?: string
}

/** Gives the system object already on the chain its BCS, and adds its inner state at the dynamic field Walrus reads. */
export function addWalrusSystemState (chain: SuiChain, systemObjectId: string, typePackage: string, callPackage: string, prices: WalrusPrices): void {
  const id = normalizeSuiAddress(systemObjectId)
  const system = chain.objects.get(id)
  if (system == null) throw new Error('the stand-in chain has no Walrus system object')
  const version = 2n
  if (prices.walType != null) chain.walrusPricing = { walType: prices.walType, storagePricePerUnit: prices.storagePricePerUnit, writePricePerUnit: prices.writePricePerUnit }
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

const Storage = bcs.struct('Storage', { id: bcs.Address, start_epoch: bcs.u32(), end_epoch: bcs.u32(), storage_size: bcs.u64() })
const Blob = bcs.struct('Blob', {
  id: bcs.Address,
  registered_epoch: bcs.u32(),
  blob_id: bcs.u256(),
  size: bcs.u64(),
  encoding_type: bcs.u8(),
  certified_epoch: bcs.option(bcs.u32()),
  storage: Storage,
  deletable: bcs.bool()
})
type BlobFields = Parameters<typeof Blob.serialize>[0]

type Programmable = NonNullable<ReturnType<typeof bcs.TransactionData.parse>['V1']['kind']['ProgrammableTransaction']>
type Arg = Programmable['commands'][number]['TransferObjects'] extends infer T ? T extends { address: infer A } ? A : never : never

/** The Blob's JSON as the services render it: numbers past 2^53 and u64s as strings. */
function blobJson (fields: BlobFields): Record<string, unknown> {
  return JSON.parse(JSON.stringify(fields, (_k, v: unknown) => typeof v === 'bigint' ? v.toString() : v))
}

/**
 * What `system::reserve_space`, `system::register_blob`, `system::certify_blob`,
 * `system::extend_blob` and the `TransferObjects` after them do to the chain, so the Walrus SDK's
 * write flow finds the Blob object it registered and certified. With the
 * chain's Walrus pricing set, WAL is taken from the sender as
 * system_state_inner.move charges it (storage units of 1 MiB of encoded size:
 * reserve_space and extend_blob the storage price times units times epochs,
 * register_blob the write price times units), and SUI split from the gas coin
 * and transferred away (an upload relay's tip) moves to its recipient.
 */
export function applyWalrusCalls (chain: SuiChain, kind: Programmable, sender: string, digest: string): Array<{ objectId: string, type: string }> {
  const system = [...chain.objects.values()].find(o => o.shared === true && o.type.endsWith('::system::System'))
  if (system == null) return []
  const blobType = `${system.type.split('::')[0]}::blob::Blob`
  const pure = (arg: Arg): Uint8Array => Uint8Array.from(Buffer.from(kind.inputs[arg.Input!]!.Pure!.bytes, 'base64'))
  const results = new Map<number, { storage?: { start: number, end: number, size: bigint }, blob?: string, sui?: bigint }>()
  const pricing = chain.walrusPricing
  const units = (size: bigint): bigint => BigInt(storageUnits(Number(size)))
  const payWal = (amount: bigint): void => { if (pricing != null) chain.fund(sender, pricing.walType, -amount) }
  const created: Array<{ objectId: string, type: string }> = []
  kind.commands.forEach((command, index) => {
    const call = command.MoveCall
    if (call?.module === 'system' && call.function === 'reserve_space') {
      const epochs = bcs.u32().parse(pure(call.arguments[2]!))
      const start = Number(chain.epoch)
      const size = BigInt(bcs.u64().parse(pure(call.arguments[1]!)))
      if (pricing != null) payWal(units(size) * pricing.storagePricePerUnit * BigInt(epochs))
      results.set(index, { storage: { start, end: start + epochs, size } })
    } else if (call?.module === 'system' && call.function === 'register_blob') {
      const storage = results.get(call.arguments[1]!.Result ?? call.arguments[1]!.NestedResult?.[0] ?? -1)?.storage
      if (storage == null) throw new Error('register_blob without the storage reserve_space made')
      if (pricing != null) payWal(units(storage.size) * pricing.writePricePerUnit)
      const id = newObjectId()
      const fields: BlobFields = {
        id,
        registered_epoch: Number(chain.epoch),
        blob_id: BigInt(bcs.u256().parse(pure(call.arguments[2]!))),
        size: BigInt(bcs.u64().parse(pure(call.arguments[4]!))),
        encoding_type: bcs.u8().parse(pure(call.arguments[5]!)),
        certified_epoch: null,
        storage: { id: newObjectId(), start_epoch: storage.start, end_epoch: storage.end, storage_size: storage.size },
        deletable: bcs.bool().parse(pure(call.arguments[6]!))
      }
      chain.add({ objectId: id, type: blobType, owner: sender, json: blobJson(fields), bcs: Blob.serialize(fields).toBytes(), previousTransaction: digest })
      results.set(index, { blob: id })
      created.push({ objectId: id, type: blobType })
    } else if (call?.module === 'system' && call.function === 'certify_blob') {
      const blob = chain.objects.get(normalizeSuiAddress(kind.inputs[call.arguments[1]!.Input!]!.Object!.ImmOrOwnedObject!.objectId))!
      const fields = Blob.parse(blob.bcs!)
      const certified = { ...fields, certified_epoch: Number(chain.epoch) } as unknown as BlobFields
      blob.bcs = Blob.serialize(certified).toBytes()
      blob.json = blobJson(certified)
    } else if (call?.module === 'system' && call.function === 'extend_blob') {
      // `blob: &mut Blob` is an owned object: only its owner can pass it; an expired blob cannot be extended.
      const blob = chain.objects.get(normalizeSuiAddress(kind.inputs[call.arguments[1]!.Input!]!.Object!.ImmOrOwnedObject!.objectId))!
      if (blob.owner !== sender) throw new Error(`extend_blob: ${sender} does not own Blob ${blob.objectId}`)
      const fields = Blob.parse(blob.bcs!)
      if (fields.storage.end_epoch <= Number(chain.epoch)) throw new Error(`extend_blob: Blob ${blob.objectId} expired at epoch ${fields.storage.end_epoch}`)
      const epochs = bcs.u32().parse(pure(call.arguments[2]!))
      if (pricing != null) payWal(units(BigInt(fields.storage.storage_size)) * pricing.storagePricePerUnit * BigInt(epochs))
      const extended = { ...fields, storage: { ...fields.storage, end_epoch: fields.storage.end_epoch + epochs } } as unknown as BlobFields
      blob.bcs = Blob.serialize(extended).toBytes()
      blob.json = blobJson(extended)
    } else if (command.SplitCoins != null && command.SplitCoins.coin.GasCoin != null) {
      results.set(index, { sui: command.SplitCoins.amounts.reduce((sum, a) => sum + BigInt(bcs.u64().parse(pure(a))), 0n) })
    } else if (command.TransferObjects != null) {
      const to = normalizeSuiAddress(bcs.Address.parse(pure(command.TransferObjects.address)))
      for (const object of command.TransferObjects.objects) {
        const result = results.get(object.Result ?? object.NestedResult?.[0] ?? -1)
        if (result?.blob != null) chain.objects.get(result.blob)!.owner = to
        if (result?.sui != null && to !== normalizeSuiAddress(sender)) {
          chain.fund(sender, SUI_TYPE, -result.sui)
          chain.fund(to, SUI_TYPE, result.sui)
        }
      }
    }
  })
  return created
}
