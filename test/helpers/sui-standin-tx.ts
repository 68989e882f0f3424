import { bcs } from '@mysten/sui/bcs'

/**
 * A signed transaction's BCS `TransactionData`, rendered as the proto JSON of
 * `sui.rpc.v2.Transaction` (what ExecuteTransaction returns when its read
 * mask asks for the transaction), for the commands herd's writes use.
 */
type Data = ReturnType<typeof bcs.TransactionData.parse>['V1']
type Arg = { GasCoin?: true | null, Input?: number, Result?: number, NestedResult?: [number, number] }

export function argumentJson (arg: Arg): unknown {
  if (arg.GasCoin != null) return { kind: 'GAS' }
  if (arg.Input != null) return { kind: 'INPUT', input: arg.Input }
  if (arg.Result != null) return { kind: 'RESULT', result: arg.Result }
  if (arg.NestedResult != null) return { kind: 'RESULT', result: arg.NestedResult[0], subresult: arg.NestedResult[1] }
  throw new Error(`argument ${JSON.stringify(arg)} is not served by the stand-in`)
}

export function transactionJson (data: Data, digest: string): unknown {
  const kind = data.kind.ProgrammableTransaction
  if (kind == null) throw new Error('only programmable transactions are served')
  return {
    digest,
    version: 1,
    sender: data.sender,
    kind: {
      kind: 'PROGRAMMABLE_TRANSACTION',
      programmableTransaction: {
        inputs: kind.inputs.map(input => {
          if (input.Pure != null) return { kind: 'PURE', pure: input.Pure.bytes }
          const object = input.Object
          if (object?.ImmOrOwnedObject != null) return { kind: 'IMMUTABLE_OR_OWNED', objectId: object.ImmOrOwnedObject.objectId, version: String(object.ImmOrOwnedObject.version), digest: object.ImmOrOwnedObject.digest }
          if (object?.SharedObject != null) return { kind: 'SHARED', objectId: object.SharedObject.objectId, version: String(object.SharedObject.initialSharedVersion), mutable: object.SharedObject.mutable }
          throw new Error(`input ${JSON.stringify(input)} is not served by the stand-in`)
        }),
        commands: kind.commands.map(command => {
          if (command.MoveCall != null) {
            const call = command.MoveCall
            return { moveCall: { package: call.package, module: call.module, function: call.function, typeArguments: call.typeArguments, arguments: call.arguments.map(argumentJson) } }
          }
          if (command.SplitCoins != null) return { splitCoins: { coin: argumentJson(command.SplitCoins.coin), amounts: command.SplitCoins.amounts.map(argumentJson) } }
          if (command.MergeCoins != null) return { mergeCoins: { coin: argumentJson(command.MergeCoins.destination), coinsToMerge: command.MergeCoins.sources.map(argumentJson) } }
          if (command.TransferObjects != null) return { transferObjects: { objects: command.TransferObjects.objects.map(argumentJson), address: argumentJson(command.TransferObjects.address) } }
          throw new Error(`command ${JSON.stringify(command)} is not served by the stand-in`)
        })
      }
    },
    gasPayment: { objects: data.gasData.payment.map(ref => ({ objectId: ref.objectId, version: String(ref.version), digest: ref.digest })), owner: data.gasData.owner, price: String(data.gasData.price), budget: String(data.gasData.budget) },
    expiration: data.expiration.None != null ? { kind: 'NONE' } : data.expiration.Epoch != null ? { kind: 'EPOCH', epoch: String(data.expiration.Epoch) } : { kind: 'NONE' }
  }
}
