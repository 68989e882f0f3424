/** A wait on an inference stream (for the next request, or for a reply to be taken) that ran past its time. */
export class StreamWaitTimeoutError extends Error {
  // The name AbortSignal.timeout's reason has, which the server reads as the end of a caller's requests.
  override readonly name = 'TimeoutError'
}

/**
 * The waits of one inference stream on one signal and one timer, re-armed for
 * each wait: an AbortSignal.timeout for each read and each write, and an
 * AbortSignal.any to join the read's to the server's stopping, were three
 * timers and signals per request on a holder's event loop. The signal aborts
 * when a wait passes its time, or when `stopping` aborts while the stream
 * waits for a request (a reply being written is not cut short); once aborted
 * it stays so, and the stream ends. Time between waits (a run) is not bounded
 * here. `clear()` when the stream ends.
 */
export class StreamWaits {
  readonly signal: AbortSignal
  private readonly controller = new AbortController()
  private readonly stopping: AbortSignal
  private timer: NodeJS.Timeout
  private readonly ms: number
  private timerMs = 0
  private waiting: 'request' | 'reply' | undefined
  private readonly onStop = (): void => { if (this.waiting === 'request') this.controller.abort(this.stopping.reason) }

  constructor (ms: number, stopping: AbortSignal) {
    this.signal = this.controller.signal
    this.stopping = stopping
    this.ms = ms
    this.timer = this.arm(ms)
    stopping.addEventListener('abort', this.onStop, { once: true })
  }

  /** The wait for the next request, of `ms`; aborted at once if the server is stopping. */
  forRequest (ms: number): AbortSignal {
    this.begin('request', ms)
    if (this.stopping.aborted) this.onStop()
    return this.signal
  }

  /** The wait for a reply to be written, of the time given at construction. */
  forReply (): AbortSignal {
    this.begin('reply', this.ms)
    return this.signal
  }

  /** A wait is over: until the next, the timer's firing does nothing. */
  done (): void {
    this.waiting = undefined
  }

  clear (): void {
    clearTimeout(this.timer)
    this.stopping.removeEventListener('abort', this.onStop)
  }

  private begin (kind: 'request' | 'reply', ms: number): void {
    this.waiting = kind
    if (ms === this.timerMs) {
      this.timer.refresh()
    } else {
      clearTimeout(this.timer)
      this.timer = this.arm(ms)
    }
  }

  private arm (ms: number): NodeJS.Timeout {
    this.timerMs = ms
    const timer = setTimeout(() => {
      if (this.waiting != null) this.controller.abort(new StreamWaitTimeoutError(`no ${this.waiting} within ${ms} ms`))
    }, ms)
    // As AbortSignal.timeout's: a stream's wait does not keep the process alive.
    timer.unref()
    return timer
  }
}
