/**
 * A signal that aborts once `ms` pass without a touch(), or when its parent
 * aborts: one timer for a stream's life instead of an AbortSignal.timeout
 * and an AbortSignal.any for each message (a timer, two signals and a
 * listener on the parent per chunk). A touch only notes the time: a chunk
 * stream touches on every piece that arrives (dozens per MiB), and
 * restarting the timer each time (`refresh`) cost 5% of a downloader's
 * main thread in a profile; the timer, when it fires, waits out what is
 * left of the idle time since the last touch instead.
 */
export class IdleSignal {
  private readonly controller = new AbortController()
  private timer: NodeJS.Timeout
  private readonly ms: number
  private touchedAt = performance.now()
  private cleared = false
  private readonly parent?: AbortSignal
  private readonly onParentAbort = (): void => { this.controller.abort(this.parent?.reason) }

  constructor (ms: number, parent?: AbortSignal) {
    this.ms = ms
    this.timer = setTimeout(this.expire, ms)
    if (parent != null) {
      this.parent = parent
      if (parent.aborted) this.onParentAbort()
      else parent.addEventListener('abort', this.onParentAbort, { once: true })
    }
  }

  /** The signal, with its idle time started again. */
  touch (): AbortSignal {
    this.touchedAt = performance.now()
    return this.controller.signal
  }

  /** The signal, without counting this as activity. */
  get signal (): AbortSignal {
    return this.controller.signal
  }

  clear (): void {
    this.cleared = true
    clearTimeout(this.timer)
    this.parent?.removeEventListener('abort', this.onParentAbort)
  }

  private readonly expire = (): void => {
    if (this.cleared || this.controller.signal.aborted) return
    const left = this.ms - (performance.now() - this.touchedAt)
    // A timer may fire a little early: under a millisecond left counts as idle.
    if (left >= 1) {
      this.timer = setTimeout(this.expire, left)
      return
    }
    // The name AbortSignal.timeout gives its reason.
    this.controller.abort(new DOMException(`no message for ${this.ms} ms`, 'TimeoutError'))
  }
}
