// The inference benchmark's askers, each in a child process (asker-process.ts), as peers of a holder in this process.
import { fork, type ChildProcess } from 'node:child_process'
import type { AskerLoad, AskerRequest } from './asker-process.js'
import type { ChildAnswer } from '../child-ipc.js'

const ASKER_SCRIPT = new URL('./asker-process.js', import.meta.url)
/** Any one request to an asker: a start, a dial, or a load run of up to 10 minutes. */
const REQUEST_MS = 11 * 60_000
/** A stop that takes longer is a hung child: it is killed. */
const STOP_MS = 15_000

export class AskerProcess {
  private readonly child: ChildProcess
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  private next = 0
  private readonly exited: Promise<void>
  readonly name: string
  peerId = ''

  constructor (name: string) {
    this.name = name
    this.child = fork(ASKER_SCRIPT, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.exited = new Promise(resolve => this.child.once('exit', () => {
      for (const { reject } of this.waiting.values()) reject(new Error(`asker process ${name} exited`))
      this.waiting.clear()
      resolve()
    }))
    // A send to a child that died emits 'error' here: the waiting requests fail at its 'exit' instead of the parent crashing.
    this.child.on('error', err => { console.error(`# asker process ${name}: ${err.message}`) })
    this.child.on('message', (answer: ChildAnswer) => {
      const waiter = this.waiting.get(answer.id)
      if (waiter == null) return
      this.waiting.delete(answer.id)
      if (answer.ok) waiter.resolve(answer.value)
      else waiter.reject(new Error(`asker process ${name}: ${answer.error}`))
    })
  }

  private async ask<T> (request: AskerRequest, timeoutMs = REQUEST_MS): Promise<T> {
    // A request to a child already gone would wait out its whole timeout.
    if (!this.child.connected) throw new Error(`asker process ${this.name}: ${request.op} after the process exited`)
    const id = ++this.next
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`asker process ${this.name}: ${request.op} took over ${timeoutMs} ms`)) }, timeoutMs)
      this.waiting.set(id, {
        resolve: value => { clearTimeout(timer); resolve(value as T) },
        reject: err => { clearTimeout(timer); reject(err) }
      })
      this.child.send({ ...request, id })
    })
  }

  async start (): Promise<void> {
    this.peerId = await this.ask<string>({ op: 'start' })
  }

  async dial (addrs: string[]): Promise<void> {
    await this.ask({ op: 'dial', addrs })
  }

  async load (request: Omit<Extract<AskerRequest, { op: 'load' }>, 'op'>): Promise<AskerLoad> {
    return this.ask<AskerLoad>({ op: 'load', ...request })
  }

  async stop (): Promise<void> {
    if (this.child.exitCode == null && this.child.connected) await this.ask({ op: 'stop' }, STOP_MS).catch(() => {})
    const kill = setTimeout(() => { this.child.kill('SIGKILL') }, STOP_MS)
    await this.exited
    clearTimeout(kill)
  }
}
