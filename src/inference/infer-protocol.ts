import type { Connection, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { framedStream, type FramedStream } from '../mesh/length-prefixed.js'
import { InferError, type InferErrorCode } from './infer-errors.js'
import { decodeInputs, errorReply, reply, resultReply } from './infer-messages.js'
import { encodeReply, encodeRequest } from './infer-wire.js'
import type { InferenceService, InferInput, InferResult } from './inference-service.js'
import { InferReply, InferRequest } from './pb/infer.js'
import { StreamWaits } from './stream-waits.js'
import { DEFAULT_MAX_TENSORS, tensorFromProto, tensorsToProto, type TensorLimits } from './tensor-codec.js'

const log = logger('herd:inference:protocol')

export const INFER_PROTOCOL = '/herd/infer/1.0.0'
export const MAX_INFER_REQUEST_BYTES = 64 * 1024 * 1024
export const MAX_INFER_REPLY_BYTES = 256 * 1024 * 1024
/** Inference streams per connection, in use or kept open by the caller: the per-peer limit. */
export const MAX_INBOUND_INFER_STREAMS = 8
export const REQUEST_READ_TIMEOUT_MS = 30_000
/** A stream with no request for this long after a reply is closed by the server. */
export const IDLE_STREAM_MS = 30_000
/**
 * Kept streams per peer, and how long one is kept: under the server's
 * IDLE_STREAM_MS, so the client closes first. Four cover a caller with four
 * requests in flight without opening and closing streams, and, with streams
 * still closing, stay within the server's MAX_INBOUND_INFER_STREAMS.
 */
export const MAX_IDLE_STREAMS_PER_PEER = 4
export const CLIENT_IDLE_STREAM_MS = 20_000
/**
 * A kept stream that failed before the server could have taken the request:
 * the write failed, or the server had closed it cleanly (it closes only while
 * idle between requests). Then the request is sent again on a new stream; a
 * reset after the write may come after the run, which must not run twice.
 */
function notReceived (err: Error, sent: boolean): boolean {
  return !sent ? END_OF_REQUESTS.has(err.name) : err.name === 'UnexpectedEOFError'
}

/** Read errors that mean the caller is done with the stream (closed, reset, idle), not a malformed request. */
const END_OF_REQUESTS = new Set(['UnexpectedEOFError', 'TimeoutError', 'AbortError', 'StreamResetError', 'StreamStateError'])

export interface InferServerComponents {
  registrar: {
    handle: (protocol: string, handler: (stream: Stream, connection: Connection) => void | Promise<void>, options: { maxInboundStreams: number, maxOutboundStreams: number }) => Promise<void>
    unhandle: (protocol: string) => Promise<void>
  }
  service: Pick<InferenceService, 'infer'>
  limits?: Partial<TensorLimits>
}

/**
 * Serves /herd/infer/1.0.0: requests and replies in turn on one stream, until
 * the caller closes it or leaves it idle for `IDLE_STREAM_MS`; a run is
 * cancelled if the caller goes away.
 */
export class InferServer {
  private readonly components: InferServerComponents
  private readonly active = new Set<Promise<void>>()
  /** Ends the waits for a next request on kept streams, so stop() does not wait out their idle time. */
  private stopping = new AbortController()

  constructor (components: InferServerComponents) {
    this.components = components
  }

  async start (): Promise<void> {
    if (this.stopping.signal.aborted) this.stopping = new AbortController()
    await this.components.registrar.handle(INFER_PROTOCOL, (stream, connection) => {
      const work = this.serve(stream, connection).finally(() => { this.active.delete(work) })
      this.active.add(work)
    }, { maxInboundStreams: MAX_INBOUND_INFER_STREAMS, maxOutboundStreams: 16 })
  }

  async stop (): Promise<void> {
    await this.components.registrar.unhandle(INFER_PROTOCOL)
    this.stopping.abort(new Error('the inference server is stopping'))
    await Promise.allSettled([...this.active])
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const gone = new AbortController()
    const onClose = (): void => { gone.abort(new Error('the caller went away')) }
    stream.addEventListener('close', onClose)
    // The read buffer must hold a whole message: its default (4 MiB) is smaller than a large request.
    const pb = framedStream(stream, { maxDataLength: MAX_INFER_REQUEST_BYTES, maxBufferSize: MAX_INFER_REQUEST_BYTES + 1024 })
    const stopping = this.stopping.signal
    const waits = new StreamWaits(REQUEST_READ_TIMEOUT_MS, stopping)
    const decodeOptions = { limits: { inputs: this.components.limits?.maxTensors ?? DEFAULT_MAX_TENSORS } }
    const send = async (message: InferReply): Promise<void> => {
      try {
        // The answer to a request that never came whole, after its wait ran out, has a time of its own.
        await pb.write(encodeReply(message), { signal: waits.signal.aborted ? AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) : waits.forReply() })
      } finally {
        waits.done()
      }
    }
    try {
      for (let served = 0; stream.status === 'open' && !gone.signal.aborted && !stopping.aborted; served++) {
        let request: InferRequest
        try {
          request = await pb.readMessage(InferRequest, { signal: waits.forRequest(served === 0 ? REQUEST_READ_TIMEOUT_MS : IDLE_STREAM_MS), ...decodeOptions })
        } catch (err) {
          // A length prefix that does not end is no honest caller's: reset, not answered.
          if ((err as Error).name === 'LengthPrefixTooLongError') throw err
          // Our stopping, or the caller closing a stream it kept (after a reply, or opened ahead and never used): nothing to answer.
          if (stopping.aborted || (err as Error).name === 'UnexpectedEOFError') return
          // After a reply, the caller resetting the stream or leaving it idle ends it too.
          if (served > 0 && END_OF_REQUESTS.has((err as Error).name)) return
          const tooLarge = (err as Error).name === 'MessageTooLargeError'
          await send(reply({ status: tooLarge ? InferReply.Status.TOO_LARGE : InferReply.Status.BAD_REQUEST, message: `unreadable request: ${(err as Error).message}` }))
          return
        } finally {
          waits.done()
        }
        const answer = await this.answer(request, gone.signal)
        if (gone.signal.aborted) return
        await send(answer)
      }
    } catch (err) {
      log('inference stream from %p failed - %e', connection.remotePeer, err)
      stream.abort(err as Error)
    } finally {
      waits.clear()
      stream.removeEventListener('close', onClose)
      // Every path closes the stream: a half-open one would count against the peer's stream limit.
      if (stream.status === 'open') await stream.close({ signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) }).catch(err => { stream.abort(err as Error) })
    }
  }

  /** The reply to one request: the outputs, or the error's code and message. */
  private async answer (request: InferRequest, signal: AbortSignal): Promise<InferReply> {
    try {
      const inputs = decodeInputs(request, this.components.limits)
      return resultReply(await this.components.service.infer({ model: request.model, inputs, deadlineMs: request.deadlineMs, hops: request.hops }, { signal }))
    } catch (err) {
      return errorReply(err)
    }
  }
}

export interface InferClientComponents {
  dialProtocol: (peer: PeerId, protocol: string, options: { signal: AbortSignal }) => Promise<Stream>
}

interface OpenStream {
  stream: Stream
  pb: FramedStream
  idleTimer?: NodeJS.Timeout
}

/**
 * Asks peers to run models over /herd/infer/1.0.0. A stream whose reply came
 * back, or one opened ahead by `prepare`, is kept for the next request to the
 * same peer (opening one costs about half a millisecond, more for a peer's
 * first), at most `MAX_IDLE_STREAMS_PER_PEER` of them and for less than the
 * server keeps it.
 */
export class InferClient {
  private readonly components: InferClientComponents
  private readonly idle = new Map<string, OpenStream[]>()
  /** After close(), streams are not kept: a request still in flight closes its own. */
  private closed = false

  constructor (components: InferClientComponents) {
    this.components = components
  }

  async infer (peer: PeerId, input: InferInput, options: { signal: AbortSignal, limits?: Partial<TensorLimits> }): Promise<InferResult> {
    const request = {
      model: input.model,
      inputs: tensorsToProto(input.inputs),
      deadlineMs: input.deadlineMs ?? 0,
      hops: input.hops ?? 0
    }
    let reused = this.takeIdle(peer)
    for (;;) {
      const open = reused ?? await this.open(peer, options.signal)
      let reply: InferReply
      let sent = false
      try {
        await open.pb.write(encodeRequest(request), { signal: options.signal })
        sent = true
        reply = await open.pb.readMessage(InferReply, { signal: options.signal, limits: { outputs: options.limits?.maxTensors ?? DEFAULT_MAX_TENSORS } })
      } catch (err) {
        open.stream.abort(err as Error)
        if (reused != null && !options.signal.aborted && notReceived(err as Error, sent)) {
          reused = undefined
          continue
        }
        throw err
      }
      this.keep(peer, open)
      if (reply.status !== InferReply.Status.OK) throw new InferError(reply.status as InferErrorCode, `${peer.toString()}: ${reply.message}`)
      const outputs: InferResult['outputs'] = {}
      for (const tensor of reply.outputs) outputs[tensor.name] = tensorFromProto(tensor, options.limits)
      return { outputs, node: reply.node, modelBlobId: reply.modelBlobId, runMs: reply.runMs, route: 'forwarded', ...(reply.receipt.byteLength > 0 ? { receipt: reply.receipt } : {}) }
    }
  }

  /**
   * Opens a stream to `peer` ahead of its first request and keeps it as a
   * stream whose reply came back, so that request does not wait for a stream
   * to open (the node does this for each peer that speaks the protocol).
   */
  async prepare (peer: PeerId, options: { signal: AbortSignal }): Promise<void> {
    if (this.closed || this.idleStreams(peer) > 0) return
    this.keep(peer, await this.open(peer, options.signal))
  }

  /** Streams kept for the next requests to `peer`. */
  idleStreams (peer: PeerId): number {
    return this.idle.get(peer.toString())?.length ?? 0
  }

  /** Closes the kept streams. */
  async close (): Promise<void> {
    this.closed = true
    const all = [...this.idle.values()].flat()
    this.idle.clear()
    await Promise.all(all.map(async open => { await this.closeStream(open) }))
  }

  private async open (peer: PeerId, signal: AbortSignal): Promise<OpenStream> {
    const stream = await this.components.dialProtocol(peer, INFER_PROTOCOL, { signal })
    return { stream, pb: framedStream(stream, { maxDataLength: MAX_INFER_REPLY_BYTES, maxBufferSize: MAX_INFER_REPLY_BYTES + 1024 }) }
  }

  private takeIdle (peer: PeerId): OpenStream | undefined {
    const list = this.idle.get(peer.toString())
    for (let open = list?.pop(); open != null; open = list?.pop()) {
      clearTimeout(open.idleTimer)
      if (open.stream.status === 'open' && open.stream.writeStatus === 'writable') return open
      open.stream.abort(new Error('closed while idle'))
    }
    return undefined
  }

  private keep (peer: PeerId, open: OpenStream): void {
    const key = peer.toString()
    const list = this.idle.get(key) ?? []
    if (this.closed || list.length >= MAX_IDLE_STREAMS_PER_PEER || open.stream.status !== 'open') {
      void this.closeStream(open)
      return
    }
    open.idleTimer = setTimeout(() => {
      const at = list.indexOf(open)
      if (at >= 0) list.splice(at, 1)
      if (list.length === 0 && this.idle.get(key) === list) this.idle.delete(key)
      void this.closeStream(open)
    }, CLIENT_IDLE_STREAM_MS)
    open.idleTimer.unref()
    list.push(open)
    this.idle.set(key, list)
  }

  private async closeStream (open: OpenStream): Promise<void> {
    clearTimeout(open.idleTimer)
    await open.stream.close({ signal: AbortSignal.timeout(REQUEST_READ_TIMEOUT_MS) }).catch(err => { open.stream.abort(err as Error) })
  }
}
