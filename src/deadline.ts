/** Why a Deadline's signal aborted when its time ran out (a caller's own abort keeps the caller's reason). */
export class DeadlineReachedError extends Error {
  override name = 'DeadlineReachedError'
}

/**
 * A signal that aborts after `ms`, or when `parent` does, released with
 * `clear()`. The same as AbortSignal.any([parent, AbortSignal.timeout(ms)])
 * without the weak references and composite-signal bookkeeping those make
 * for every call: on the inference hot path they were ~3% of a node's CPU.
 * Whoever makes one clears it when the work it bounds is over.
 */
export class Deadline {
  readonly signal: AbortSignal
  private readonly controller = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly parent: AbortSignal | undefined
  private readonly onParentAbort = (): void => { this.controller.abort(this.parent?.reason) }
  private timedOut = false

  constructor (ms: number, parent?: AbortSignal) {
    this.signal = this.controller.signal
    this.parent = parent
    this.timer = setTimeout(() => {
      this.timedOut = true
      this.controller.abort(new DeadlineReachedError(`no result within ${ms} ms`))
    }, ms)
    if (parent?.aborted === true) this.onParentAbort()
    else parent?.addEventListener('abort', this.onParentAbort, { once: true })
  }

  /** The time ran out (not the parent's abort). */
  get expired (): boolean {
    return this.timedOut
  }

  clear (): void {
    clearTimeout(this.timer)
    this.parent?.removeEventListener('abort', this.onParentAbort)
  }
}
