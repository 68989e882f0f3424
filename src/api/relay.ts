import { createReadStream } from 'node:fs'
import { mkdir, rm, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import type { FastifyReply } from 'fastify'
import type { BlobId } from '../blob/blob-id.js'
import type { WalrusStore } from '../walrus/types.js'
import { parseRange, RangeNotSatisfiableError } from '../blob/byte-range.js'

/**
 * The largest blob relayed without a registry entry. It cannot be checked
 * chunk by chunk, so it is not cached: it passes through a temp file, and
 * this bounds the disk one request may take.
 */
export const MAX_RELAY_BYTES = 256 * 1024 * 1024

/** An unregistered blob over MAX_RELAY_BYTES: read it from an aggregator directly. */
export class RelayTooLargeError extends Error {
  override readonly name = 'RelayTooLargeError'
}

export interface RelayInit {
  walrus: Pick<WalrusStore, 'getToFile'>
  /** Where the blob waits while it is sent; removed after. */
  tmpDir: string
  maxBytes?: number
}

/**
 * A blob with no registry entry, read through the node's Walrus client (its
 * retries, timeouts, resumed reads and aggregators in turn) into a temp file,
 * then sent whole or as one range and deleted.
 */
export async function relayUnregistered (init: RelayInit, blobId: BlobId, rangeHeader: string | undefined, reply: FastifyReply, signal: AbortSignal): Promise<FastifyReply> {
  const maxBytes = init.maxBytes ?? MAX_RELAY_BYTES
  await mkdir(init.tmpDir, { recursive: true })
  const path = join(init.tmpDir, `relay-${blobId}-${randomBytes(6).toString('hex')}`)
  const tooLarge = new AbortController()
  let announced = 0
  try {
    try {
      await init.walrus.getToFile(blobId, path, {
        signal: AbortSignal.any([signal, tooLarge.signal]),
        onProgress: ({ total }) => {
          if (total > maxBytes && !tooLarge.signal.aborted) {
            announced = total
            tooLarge.abort()
          }
        }
      })
    } catch (err) {
      if (tooLarge.signal.aborted) throw new RelayTooLargeError(`blob ${blobId} has no registry entry and is ${announced} bytes, over the ${maxBytes}-byte relay limit`)
      throw err
    }
    const size = (await stat(path)).size
    let range
    try {
      range = parseRange(rangeHeader, size)
    } catch (err) {
      if (err instanceof RangeNotSatisfiableError) reply.header('content-range', `bytes */${size}`)
      throw err
    }
    reply.header('accept-ranges', 'bytes').header('x-herd-source', 'walrus-passthrough').type('application/octet-stream')
    if (range != null) reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`).header('content-length', range.end - range.start + 1)
    else reply.header('content-length', size)
    // Opened before the file is removed: on POSIX the open stream keeps reading it.
    const stream = createReadStream(path, range != null ? { start: range.start, end: range.end } : {})
    await new Promise<void>((resolve, reject) => { stream.once('open', () => { resolve() }); stream.once('error', reject) })
    return await reply.send(stream)
  } finally {
    await rm(path, { force: true })
  }
}
