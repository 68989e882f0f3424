import { BusyError } from './infer-errors.js'

/**
 * At most `concurrency` runs at once and `depth` waiting. A full queue
 * answers "busy" at once: a caller is better off asking another node than
 * waiting behind a backlog it cannot see.
 */
export class RunQueue {
  private readonly concurrency: number
  private readonly depth: number
  private running = 0
  private readonly waiting: Array<{ start: () => void, fail: (err: Error) => void }> = []

  constructor (init: { concurrency: number, depth: number }) {
    this.concurrency = init.concurrency
    this.depth = init.depth
  }

  /** Requests queued or running. */
  get load (): number {
    return this.running + this.waiting.length
  }

  /** Every slot running and the queue full: a run now would be turned away. */
  get full (): boolean {
    return this.running >= this.concurrency && this.waiting.length >= this.depth
  }

  async run<T> (work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    signal?.throwIfAborted()
    if (this.running >= this.concurrency) {
      if (this.waiting.length >= this.depth) throw new BusyError(`${this.running} runs in progress and ${this.waiting.length} queued`)
      await new Promise<void>((resolve, reject) => {
        const entry = { start: resolve, fail: reject }
        this.waiting.push(entry)
        signal?.addEventListener('abort', () => {
          const index = this.waiting.indexOf(entry)
          if (index >= 0) {
            this.waiting.splice(index, 1)
            reject(signal.reason)
          }
        }, { once: true })
      })
    } else {
      this.running++
    }
    try {
      return await work()
    } finally {
      const next = this.waiting.shift()
      // The slot passes straight to the next waiter, so `running` stays the same.
      if (next != null) next.start()
      else this.running--
    }
  }
}
