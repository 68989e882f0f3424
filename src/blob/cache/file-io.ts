import { open, unlink, type FileHandle } from 'node:fs/promises'
import type { Uint8ArrayList } from 'uint8arraylist'

/** Reads up to `length` bytes at `position`, into `into` when given (at least `length` bytes); fewer only if the file ends first. */
export async function readAt (file: FileHandle, position: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  if (into != null && into.byteLength < length) throw new RangeError(`a read of ${length} bytes into a buffer of ${into.byteLength}`)
  const buffer = into ?? Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const { bytesRead } = await file.read(buffer, filled, length - filled, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return new Uint8Array(buffer.buffer, buffer.byteOffset, filled)
}

/** Writes `bytes` at `position`; bytes in pieces go in one writev, without being joined first. */
export async function writeAt (file: FileHandle, bytes: Uint8Array | Uint8ArrayList, position: number): Promise<void> {
  if (!(bytes instanceof Uint8Array)) {
    const { bytesWritten } = await file.writev([...bytes], position)
    if (bytesWritten < bytes.byteLength) await writeAt(file, bytes.subarray(bytesWritten), position + bytesWritten)
    return
  }
  let written = 0
  while (written < bytes.length) {
    const { bytesWritten } = await file.write(bytes, written, bytes.length - written, position + written)
    written += bytesWritten
  }
}

/** A rename is durable only once its directory is synced. */
export async function syncDir (path: string): Promise<void> {
  const dir = await open(path, 'r')
  try {
    await dir.sync()
  } finally {
    await dir.close()
  }
}

export async function unlinkIfPresent (path: string): Promise<boolean> {
  try {
    await unlink(path)
    return true
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false
    throw err
  }
}

export function isNotFound (err: unknown): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
}

export function sameBytes (a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(b)
}
