import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'

/** Writes `bytes` to `path` (created with `mode`, or truncated) and syncs it to disk before it resolves. */
export async function writeSynced (path: string, bytes: string | Uint8Array, mode: number): Promise<void> {
  const handle = await open(path, 'w', mode)
  try {
    await handle.writeFile(bytes)
    await handle.sync()
  } finally {
    await handle.close()
  }
}

/** Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a part. */
export async function writeFileAtomic (path: string, bytes: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    await writeSynced(temp, bytes, 0o644)
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}
