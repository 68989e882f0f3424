import { bcs } from '@mysten/sui/bcs'
import { RpcError, type RpcTransport } from '@mysten/sui/grpc'
import { TransactionDataBuilder } from '@mysten/sui/transactions'
import { normalizeStructTag, normalizeSuiAddress } from '@mysten/sui/utils'
import { verifyTransactionSignature } from '@mysten/sui/verify'
import { UnaryCall, type MethodInfo, type RpcOptions } from '@protobuf-ts/runtime-rpc'
import { SUI_TYPE, type SuiChain } from './sui-standin-chain.js'
import { transactionJson } from './sui-standin-tx.js'
import { applyWalrusCalls } from './sui-standin-walrus.js'

/** One call as the node received it: `service/Method` and the request decoded from its wire bytes, in proto JSON. */
export interface GrpcCall { method: string, request: any }

/** Whether a read mask (in proto JSON, camelCase) asks for a field of the executed transaction (ExecuteTransaction's mask is under `transaction.`). */
const masks = (paths: string[], field: string): boolean => paths.includes(field) || paths.includes(`transaction.${field}`)

type Handler = (request: any, call: GrpcCall) => unknown

/** The gas budget the stand-in's gas selection asks for, in MIST. */
export const STANDIN_BUDGET = 2_000_000n
/** The gas every execution charges the sender, in MIST. */
export const GAS_USED = 1_000_000n
/** What every simulation reports it would cost, in MIST. */
export const SIMULATED_GAS = { computation: 1_000_000n, storage: 4_560_000n, rebate: 978_120n }

/**
 * A Sui full node's gRPC API (sui.rpc.v2) in process, as a protobuf-ts
 * transport for `SuiGrpcClient`. Requests and answers go through the SDK's
 * own generated message types and their binary encoding, answers are built
 * from proto JSON with `fromJson` (which refuses a field the proto does not
 * have), and every call is recorded. It serves the calls herd makes:
 * BatchGetObjects, SimulateTransaction (with gas selection),
 * ExecuteTransaction (checking the signature, object versions and owners,
 * and applying `insert_or_update_metadata_pair`), GetTransaction,
 * GetBalance and GetFunction; anything else is UNIMPLEMENTED.
 */
export class SuiGrpcStandIn implements RpcTransport {
  readonly calls: GrpcCall[] = []
  readonly chain: SuiChain
  /** The Walrus package whose `blob::insert_or_update_metadata_pair` it applies. */
  callPackage: string
  /** Runs before an execution is checked, e.g. to move an object on as another writer would. */
  beforeExecute?: (call: GrpcCall) => void
  /** The next execution fails in Move with this description (an abort, say). */
  failNextExecution?: string
  /** The next execution is refused before it runs, as a node refuses an expired transaction. */
  refuseNextExecution?: { code: string, message: string }
  functions = new Map<string, unknown>()
  private readonly handlers: Record<string, Handler>

  constructor (chain: SuiChain, callPackage: string) {
    this.chain = chain
    this.callPackage = normalizeSuiAddress(callPackage)
    this.handlers = {
      'sui.rpc.v2.LedgerService/BatchGetObjects': r => this.batchGetObjects(r),
      'sui.rpc.v2.LedgerService/GetTransaction': r => this.getTransaction(r),
      'sui.rpc.v2.TransactionExecutionService/SimulateTransaction': r => this.simulate(r),
      'sui.rpc.v2.TransactionExecutionService/ExecuteTransaction': (r, c) => this.execute(r, c),
      'sui.rpc.v2.StateService/GetBalance': r => this.getBalance(r),
      'sui.rpc.v2.StateService/ListOwnedObjects': r => this.listOwnedObjects(r),
      'sui.rpc.v2.MovePackageService/GetFunction': r => this.getFunction(r)
    }
  }

  methods (): string[] {
    return this.calls.map(c => c.method.split('/')[1]!)
  }

  mergeOptions (options?: Partial<RpcOptions>): RpcOptions {
    return { ...options }
  }

  unary<I extends object, O extends object> (method: MethodInfo<I, O>, input: I, options: RpcOptions): UnaryCall<I, O> {
    const name = `${method.service.typeName}/${method.name}`
    const request = method.I.fromBinary(method.I.toBinary(input))
    const call: GrpcCall = { method: name, request: method.I.toJson(request) }
    this.calls.push(call)
    const response = (async () => {
      options.abort?.throwIfAborted()
      const handler = this.handlers[name]
      if (handler == null) throw new RpcError(`${name} is not served by the stand-in`, 'UNIMPLEMENTED')
      const json = await handler(call.request, call)
      return method.O.fromBinary(method.O.toBinary(method.O.fromJson(json as any)))
    })()
    const status = response.then(() => ({ code: 'OK', detail: '' }))
    return new UnaryCall(method, options.meta ?? {}, request, Promise.resolve({}), response, status, Promise.resolve({}))
  }

  serverStreaming (): never {
    throw new RpcError('streaming is not served by the stand-in', 'UNIMPLEMENTED')
  }

  clientStreaming (): never {
    throw new RpcError('streaming is not served by the stand-in', 'UNIMPLEMENTED')
  }

  duplex (): never {
    throw new RpcError('streaming is not served by the stand-in', 'UNIMPLEMENTED')
  }

  private objectJson (id: string, paths: string[]): unknown {
    const object = this.chain.objects.get(normalizeSuiAddress(id))
    if (object == null) return { error: { code: 5, message: `object ${id} not found` } }
    return {
      object: {
        objectId: object.objectId,
        version: object.version.toString(),
        digest: object.digest,
        owner: object.shared === true ? { kind: 'SHARED', version: '1' } : { kind: 'ADDRESS', address: object.owner },
        objectType: object.type,
        ...(paths.includes('json') ? { json: object.json } : {}),
        ...(paths.includes('balance') && object.json.balance != null ? { balance: String(object.json.balance) } : {}),
        ...(paths.includes('contents') && object.bcs != null ? { contents: { name: object.type, value: Buffer.from(object.bcs).toString('base64') } } : {}),
        ...(paths.includes('previous_transaction') && object.previousTransaction != null ? { previousTransaction: object.previousTransaction } : {})
      }
    }
  }

  private batchGetObjects (request: any): unknown {
    const paths: string[] = request.readMask?.split(',') ?? []
    return { objects: (request.requests ?? []).map((r: { objectId: string }) => this.objectJson(r.objectId, paths)) }
  }

  private getTransaction (request: any): unknown {
    const tx = this.chain.transactions.get(request.digest)
    if (tx == null) throw new RpcError(`transaction ${request.digest} not found`, 'NOT_FOUND')
    const paths: string[] = request.readMask?.split(',') ?? []
    return { transaction: this.executedJson({ ...tx, balanceChanges: masks(paths, 'balanceChanges') ? tx.balanceChanges : undefined }) }
  }

  private executedJson (tx: { digest: string, checkpoint?: bigint, timestampMs?: number, success: boolean, error?: string, created?: Array<{ objectId: string, type: string }>, transaction?: unknown, balanceChanges?: unknown[] | undefined }): unknown {
    return {
      digest: tx.digest,
      ...(tx.balanceChanges != null ? { balanceChanges: tx.balanceChanges } : {}),
      ...(tx.transaction != null ? { transaction: tx.transaction } : {}),
      effects: {
        changedObjects: (tx.created ?? []).map(o => ({ objectId: o.objectId, objectType: o.type, idOperation: 'CREATED', inputState: 'DOES_NOT_EXIST', outputState: 'OBJECT_WRITE' })),
        transactionDigest: tx.digest,
        status: tx.success ? { success: true } : { success: false, error: { description: tx.error, kind: 'MOVE_ABORT' } },
        epoch: this.chain.epoch.toString(),
        gasUsed: { computationCost: GAS_USED.toString(), storageCost: '0', storageRebate: '0', nonRefundableStorageFee: '0' }
      },
      ...(tx.checkpoint != null ? { checkpoint: tx.checkpoint.toString() } : {}),
      ...(tx.timestampMs != null ? { timestamp: new Date(tx.timestampMs).toISOString() } : {})
    }
  }

  /** The node's transaction resolution: owned objects get their current reference, and with gas selection, the sender's coin pays. */
  private simulate (request: any): unknown {
    const transaction = structuredClone(request.transaction)
    const sender = normalizeSuiAddress(transaction.sender)
    for (const input of transaction.kind?.programmableTransaction?.inputs ?? []) {
      if (input.objectId == null || input.kind === 'PURE') continue
      const object = this.chain.objects.get(normalizeSuiAddress(input.objectId))
      if (object == null) throw new RpcError(`Error checking transaction input objects: ObjectNotFound { object_id: ${input.objectId} }`, 'INVALID_ARGUMENT')
      if (object.shared === true) Object.assign(input, { kind: 'SHARED', version: '1', mutable: input.mutable ?? true })
      else Object.assign(input, { kind: 'IMMUTABLE_OR_OWNED', version: object.version.toString(), digest: object.digest })
    }
    if (request.doGasSelection === true) {
      const balance = this.chain.balance(sender, SUI_TYPE)
      const coin = this.chain.gasCoins.get(sender)
      if (balance < STANDIN_BUDGET || coin == null) {
        throw new RpcError(`Unable to perform gas selection due to insufficient SUI balance (in address balance or coins) for account ${sender} to satisfy required budget ${STANDIN_BUDGET}.`, 'INVALID_ARGUMENT')
      }
      const gas = this.chain.objects.get(coin)!
      transaction.gasPayment = { objects: [{ objectId: gas.objectId, version: gas.version.toString(), digest: gas.digest }], owner: sender, price: '1000', budget: STANDIN_BUDGET.toString() }
    }
    transaction.expiration ??= { kind: 'NONE' }
    const failure = this.moveCallFailure(transaction.kind?.programmableTransaction?.commands ?? [])
    return {
      transaction: {
        transaction,
        effects: {
          status: failure == null ? { success: true } : { success: false, error: { description: failure, kind: 'FUNCTION_NOT_FOUND' } },
          epoch: this.chain.epoch.toString(),
          gasUsed: { computationCost: SIMULATED_GAS.computation.toString(), storageCost: SIMULATED_GAS.storage.toString(), storageRebate: SIMULATED_GAS.rebate.toString(), nonRefundableStorageFee: '0' }
        }
      }
    }
  }

  /** The Move functions the stand-in runs: herd's metadata write, and the Walrus SDK's register, certify and extend with their coin handling. */
  private moveCallFailure (commands: Array<{ moveCall?: { package: string, module: string, function: string } }>): string | undefined {
    const allowed = new Set([
      `${this.callPackage}::blob::insert_or_update_metadata_pair`,
      `${this.callPackage}::system::reserve_space`,
      `${this.callPackage}::system::register_blob`,
      `${this.callPackage}::system::certify_blob`,
      `${this.callPackage}::system::extend_blob`,
      `${normalizeSuiAddress('0x2')}::coin::destroy_zero`
    ])
    for (const command of commands) {
      const call = command.moveCall
      if (call == null) continue
      const target = `${normalizeSuiAddress(call.package)}::${call.module}::${call.function}`
      if (!allowed.has(target)) return `the stand-in does not run ${target}`
    }
    return undefined
  }

  private async execute (request: any, call: GrpcCall): Promise<unknown> {
    this.beforeExecute?.(call)
    const bytes = Uint8Array.from(Buffer.from(request.transaction.bcs.value, 'base64'))
    const data = bcs.TransactionData.parse(bytes).V1
    const sender = normalizeSuiAddress(data.sender)
    const signature = request.signatures?.[0]?.bcs?.value
    await verifyTransactionSignature(bytes, signature, { address: sender }).catch((err: Error) => {
      throw new RpcError(`Invalid user signature: ${err.message}`, 'INVALID_ARGUMENT')
    })
    if (this.refuseNextExecution != null) {
      const { code, message } = this.refuseNextExecution
      this.refuseNextExecution = undefined
      throw new RpcError(message, code)
    }
    const kind = data.kind.ProgrammableTransaction
    if (kind == null) throw new RpcError('only programmable transactions are served', 'INVALID_ARGUMENT')
    const owned = [...kind.inputs.flatMap(i => i.Object?.ImmOrOwnedObject ?? []), ...data.gasData.payment]
    for (const shared of kind.inputs.flatMap(i => i.Object?.SharedObject ?? [])) {
      if (this.chain.objects.get(normalizeSuiAddress(shared.objectId))?.shared !== true) throw new RpcError(`object ${shared.objectId} is not shared`, 'INVALID_ARGUMENT')
    }
    const problems: string[] = []
    for (const ref of owned) {
      const object = this.chain.objects.get(normalizeSuiAddress(ref.objectId))
      if (object == null) problems.push(`Could not find the referenced object ${ref.objectId} at version ${ref.version}`)
      else if (BigInt(ref.version) !== object.version || ref.digest !== object.digest) {
        problems.push(`Object ID ${object.objectId} Version 0x${BigInt(ref.version).toString(16)} Digest ${ref.digest} is not available for consumption, current version: 0x${object.version.toString(16)}`)
      } else if (object.owner !== sender) problems.push(`Object ${object.objectId} is owned by ${object.owner}, not by the sender ${sender}`)
    }
    if (problems.length > 0) {
      throw new RpcError(`Transaction validator signing failed due to issues with transaction inputs, please review the errors and try again:\n- ${problems.join('\n- ')}`, 'INVALID_ARGUMENT')
    }
    const digest = TransactionDataBuilder.getDigestFromBytes(bytes)
    const failure = this.failNextExecution ?? this.moveCallFailure(kind.commands.map(c => c.MoveCall == null ? {} : { moveCall: { package: c.MoveCall.package, module: c.MoveCall.module, function: c.MoveCall.function } }))
    this.failNextExecution = undefined
    this.chain.checkpoint += 1n
    this.chain.changes = new Map()
    const created = failure == null ? applyWalrusCalls(this.chain, kind, sender, digest) : []
    this.chain.fund(sender, SUI_TYPE, -GAS_USED)
    const balanceChanges = [...this.chain.changes].filter(([, amount]) => amount !== 0n).map(([key, amount]) => {
      const [address, coinType] = key.split(' ')
      return { address: address!, coinType: coinType!, amount: amount.toString() }
    })
    this.chain.changes = undefined
    const record = { digest, checkpoint: this.chain.checkpoint, timestampMs: Date.now(), success: failure == null, ...(failure != null ? { error: failure } : {}), created, balanceChanges, transaction: transactionJson(data, digest) }
    this.chain.transactions.set(digest, record)
    for (const ref of owned) {
      this.chain.bump(ref.objectId)
      this.chain.objects.get(normalizeSuiAddress(ref.objectId))!.previousTransaction = digest
    }
    if (failure == null) {
      for (const command of kind.commands) {
        if (command.MoveCall?.function !== 'insert_or_update_metadata_pair') continue
        const [self, key, value] = command.MoveCall!.arguments.map(a => kind.inputs[a.Input!]!)
        const blob = this.chain.objects.get(normalizeSuiAddress(self!.Object!.ImmOrOwnedObject!.objectId))!
        blob.attributes ??= new Map()
        blob.attributes.set(bcs.string().parse(Uint8Array.from(Buffer.from(key!.Pure!.bytes, 'base64'))), bcs.string().parse(Uint8Array.from(Buffer.from(value!.Pure!.bytes, 'base64'))))
      }
    }
    // Execution answers before the checkpoint: the client waits for it with GetTransaction.
    const paths: string[] = request.readMask?.split(',') ?? []
    const { checkpoint: _c, timestampMs: _t, ...beforeCheckpoint } = record
    return { transaction: { ...(this.executedJson({ ...beforeCheckpoint, transaction: paths.some(p => p.startsWith('transaction.')) ? record.transaction : undefined, balanceChanges: masks(paths, 'balanceChanges') ? balanceChanges : undefined }) as object), signatures: request.signatures } }
  }

  /** An owner's objects, of one type if asked; one page, as the stand-in's owners hold few. */
  private listOwnedObjects (request: any): unknown {
    const owner = normalizeSuiAddress(request.owner)
    const paths: string[] = request.readMask?.split(',') ?? []
    const type = request.objectType != null ? normalizeStructTag(request.objectType) : undefined
    const owned = [...this.chain.objects.values()].filter(o => o.owner === owner && o.shared !== true && (type == null || normalizeStructTag(o.type) === type))
    return { objects: owned.map(o => (this.objectJson(o.objectId, paths) as { object: unknown }).object) }
  }

  private getBalance (request: any): unknown {
    const balance = this.chain.balance(request.owner, request.coinType)
    return { balance: { coinType: request.coinType, balance: balance.toString(), coinBalance: balance.toString(), addressBalance: '0' } }
  }

  private getFunction (request: any): unknown {
    const fn = this.functions.get(`${normalizeSuiAddress(request.packageId)}::${request.moduleName}::${request.name}`)
    if (fn == null) throw new RpcError(`function ${request.packageId}::${request.moduleName}::${request.name} not found`, 'NOT_FOUND')
    return { function: fn }
  }
}
