import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Receipt {
  version: number
  modelBlobId: Uint8Array<ArrayBuffer>
  chunkRoot: Uint8Array<ArrayBuffer>
  inputsHash: Uint8Array<ArrayBuffer>
  outputsHash: Uint8Array<ArrayBuffer>
  nodePublicKey: Uint8Array<ArrayBuffer>
  time: bigint
  seq: bigint
}

export namespace Receipt {
  let _codec: Codec<Receipt>

  export const codec = (): Codec<Receipt> => {
    if (_codec == null) {
      _codec = message<Receipt>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if ((obj.modelBlobId != null && obj.modelBlobId.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.modelBlobId)
        }

        if ((obj.chunkRoot != null && obj.chunkRoot.byteLength > 0)) {
          w.uint32(26)
          w.bytes(obj.chunkRoot)
        }

        if ((obj.inputsHash != null && obj.inputsHash.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.inputsHash)
        }

        if ((obj.outputsHash != null && obj.outputsHash.byteLength > 0)) {
          w.uint32(42)
          w.bytes(obj.outputsHash)
        }

        if ((obj.nodePublicKey != null && obj.nodePublicKey.byteLength > 0)) {
          w.uint32(50)
          w.bytes(obj.nodePublicKey)
        }

        if ((obj.time != null && obj.time !== 0n)) {
          w.uint32(56)
          w.uint64(obj.time)
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(64)
          w.uint64(obj.seq)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          modelBlobId: uint8ArrayAlloc(0),
          chunkRoot: uint8ArrayAlloc(0),
          inputsHash: uint8ArrayAlloc(0),
          outputsHash: uint8ArrayAlloc(0),
          nodePublicKey: uint8ArrayAlloc(0),
          time: 0n,
          seq: 0n
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              obj.modelBlobId = reader.bytes()
              break
            }
            case 3: {
              obj.chunkRoot = reader.bytes()
              break
            }
            case 4: {
              obj.inputsHash = reader.bytes()
              break
            }
            case 5: {
              obj.outputsHash = reader.bytes()
              break
            }
            case 6: {
              obj.nodePublicKey = reader.bytes()
              break
            }
            case 7: {
              obj.time = reader.uint64()
              break
            }
            case 8: {
              obj.seq = reader.uint64()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.modelBlobId`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.chunkRoot`,
                value: reader.bytes()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.inputsHash`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.outputsHash`,
                value: reader.bytes()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.nodePublicKey`,
                value: reader.bytes()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ReceiptVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface ReceiptModelBlobIdFieldEvent {
    field: '$.modelBlobId'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReceiptChunkRootFieldEvent {
    field: '$.chunkRoot'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReceiptInputsHashFieldEvent {
    field: '$.inputsHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReceiptOutputsHashFieldEvent {
    field: '$.outputsHash'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReceiptNodePublicKeyFieldEvent {
    field: '$.nodePublicKey'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ReceiptTimeFieldEvent {
    field: '$.time'
    value: bigint
  }

  export interface ReceiptSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export function encode (obj: Partial<Receipt>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Receipt.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Receipt>): Receipt {
    return decodeMessage(buf, Receipt.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Receipt>): Generator<ReceiptVersionFieldEvent | ReceiptModelBlobIdFieldEvent | ReceiptChunkRootFieldEvent | ReceiptInputsHashFieldEvent | ReceiptOutputsHashFieldEvent | ReceiptNodePublicKeyFieldEvent | ReceiptTimeFieldEvent | ReceiptSeqFieldEvent> {
    return streamMessage(buf, Receipt.codec(), opts)
  }
}

export interface SignedReceipt {
  receipt: Uint8Array<ArrayBuffer>
  signature: Uint8Array<ArrayBuffer>
}

export namespace SignedReceipt {
  let _codec: Codec<SignedReceipt>

  export const codec = (): Codec<SignedReceipt> => {
    if (_codec == null) {
      _codec = message<SignedReceipt>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.receipt != null && obj.receipt.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.receipt)
        }

        if ((obj.signature != null && obj.signature.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.signature)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          receipt: uint8ArrayAlloc(0),
          signature: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.receipt = reader.bytes()
              break
            }
            case 2: {
              obj.signature = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.receipt`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.signature`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface SignedReceiptReceiptFieldEvent {
    field: '$.receipt'
    value: Uint8Array<ArrayBuffer>
  }

  export interface SignedReceiptSignatureFieldEvent {
    field: '$.signature'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<SignedReceipt>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, SignedReceipt.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedReceipt>): SignedReceipt {
    return decodeMessage(buf, SignedReceipt.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<SignedReceipt>): Generator<SignedReceiptReceiptFieldEvent | SignedReceiptSignatureFieldEvent> {
    return streamMessage(buf, SignedReceipt.codec(), opts)
  }
}

export interface TensorSet {
  tensors: Uint8Array<ArrayBuffer>[]
}

export namespace TensorSet {
  let _codec: Codec<TensorSet>

  export const codec = (): Codec<TensorSet> => {
    if (_codec == null) {
      _codec = message<TensorSet>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.tensors != null && obj.tensors.length > 0) {
          for (const value of obj.tensors) {
            w.uint32(10)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          tensors: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.tensors != null && obj.tensors.length === opts.limits.tensors) {
                throw new MaxLengthError('Decode error - repeated field "tensors" had too many elements')
              }

              obj.tensors.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          tensors: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.tensors != null && obj.tensors === opts.limits.tensors) {
                throw new MaxLengthError('Streaming decode error - repeated field "tensors" had too many elements')
              }

              yield {
                field: `${prefix}.tensors[]`,
                index: obj.tensors,
                value: reader.bytes()
              }

              obj.tensors++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface TensorSetTensorsFieldEvent {
    field: '$.tensors[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<TensorSet>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, TensorSet.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TensorSet>): TensorSet {
    return decodeMessage(buf, TensorSet.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<TensorSet>): Generator<TensorSetTensorsFieldEvent> {
    return streamMessage(buf, TensorSet.codec(), opts)
  }
}

export interface Bundle {
  version: number
  receipts: Uint8Array<ArrayBuffer>[]
  inputs: Uint8Array<ArrayBuffer>[]
  outputs: Uint8Array<ArrayBuffer>[]
}

export namespace Bundle {
  let _codec: Codec<Bundle>

  export const codec = (): Codec<Bundle> => {
    if (_codec == null) {
      _codec = message<Bundle>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.version != null && obj.version !== 0)) {
          w.uint32(8)
          w.uint32(obj.version)
        }

        if (obj.receipts != null && obj.receipts.length > 0) {
          for (const value of obj.receipts) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (obj.inputs != null && obj.inputs.length > 0) {
          for (const value of obj.inputs) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if (obj.outputs != null && obj.outputs.length > 0) {
          for (const value of obj.outputs) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          version: 0,
          receipts: [],
          inputs: [],
          outputs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.version = reader.uint32()
              break
            }
            case 2: {
              if (opts.limits?.receipts != null && obj.receipts.length === opts.limits.receipts) {
                throw new MaxLengthError('Decode error - repeated field "receipts" had too many elements')
              }

              obj.receipts.push(reader.bytes())
              break
            }
            case 3: {
              if (opts.limits?.inputs != null && obj.inputs.length === opts.limits.inputs) {
                throw new MaxLengthError('Decode error - repeated field "inputs" had too many elements')
              }

              obj.inputs.push(reader.bytes())
              break
            }
            case 4: {
              if (opts.limits?.outputs != null && obj.outputs.length === opts.limits.outputs) {
                throw new MaxLengthError('Decode error - repeated field "outputs" had too many elements')
              }

              obj.outputs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          receipts: 0,
          inputs: 0,
          outputs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.version`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              if (opts.limits?.receipts != null && obj.receipts === opts.limits.receipts) {
                throw new MaxLengthError('Streaming decode error - repeated field "receipts" had too many elements')
              }

              yield {
                field: `${prefix}.receipts[]`,
                index: obj.receipts,
                value: reader.bytes()
              }

              obj.receipts++

              break
            }
            case 3: {
              if (opts.limits?.inputs != null && obj.inputs === opts.limits.inputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "inputs" had too many elements')
              }

              yield {
                field: `${prefix}.inputs[]`,
                index: obj.inputs,
                value: reader.bytes()
              }

              obj.inputs++

              break
            }
            case 4: {
              if (opts.limits?.outputs != null && obj.outputs === opts.limits.outputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "outputs" had too many elements')
              }

              yield {
                field: `${prefix}.outputs[]`,
                index: obj.outputs,
                value: reader.bytes()
              }

              obj.outputs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface BundleVersionFieldEvent {
    field: '$.version'
    value: number
  }

  export interface BundleReceiptsFieldEvent {
    field: '$.receipts[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BundleInputsFieldEvent {
    field: '$.inputs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface BundleOutputsFieldEvent {
    field: '$.outputs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Bundle>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Bundle.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Bundle>): Bundle {
    return decodeMessage(buf, Bundle.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Bundle>): Generator<BundleVersionFieldEvent | BundleReceiptsFieldEvent | BundleInputsFieldEvent | BundleOutputsFieldEvent> {
    return streamMessage(buf, Bundle.codec(), opts)
  }
}
