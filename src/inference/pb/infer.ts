import { decodeMessage, encodeMessage, enumeration, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Tensor {
  name: string
  type: string
  dims: bigint[]
  data: Uint8Array<ArrayBuffer>
  strings: string[]
}

export namespace Tensor {
  let _codec: Codec<Tensor>

  export const codec = (): Codec<Tensor> => {
    if (_codec == null) {
      _codec = message<Tensor>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.name != null && obj.name !== '')) {
          w.uint32(10)
          w.string(obj.name)
        }

        if ((obj.type != null && obj.type !== '')) {
          w.uint32(18)
          w.string(obj.type)
        }

        if (obj.dims != null && obj.dims.length > 0) {
          for (const value of obj.dims) {
            w.uint32(24)
            w.uint64(value)
          }
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.data)
        }

        if (obj.strings != null && obj.strings.length > 0) {
          for (const value of obj.strings) {
            w.uint32(42)
            w.string(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          name: '',
          type: '',
          dims: [],
          data: uint8ArrayAlloc(0),
          strings: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.name = reader.string()
              break
            }
            case 2: {
              obj.type = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.dims != null && obj.dims.length === opts.limits.dims) {
                throw new MaxLengthError('Decode error - repeated field "dims" had too many elements')
              }

              obj.dims.push(reader.uint64())
              break
            }
            case 4: {
              obj.data = reader.bytes()
              break
            }
            case 5: {
              if (opts.limits?.strings != null && obj.strings.length === opts.limits.strings) {
                throw new MaxLengthError('Decode error - repeated field "strings" had too many elements')
              }

              obj.strings.push(reader.string())
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
          dims: 0,
          strings: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.name`,
                value: reader.string()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.type`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.dims != null && obj.dims === opts.limits.dims) {
                throw new MaxLengthError('Streaming decode error - repeated field "dims" had too many elements')
              }

              yield {
                field: `${prefix}.dims[]`,
                index: obj.dims,
                value: reader.uint64()
              }

              obj.dims++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              if (opts.limits?.strings != null && obj.strings === opts.limits.strings) {
                throw new MaxLengthError('Streaming decode error - repeated field "strings" had too many elements')
              }

              yield {
                field: `${prefix}.strings[]`,
                index: obj.strings,
                value: reader.string()
              }

              obj.strings++

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

  export interface TensorNameFieldEvent {
    field: '$.name'
    value: string
  }

  export interface TensorTypeFieldEvent {
    field: '$.type'
    value: string
  }

  export interface TensorDimsFieldEvent {
    field: '$.dims[]'
    index: number
    value: bigint
  }

  export interface TensorDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface TensorStringsFieldEvent {
    field: '$.strings[]'
    index: number
    value: string
  }

  export function encode (obj: Partial<Tensor>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Tensor.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Tensor>): Tensor {
    return decodeMessage(buf, Tensor.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Tensor>): Generator<TensorNameFieldEvent | TensorTypeFieldEvent | TensorDimsFieldEvent | TensorDataFieldEvent | TensorStringsFieldEvent> {
    return streamMessage(buf, Tensor.codec(), opts)
  }
}

export interface InferRequest {
  model: string
  inputs: Tensor[]
  deadlineMs: number
  hops: number
}

export namespace InferRequest {
  let _codec: Codec<InferRequest>

  export const codec = (): Codec<InferRequest> => {
    if (_codec == null) {
      _codec = message<InferRequest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.model != null && obj.model !== '')) {
          w.uint32(10)
          w.string(obj.model)
        }

        if (obj.inputs != null && obj.inputs.length > 0) {
          for (const value of obj.inputs) {
            w.uint32(18)
            Tensor.codec().encode(value, w)
          }
        }

        if ((obj.deadlineMs != null && obj.deadlineMs !== 0)) {
          w.uint32(24)
          w.uint32(obj.deadlineMs)
        }

        if ((obj.hops != null && obj.hops !== 0)) {
          w.uint32(32)
          w.uint32(obj.hops)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          model: '',
          inputs: [],
          deadlineMs: 0,
          hops: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.model = reader.string()
              break
            }
            case 2: {
              if (opts.limits?.inputs != null && obj.inputs.length === opts.limits.inputs) {
                throw new MaxLengthError('Decode error - repeated field "inputs" had too many elements')
              }

              obj.inputs.push(Tensor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.inputs$
              }))
              break
            }
            case 3: {
              obj.deadlineMs = reader.uint32()
              break
            }
            case 4: {
              obj.hops = reader.uint32()
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
          inputs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.model`,
                value: reader.string()
              }
              break
            }
            case 2: {
              if (opts.limits?.inputs != null && obj.inputs === opts.limits.inputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "inputs" had too many elements')
              }

              for (const evt of Tensor.codec().stream(reader, reader.uint32(), `${prefix}.inputs[]`, {
                limits: opts.limits?.inputs$
              })) {
                yield {
                  ...evt,
                  index: obj.inputs
                }
              }

              obj.inputs++

              break
            }
            case 3: {
              yield {
                field: `${prefix}.deadlineMs`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.hops`,
                value: reader.uint32()
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

  export interface InferRequestModelFieldEvent {
    field: '$.model'
    value: string
  }

  export interface InferRequestInputsNameFieldEvent {
    field: '$.inputs[].name'
    value: string
    index: number
  }

  export interface InferRequestInputsTypeFieldEvent {
    field: '$.inputs[].type'
    value: string
    index: number
  }

  export interface InferRequestInputsDimsFieldEvent {
    field: '$.inputs[].dims[]'
    index: number
    value: bigint
  }

  export interface InferRequestInputsDataFieldEvent {
    field: '$.inputs[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface InferRequestInputsStringsFieldEvent {
    field: '$.inputs[].strings[]'
    index: number
    value: string
  }

  export interface InferRequestDeadlineMsFieldEvent {
    field: '$.deadlineMs'
    value: number
  }

  export interface InferRequestHopsFieldEvent {
    field: '$.hops'
    value: number
  }

  export function encode (obj: Partial<InferRequest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferRequest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): InferRequest {
    return decodeMessage(buf, InferRequest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferRequest>): Generator<InferRequestModelFieldEvent | InferRequestInputsNameFieldEvent | InferRequestInputsTypeFieldEvent | InferRequestInputsDimsFieldEvent | InferRequestInputsDataFieldEvent | InferRequestInputsStringsFieldEvent | InferRequestDeadlineMsFieldEvent | InferRequestHopsFieldEvent> {
    return streamMessage(buf, InferRequest.codec(), opts)
  }
}

export interface InferReply {
  status: InferReply.Status
  message: string
  outputs: Tensor[]
  node: string
  modelBlobId: string
  runMs: number
  receipt: Uint8Array<ArrayBuffer>
}

export namespace InferReply {
  export enum Status {
    OK = 'OK',
    BAD_REQUEST = 'BAD_REQUEST',
    UNKNOWN_MODEL = 'UNKNOWN_MODEL',
    BUSY = 'BUSY',
    DEADLINE_EXCEEDED = 'DEADLINE_EXCEEDED',
    UNAVAILABLE = 'UNAVAILABLE',
    INTERNAL = 'INTERNAL',
    TOO_LARGE = 'TOO_LARGE',
    BAD_GATEWAY = 'BAD_GATEWAY'
  }

  enum __StatusValues {
    OK = 0,
    BAD_REQUEST = 1,
    UNKNOWN_MODEL = 2,
    BUSY = 3,
    DEADLINE_EXCEEDED = 4,
    UNAVAILABLE = 5,
    INTERNAL = 6,
    TOO_LARGE = 7,
    BAD_GATEWAY = 8
  }

  export namespace Status {
    export const codec = (): Codec<Status> => {
      return enumeration<Status>(__StatusValues)
    }
  }

  let _codec: Codec<InferReply>

  export const codec = (): Codec<InferReply> => {
    if (_codec == null) {
      _codec = message<InferReply>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.status != null && __StatusValues[obj.status] !== 0) {
          w.uint32(8)
          InferReply.Status.codec().encode(obj.status, w)
        }

        if ((obj.message != null && obj.message !== '')) {
          w.uint32(18)
          w.string(obj.message)
        }

        if (obj.outputs != null && obj.outputs.length > 0) {
          for (const value of obj.outputs) {
            w.uint32(26)
            Tensor.codec().encode(value, w)
          }
        }

        if ((obj.node != null && obj.node !== '')) {
          w.uint32(34)
          w.string(obj.node)
        }

        if ((obj.modelBlobId != null && obj.modelBlobId !== '')) {
          w.uint32(42)
          w.string(obj.modelBlobId)
        }

        if ((obj.runMs != null && obj.runMs !== 0)) {
          w.uint32(48)
          w.uint32(obj.runMs)
        }

        if ((obj.receipt != null && obj.receipt.byteLength > 0)) {
          w.uint32(58)
          w.bytes(obj.receipt)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          status: Status.OK,
          message: '',
          outputs: [],
          node: '',
          modelBlobId: '',
          runMs: 0,
          receipt: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.status = InferReply.Status.codec().decode(reader)
              break
            }
            case 2: {
              obj.message = reader.string()
              break
            }
            case 3: {
              if (opts.limits?.outputs != null && obj.outputs.length === opts.limits.outputs) {
                throw new MaxLengthError('Decode error - repeated field "outputs" had too many elements')
              }

              obj.outputs.push(Tensor.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.outputs$
              }))
              break
            }
            case 4: {
              obj.node = reader.string()
              break
            }
            case 5: {
              obj.modelBlobId = reader.string()
              break
            }
            case 6: {
              obj.runMs = reader.uint32()
              break
            }
            case 7: {
              obj.receipt = reader.bytes()
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
          outputs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.status`,
                value: InferReply.Status.codec().decode(reader)
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.message`,
                value: reader.string()
              }
              break
            }
            case 3: {
              if (opts.limits?.outputs != null && obj.outputs === opts.limits.outputs) {
                throw new MaxLengthError('Streaming decode error - repeated field "outputs" had too many elements')
              }

              for (const evt of Tensor.codec().stream(reader, reader.uint32(), `${prefix}.outputs[]`, {
                limits: opts.limits?.outputs$
              })) {
                yield {
                  ...evt,
                  index: obj.outputs
                }
              }

              obj.outputs++

              break
            }
            case 4: {
              yield {
                field: `${prefix}.node`,
                value: reader.string()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.modelBlobId`,
                value: reader.string()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.runMs`,
                value: reader.uint32()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.receipt`,
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

  export interface InferReplyStatusFieldEvent {
    field: '$.status'
    value: InferReply.Status
  }

  export interface InferReplyMessageFieldEvent {
    field: '$.message'
    value: string
  }

  export interface InferReplyOutputsNameFieldEvent {
    field: '$.outputs[].name'
    value: string
    index: number
  }

  export interface InferReplyOutputsTypeFieldEvent {
    field: '$.outputs[].type'
    value: string
    index: number
  }

  export interface InferReplyOutputsDimsFieldEvent {
    field: '$.outputs[].dims[]'
    index: number
    value: bigint
  }

  export interface InferReplyOutputsDataFieldEvent {
    field: '$.outputs[].data'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface InferReplyOutputsStringsFieldEvent {
    field: '$.outputs[].strings[]'
    index: number
    value: string
  }

  export interface InferReplyNodeFieldEvent {
    field: '$.node'
    value: string
  }

  export interface InferReplyModelBlobIdFieldEvent {
    field: '$.modelBlobId'
    value: string
  }

  export interface InferReplyRunMsFieldEvent {
    field: '$.runMs'
    value: number
  }

  export interface InferReplyReceiptFieldEvent {
    field: '$.receipt'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<InferReply>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, InferReply.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferReply>): InferReply {
    return decodeMessage(buf, InferReply.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<InferReply>): Generator<InferReplyStatusFieldEvent | InferReplyMessageFieldEvent | InferReplyOutputsNameFieldEvent | InferReplyOutputsTypeFieldEvent | InferReplyOutputsDimsFieldEvent | InferReplyOutputsDataFieldEvent | InferReplyOutputsStringsFieldEvent | InferReplyNodeFieldEvent | InferReplyModelBlobIdFieldEvent | InferReplyRunMsFieldEvent | InferReplyReceiptFieldEvent> {
    return streamMessage(buf, InferReply.codec(), opts)
  }
}
