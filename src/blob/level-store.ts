import type { Level } from 'level'

/**
 * Opens one of herd's level stores, naming the store in the error it makes:
 * another process holding it is told apart from a store that cannot open.
 */
export async function openLevelStore (db: Level<string, Uint8Array>, what: string, path: string, error: (message: string) => Error): Promise<void> {
  try {
    await db.open()
  } catch (err) {
    const cause = (err as { cause?: { code?: string, message?: string } }).cause
    if (cause?.code === 'LEVEL_LOCKED') throw error(`${what} ${path} is in use by another process`)
    throw error(`cannot open ${what} ${path}: ${cause?.message ?? (err as Error).message}`)
  }
}
