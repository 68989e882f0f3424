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

/**
 * A herd level store's version under `key`, as UTF-8 whatever the store's
 * own value encoding: written into an empty store (synced), else checked,
 * naming the store (`what`) in the error: data without a version is some
 * other store, and another version one this herd cannot read.
 */
export async function checkStoreVersion<V> (db: Level<string, V>, store: { what: string, path: string, key: string, version: number }, error: (message: string) => Error): Promise<void> {
  const text = { valueEncoding: 'utf8' } as const
  const version = await db.get<string, string>(store.key, text)
  if (version == null) {
    for await (const key of db.keys({ limit: 1 })) throw error(`${store.path} holds data (first key ${key.slice(0, 80)}) but no version: not a herd ${store.what}`)
    await db.put<string, string>(store.key, String(store.version), { ...text, sync: true })
    return
  }
  if (version !== String(store.version)) throw error(`${store.path} is ${store.what} version ${version.slice(0, 20)}, this herd reads version ${store.version}`)
}
