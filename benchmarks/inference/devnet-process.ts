// The inference benchmark's devnet (local Walrus and ledger) in a child process of its own, as production's Walrus and Sui are elsewhere: in the holder's process its Walrus encoded the holder's receipt bundles and its GC marked their heap, and that CPU counted as the holder's.
import { fork, type ChildProcess } from 'node:child_process'
import type { PublishedModel, PublishOptions } from '../../harness/in-process-mesh.js'
import type { ChildAnswer } from '../child-ipc.js'

/** What the parent asks; each request carries an `id` that its answer repeats. */
export type DevnetRequest =
  | { op: 'start', dir: string }
  | { op: 'publishFile', path: string, options: PublishOptions }
  | { op: 'cpu' }
  | { op: 'stop' }


const CHILD_SCRIPT = new URL('./devnet-child.js', import.meta.url)
/** A start or a publish of a model of a few MB: a minute is ample on a loaded machine. */
const REQUEST_MS = 120_000
/** A stop that takes longer is a hung child: it is killed. */
const STOP_MS = 15_000

/** The devnet's addresses, as node configs take them (`quickNodeConfig`). */
export class DevnetProcess {
  private readonly child: ChildProcess
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  private next = 0
  private readonly exited: Promise<void>
  walrus = { url: '' }
  ledgerUrl = ''

  constructor () {
    this.child = fork(CHILD_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.exited = new Promise(resolve => this.child.once('exit', () => {
      for (const { reject } of this.waiting.values()) reject(new Error('the devnet process exited'))
      this.waiting.clear()
      resolve()
    }))
    this.child.on('error', err => { console.error(`# devnet process: ${err.message}`) })
    this.child.on('message', (answer: ChildAnswer) => {
      const waiter = this.waiting.get(answer.id)
      if (waiter == null) return
      this.waiting.delete(answer.id)
      if (answer.ok) waiter.resolve(answer.value)
      else waiter.reject(new Error(`devnet process: ${answer.error}`))
    })
  }

  private async ask<T> (request: DevnetRequest, timeoutMs = REQUEST_MS): Promise<T> {
    // A request to a child already gone would wait out its whole timeout.
    if (!this.child.connected) throw new Error(`devnet process: ${request.op} after the process exited`)
    const id = ++this.next
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`devnet process: ${request.op} took over ${timeoutMs} ms`)) }, timeoutMs)
      this.waiting.set(id, {
        resolve: value => { clearTimeout(timer); resolve(value as T) },
        reject: err => { clearTimeout(timer); reject(err) }
      })
      this.child.send({ ...request, id })
    })
  }

  async start (dir: string): Promise<void> {
    const urls = await this.ask<{ walrus: string, ledger: string }>({ op: 'start', dir })
    this.walrus = { url: urls.walrus }
    this.ledgerUrl = urls.ledger
  }

  async publishFile (path: string, options: PublishOptions = {}): Promise<PublishedModel> {
    return this.ask<PublishedModel>({ op: 'publishFile', path, options })
  }

  /** The CPU the devnet's process has used so far, in seconds: what the holder's receipt bundles cost Walrus and the ledger. */
  async cpuSeconds (): Promise<number> {
    return this.ask<number>({ op: 'cpu' })
  }

  async stop (): Promise<void> {
    if (this.child.exitCode == null && this.child.connected) await this.ask({ op: 'stop' }, STOP_MS).catch(() => {})
    const kill = setTimeout(() => { this.child.kill('SIGKILL') }, STOP_MS)
    await this.exited
    clearTimeout(kill)
  }
}
