// What writing a peer fetch's bytes to a new file costs this machine: a fetch stores every chunk it receives, a raw stream stores nothing.
import { closeSync, fdatasyncSync, openSync, unlinkSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { SYNC_EVERY_CHUNKS } from '../../src/blob/cache/constants.js'

const GiB = 1024 * 1024 * 1024
const CHUNK_BYTES = 1024 * 1024

/**
 * CPU seconds per GiB to write `bytes` to a new file in `dir` in 1 MiB
 * positional writes, synced every SYNC_EVERY_CHUNKS as a download's file is,
 * then deleted. On a virtual machine whose balloon reports free pages to its
 * host, the first touch of every new page-cache page is a fault the host
 * serves: this figure carries it, as the fetcher's writes do.
 */
export function newFileWriteFloor (bytes: number, dir: string): number {
  const path = join(dir, `disk-floor-${process.pid}.bin`)
  const chunk = Buffer.alloc(CHUNK_BYTES, 0x5a)
  const fd = openSync(path, 'wx')
  const started = process.cpuUsage()
  try {
    let chunks = 0
    for (let at = 0; at < bytes; at += CHUNK_BYTES) {
      writeSync(fd, chunk, 0, Math.min(CHUNK_BYTES, bytes - at), at)
      if (++chunks % SYNC_EVERY_CHUNKS === 0) fdatasyncSync(fd)
    }
    fdatasyncSync(fd)
  } finally {
    closeSync(fd)
  }
  const used = process.cpuUsage(started)
  unlinkSync(path)
  return (used.user + used.system) / 1e6 * GiB / bytes
}
