import { randomBytes } from 'node:crypto'
import { open, rename, unlink } from 'node:fs/promises'

/** Writes `bytes` to `path` so that a crash leaves either the old file or the new one, never a part. */
export async function writeFileAtomic (path: string, bytes: string | Uint8Array): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    const handle = await open(temp, 'w', 0o644)
    try {
      await handle.writeFile(bytes)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(temp, path)
  } catch (err) {
    await unlink(temp).catch(() => {})
    throw err
  }
}
