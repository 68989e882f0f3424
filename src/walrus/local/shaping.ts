import { setTimeout as sleep } from 'node:timers/promises'
import { Transform, type TransformCallback } from 'node:stream'
import { z } from 'zod'

/** Knobs that make the local Walrus behave like a distant origin. */
export const originShapingSchema = z.object({
  /** Added before every answer, in milliseconds. */
  latencyMs: z.number().int().min(0).max(60_000).default(0),
  /** Cap on each response body, bytes per second; 0 means no cap. */
  bandwidthBytesPerSec: z.number().int().min(0).default(0),
  /** Share of requests answered with a 5xx, from 0 to 1. */
  failureRate: z.number().min(0).max(1).default(0)
}).strict()

export type OriginShaping = z.infer<typeof originShapingSchema>

const SLICE = 64 * 1024

/** Paces a stream to a byte rate; counts what passes. */
export class ThrottleStream extends Transform {
  private readonly bytesPerSec: number
  private readonly onBytes: (n: number) => void
  private readonly startedAt = performance.now()
  private sent = 0

  constructor (bytesPerSec: number, onBytes: (n: number) => void) {
    super()
    this.bytesPerSec = bytesPerSec
    this.onBytes = onBytes
  }

  override _transform (chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    void this.pace(chunk).then(() => { callback() }, callback)
  }

  private async pace (chunk: Buffer): Promise<void> {
    for (let offset = 0; offset < chunk.length; offset += SLICE) {
      const slice = chunk.subarray(offset, offset + SLICE)
      if (this.bytesPerSec > 0) {
        const dueMs = ((this.sent + slice.length) / this.bytesPerSec) * 1000
        const waitMs = dueMs - (performance.now() - this.startedAt)
        if (waitMs > 1) await sleep(waitMs)
      }
      if (this.destroyed) return
      this.sent += slice.length
      this.onBytes(slice.length)
      this.push(slice)
    }
  }
}
