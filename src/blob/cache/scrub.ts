import { open } from 'node:fs/promises'
import { setTimeout as sleep } from 'node:timers/promises'
import { chunkCount, chunkRange, hashLeaf, HASH_BYTES } from '../chunk-tree.js'
import { readAt, sameBytes } from './file-io.js'

export interface ScrubTarget {
  path: string
  size: number
  chunkSize: number
  /** Leaf hashes back to back, 32 bytes each. */
  leaves: Uint8Array
}

/**
 * Re-hashes every chunk of a complete blob's file against its leaf, no faster
 * than `bytesPerSec` (it sleeps on the signal between chunks). Returns what is
 * wrong with the first bad chunk, or undefined when the whole file matches.
 */
export async function scrubFile (target: ScrubTarget, options: { bytesPerSec: number, signal: AbortSignal }): Promise<string | undefined> {
  const { path, size, chunkSize, leaves } = target
  const file = await open(path, 'r')
  try {
    const started = performance.now()
    let done = 0
    for (let index = 0; index < chunkCount(size, chunkSize); index++) {
      options.signal.throwIfAborted()
      const { start, end } = chunkRange(index, size, chunkSize)
      const bytes = await readAt(file, start, end - start)
      if (bytes.length !== end - start) return `chunk ${index} is cut short on disk`
      if (!sameBytes(hashLeaf(bytes), leaves.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES))) return `chunk ${index} does not match its hash on disk`
      done += bytes.length
      const ahead = started + done / options.bytesPerSec * 1000 - performance.now()
      if (ahead > 0) await sleep(ahead, undefined, { signal: options.signal })
    }
    return undefined
  } finally {
    await file.close()
  }
}
