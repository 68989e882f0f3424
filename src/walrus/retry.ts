import { setTimeout as sleep } from 'node:timers/promises'
import { errors as undiciErrors } from 'undici'
import { RetryableWalrusError } from './errors.js'

export interface RetryOptions {
  /** Attempts after the first. */
  retries: number
  baseDelayMs: number
  maxDelayMs: number
  signal?: AbortSignal
  /** Which errors are worth another try; RetryableWalrusError by default. */
  isRetryable?: (err: unknown) => boolean
  onRetry?: (err: Error, attempt: number, delayMs: number) => void
}

/** A failure of the connection itself (refused, reset, timed out), as undici or the OS reports it: worth retrying. */
export function isTransportError (err: unknown): boolean {
  return err instanceof undiciErrors.UndiciError || (err as NodeJS.ErrnoException)?.code != null
}

/** Runs `attempt` until it succeeds, throws a non-retryable error, or runs out of retries. */
export async function withRetries<T> (attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n)
    } catch (err) {
      const retryable = options.isRetryable?.(err) ?? err instanceof RetryableWalrusError
      if (!retryable || n >= options.retries) throw err
      options.signal?.throwIfAborted()
      // Full jitter keeps many nodes that failed together from retrying together.
      const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** n)
      const delayMs = Math.round(ceiling / 2 + Math.random() * ceiling / 2)
      options.onRetry?.(err as Error, n + 1, delayMs)
      try {
        await sleep(delayMs, undefined, options.signal != null ? { signal: options.signal } : {})
      } catch (sleepErr) {
        throw options.signal?.aborted === true ? options.signal.reason : sleepErr
      }
    }
  }
}
