import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { pbStream } from '@libp2p/utils'
import { asInferError, InferError, type InferErrorCode } from './infer-errors.js'
import type { InferenceService, InferInput, InferResult } from './inference-service.js'
import { InferReply, InferRequest } from './pb/infer.js'
import { tensorFromProto, tensorToProto, type TensorLimits } from './tensor-codec.js'

const log = logger('herd:inference:protocol')

export const INFER_PROTOCOL = '/herd/infer/1.0.0'
export const MAX_INFER_REQUEST_BYTES = 64 * 1024 * 1024
export const MAX_INFER_REPLY_BYTES = 256 * 1024 * 1024
/** Concurrent inference streams per connection: the per-peer limit. */
export const MAX_INBOUND_INFER_STREAMS = 4
export const REQUEST_READ_TIMEOUT_MS = 30_000

export interface InferServerComponents {
  registrar: {
    handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
  }
  service: Pick<InferenceService, 'infer'>
  limits?: Partial<TensorLimits>
}

/** Serves /herd/infer/1.0.0: one request and one reply per stream; the run is cancelled if the caller goes away. */
export class InferServer {
  private readonly components: InferServerComponents
  private readonly active = new Set<Promise<void>>()

  constructor (components: InferServerComponents) {
    this.components = components
  }

  async start (): Promise<void> {
    await this.components.registrar.handle(INFER_PROTOCOL, (stream, connection) => {
      const work = this.serve(stream, connection).finally(() => { this.active.delete(work) })
      this.active.add(work)
    }, { maxInboundStreams: MAX_INBOUND_INFER_STREAMS, maxOutboundStreams: 16 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(INFER_PROTOCOL)
    await Promise.allSettled([...this.active])
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const gone = new AbortController()
    const onClose = (): void => { gone.abort(new Error('the caller went away')) }
    stream.addEventListener('close', onClose)
    // The read buffer must hold a whole message: its default (4 MiB) is smaller than a large request.
    const pb = pbStream(stream, { maxDataLength: MAX_INFER_REQUEST_BYTES, maxBufferSize: MAX_INFER_REQUEST_BYTES + 1024 })
    const reply = async (fields: Partial<InferReply>): Promise<void> => {
      await pb.write({ status: InferReply.Status.OK, message: '', outputs: [], node: '', modelBlobId: '', runMs: 0, receipt: new Uint8Array(0), ...fields }, InferReply, { signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) })
    }
    try {
      let request: InferRequest
      try {
        request = await pb.read(InferRequest, { signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS), limits: { inputs: this.components.limits?.maxTensors ?? 64 } })
      } catch (err) {
        const tooLarge = (err as Error).name === 'InvalidDataLengthError'
        await reply({ status: tooLarge ? InferReply.Status.TOO_LARGE : InferReply.Status.BAD_REQUEST, message: `unreadable request: ${(err as Error).message}` })
        return
      }
      let result: InferResult
      try {
        const inputs = decodeInputs(request, this.components.limits)
        result = await this.components.service.infer({ model: request.model, inputs, deadlineMs: request.deadlineMs, hops: request.hops }, { signal: gone.signal })
      } catch (err) {
        if (gone.signal.aborted) return
        const known = asInferError(err) ?? new InferError('INTERNAL', (err as Error).message)
        await reply({ status: InferReply.Status[known.code], message: known.message })
        return
      }
      await reply({
        outputs: Object.entries(result.outputs).map(([name, tensor]) => tensorToProto(name, tensor)),
        node: result.node,
        modelBlobId: result.modelBlobId,
        runMs: Math.round(result.runMs),
        ...(result.receipt != null ? { receipt: result.receipt as Uint8Array<ArrayBuffer> } : {})
      })
    } catch (err) {
      log('inference stream from %p failed - %e', connection.remotePeer, err)
      stream.abort(err as Error)
    } finally {
      stream.removeEventListener('close', onClose)
      // Every path closes the stream: a half-open one would count against the peer's stream limit.
      if (stream.status === 'open') await stream.close({ signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) }).catch(err => { stream.abort(err as Error) })
    }
  }
}

function decodeInputs (request: InferRequest, limits?: Partial<TensorLimits>): InferInput['inputs'] {
  const inputs: InferInput['inputs'] = {}
  for (const tensor of request.inputs) {
    if (Object.hasOwn(inputs, tensor.name)) throw new InferError('BAD_REQUEST', `input ${tensor.name} is given twice`)
    inputs[tensor.name] = tensorFromProto(tensor, limits)
  }
  return inputs
}

export interface InferClientComponents {
  dialProtocol: (peer: PeerId, protocol: string, options: { signal: AbortSignal }) => Promise<Stream>
}

/** Asks a peer to run a model over /herd/infer/1.0.0. */
export class InferClient {
  private readonly components: InferClientComponents

  constructor (components: InferClientComponents) {
    this.components = components
  }

  async infer (peer: PeerId, input: InferInput, options: { signal: AbortSignal, limits?: Partial<TensorLimits> }): Promise<InferResult> {
    const stream = await this.components.dialProtocol(peer, INFER_PROTOCOL, { signal: options.signal })
    try {
      const pb = pbStream(stream, { maxDataLength: MAX_INFER_REPLY_BYTES, maxBufferSize: MAX_INFER_REPLY_BYTES + 1024 })
      await pb.write({
        model: input.model,
        inputs: Object.entries(input.inputs).map(([name, tensor]) => tensorToProto(name, tensor)),
        deadlineMs: input.deadlineMs ?? 0,
        hops: input.hops ?? 0
      }, InferRequest, { signal: options.signal })
      const reply = await pb.read(InferReply, { signal: options.signal, limits: { outputs: options.limits?.maxTensors ?? 64 } })
      await stream.close({ signal: options.signal }).catch(() => {})
      if (reply.status !== InferReply.Status.OK) throw new InferError(reply.status as InferErrorCode, `${peer.toString()}: ${reply.message}`)
      const outputs: InferResult['outputs'] = {}
      for (const tensor of reply.outputs) outputs[tensor.name] = tensorFromProto(tensor, options.limits)
      return { outputs, node: reply.node, modelBlobId: reply.modelBlobId, runMs: reply.runMs, route: 'forwarded', ...(reply.receipt.byteLength > 0 ? { receipt: reply.receipt } : {}) }
    } catch (err) {
      stream.abort(err as Error)
      throw err
    }
  }
}
