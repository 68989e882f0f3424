import { setTimeout as sleep } from 'node:timers/promises'
import { errors as undiciErrors } from 'undici'

/**
 * A failure that may pass if tried again: a 5xx or 429, a dropped connection,
 * a timeout. Walrus's and the ledger's retryable errors extend it, so one
 * test tells every caller what to retry.
 */
export class RetryableError extends Error {
  override name = 'RetryableError'
}

export interface BackoffOptions {
  baseDelayMs: number
  maxDelayMs: number
}

export interface RetryOptions extends BackoffOptions {
  /** Attempts after the first. */
  retries: number
  signal?: AbortSignal
  /** Which errors are worth another try; a RetryableError by default. */
  isRetryable?: (err: unknown) => boolean
  onRetry?: (err: Error, attempt: number, delayMs: number) => void
}

/** A failure of the connection itself (refused, reset, timed out), as undici or the OS reports it: worth retrying. */
export function isTransportError (err: unknown): boolean {
  return err instanceof undiciErrors.UndiciError || (err as NodeJS.ErrnoException)?.code != null
}

/** A RetryableError, or a failure of the connection itself. */
export function isRetryable (err: unknown): boolean {
  return err instanceof RetryableError || isTransportError(err)
}

/**
 * The wait before retry `attempt` (0 for the first): between half and all of
 * base × 2^attempt, capped. The jitter keeps many nodes that failed together
 * from retrying together.
 */
export function backoffDelayMs (attempt: number, options: BackoffOptions): number {
  const ceiling = Math.min(options.maxDelayMs, options.baseDelayMs * 2 ** Math.min(attempt, 32))
  return Math.round(ceiling / 2 + Math.random() * ceiling / 2)
}

/** Sleeps, ending early with the signal's reason when it aborts. */
export async function sleepOn (delayMs: number, signal?: AbortSignal): Promise<void> {
  try {
    await sleep(delayMs, undefined, signal != null ? { signal } : {})
  } catch (err) {
    throw signal?.aborted === true ? signal.reason : err
  }
}

/** Runs `attempt` until it succeeds, throws a non-retryable error, or runs out of retries. */
export async function withRetries<T> (attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n)
    } catch (err) {
      const retryable = options.isRetryable?.(err) ?? err instanceof RetryableError
      if (!retryable || n >= options.retries) throw err
      options.signal?.throwIfAborted()
      const delayMs = backoffDelayMs(n, options)
      options.onRetry?.(err as Error, n + 1, delayMs)
      await sleepOn(delayMs, options.signal)
    }
  }
}
