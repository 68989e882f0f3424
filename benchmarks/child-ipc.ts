import { fork, type ChildProcess } from 'node:child_process'
import { withMallocEnv } from '../src/cli/malloc-env.js'
import { HERD_V8_FLAGS } from '../src/cli/v8-flags.js'

/**
 * The child side of a benchmark's helper process (an asker, a peer, the
 * devnet): answers the parent's requests over IPC, and exits when the
 * parent goes. A parent killed outright (SIGKILL, a crash) closes the
 * channel without a `stop`; a child with servers or a libp2p node open
 * would otherwise run on, holding the shared cores.
 */
export type ChildAnswer = { id: number, ok: true, value: unknown } | { id: number, ok: false, error: string }

export function serveParent<R extends { op: string }> (handle: (request: R) => Promise<unknown>): void {
  process.on('disconnect', () => { process.exit(0) })
  process.on('message', (message: R & { id: number }) => {
    handle(message).then(
      value => { process.send?.({ id: message.id, ok: true, value } satisfies ChildAnswer) },
      (err: unknown) => { process.send?.({ id: message.id, ok: false, error: err instanceof Error ? `${err.name}: ${err.message}` : String(err) } satisfies ChildAnswer) }
    ).finally(() => { if (message.op === 'stop') process.disconnect() })
  })
}

/** A stop that takes longer is a hung child: it is killed. */
const STOP_MS = 15_000

/**
 * The parent side: a helper process forked from `script`, asked requests
 * that each carry an `id` its answer repeats. `label` names it in errors
 * (`asker process a`, `devnet process`).
 */
export class ChildClient<R extends { op: string }> {
  private readonly child: ChildProcess
  private readonly waiting = new Map<number, { resolve: (value: unknown) => void, reject: (err: Error) => void }>()
  private next = 0
  private readonly exited: Promise<void>

  constructor (script: URL, private readonly label: string, private readonly requestMs: number) {
    // Node processes of a benchmark run as a herd node's does (src/cli/v8-flags.ts, malloc-env.ts), whatever the parent was started with.
    this.child = fork(script, [], { execArgv: [...process.execArgv, ...HERD_V8_FLAGS], env: withMallocEnv(process.env), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    this.exited = new Promise(resolve => this.child.once('exit', () => {
      for (const { reject } of this.waiting.values()) reject(new Error(`${label} exited`))
      this.waiting.clear()
      resolve()
    }))
    // A send to a child that died emits 'error' here: the waiting requests fail at its 'exit' instead of the parent crashing.
    this.child.on('error', err => { console.error(`# ${label}: ${err.message}`) })
    this.child.on('message', (answer: ChildAnswer) => {
      const waiter = this.waiting.get(answer.id)
      if (waiter == null) return
      this.waiting.delete(answer.id)
      if (answer.ok) waiter.resolve(answer.value)
      else waiter.reject(new Error(`${label}: ${answer.error}`))
    })
  }

  async ask<T> (request: R, timeoutMs = this.requestMs): Promise<T> {
    // A request to a child already gone would wait out its whole timeout.
    if (!this.child.connected) throw new Error(`${this.label}: ${request.op} after the process exited`)
    const id = ++this.next
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`${this.label}: ${request.op} took over ${timeoutMs} ms`)) }, timeoutMs)
      this.waiting.set(id, {
        resolve: value => { clearTimeout(timer); resolve(value as T) },
        reject: err => { clearTimeout(timer); reject(err) }
      })
      this.child.send({ ...request, id })
    })
  }

  /** Asks the child to stop (`{ op: 'stop' }`), and kills it if it has not exited within 15 s. */
  async stop (): Promise<void> {
    if (this.child.exitCode == null && this.child.connected) await this.ask({ op: 'stop' } as R, STOP_MS).catch(() => {})
    const kill = setTimeout(() => { this.child.kill('SIGKILL') }, STOP_MS)
    await this.exited
    clearTimeout(kill)
  }
}
