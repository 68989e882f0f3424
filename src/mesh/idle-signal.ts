/**
 * A signal that aborts once `ms` pass without a touch(), or when its parent
 * aborts: one timer for a stream's life, restarted with every message,
 * instead of an AbortSignal.timeout and an AbortSignal.any for each message
 * (a timer, two signals and a listener on the parent per chunk).
 */
export class IdleSignal {
  private readonly controller = new AbortController()
  private readonly timer: NodeJS.Timeout
  private readonly parent?: AbortSignal
  private readonly onParentAbort = (): void => { this.controller.abort(this.parent?.reason) }

  constructor (ms: number, parent?: AbortSignal) {
    this.timer = setTimeout(() => {
      // The name AbortSignal.timeout gives its reason.
      this.controller.abort(new DOMException(`no message for ${ms} ms`, 'TimeoutError'))
    }, ms)
    if (parent != null) {
      this.parent = parent
      if (parent.aborted) this.onParentAbort()
      else parent.addEventListener('abort', this.onParentAbort, { once: true })
    }
  }

  /** The signal, with its idle time started again. */
  touch (): AbortSignal {
    if (!this.controller.signal.aborted) this.timer.refresh()
    return this.controller.signal
  }

  clear (): void {
    clearTimeout(this.timer)
    this.parent?.removeEventListener('abort', this.onParentAbort)
  }
}
