// A hostile peer in a worker thread, driven from the thread that runs the target node.
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'
import type { HerdNode } from '../src/node.js'
import type { AbuseKind, ConnectionAbuse, HostileOutcome, HostileProtocol } from './hostile-stream.js'

export type HostileJobSpec = {
  kind: Exclude<AbuseKind, 'none'>
  protocol: HostileProtocol
  /** Streams at once; the abuse's own count if not given. */
  streams?: number
  /** How long each stream waits for the server to end it. */
  waitMs: number
} | {
  kind: ConnectionAbuse
  /** How long the connection waits for the node to end it. */
  waitMs: number
}

export type HostileJob = HostileJobSpec & { id: number }

export type HostileReply = { id: number, outcomes: HostileOutcome[] } | { id: number, error: string }

export class HostilePeer {
  private readonly worker: Worker
  readonly peerId: string
  private next = 0

  private constructor (worker: Worker, peerId: string) {
    this.worker = worker
    this.peerId = peerId
  }

  /** A peer connected to `node`, on its own thread. */
  static async start (node: HerdNode): Promise<HostilePeer> {
    const worker = new Worker(new URL('./hostile-peer-worker.js', import.meta.url), {
      workerData: { target: node.peerId.toString(), addrs: node.libp2p.getMultiaddrs().map(addr => addr.toString()) }
    })
    const [ready] = await Promise.race([once(worker, 'message'), once(worker, 'error').then(([err]) => { throw err })]) as [{ ready: string }]
    return new HostilePeer(worker, ready.ready)
  }

  /** Opens the abuse's streams on `protocol` at once (or its one connection); their outcomes once each has ended or waited `waitMs`. */
  async run (job: HostileJobSpec): Promise<HostileOutcome[]> {
    const id = ++this.next
    const reply = new Promise<HostileReply>((resolve, reject) => {
      const onMessage = (message: HostileReply): void => {
        if (message.id !== id) return
        this.worker.off('message', onMessage)
        this.worker.off('error', reject)
        resolve(message)
      }
      this.worker.on('message', onMessage)
      this.worker.once('error', reject)
    })
    this.worker.postMessage({ ...job, id } satisfies HostileJob)
    const answer = await reply
    if ('error' in answer) throw new Error(`the hostile peer failed: ${answer.error}`)
    return answer.outcomes
  }

  async stop (): Promise<void> {
    const exited = once(this.worker, 'exit')
    this.worker.postMessage('stop')
    // The worker ends once its libp2p has stopped; past a bound it is ended outright.
    const timer = setTimeout(() => { void this.worker.terminate() }, 10_000)
    await exited
    clearTimeout(timer)
  }
}
