import { chmod, mkdir, open, readFile, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { NodeKeyError } from './errors.js'

export const NODE_KEY_FILE = 'node.key'

/**
 * The node's one Ed25519 key: its Sui address here, and its libp2p peer ID in
 * the mesh. Kept as a `suiprivkey…` string in `DATA/node.key`, mode 0600.
 */
export async function loadOrCreateNodeKey (dataDir: string): Promise<Ed25519Keypair> {
  const path = join(dataDir, NODE_KEY_FILE)
  let text: string | undefined
  try {
    const info = await stat(path)
    if ((info.mode & 0o077) !== 0) {
      throw new NodeKeyError(`${path} is readable by others (mode ${(info.mode & 0o777).toString(8)}): run chmod 600 on it`)
    }
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (text != null) return parseNodeKey(text, path)
  const keypair = Ed25519Keypair.generate()
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  // 'wx' fails if another process created the key meanwhile, rather than replacing it.
  const handle = await open(path, 'wx', 0o600)
  try {
    await handle.writeFile(`${keypair.getSecretKey()}\n`)
    await handle.sync()
  } finally {
    await handle.close()
  }
  await chmod(path, 0o600)
  return keypair
}

export function parseNodeKey (text: string, where = 'node key'): Ed25519Keypair {
  let decoded
  try {
    decoded = decodeSuiPrivateKey(text.trim())
  } catch (err) {
    throw new NodeKeyError(`${where} is not a suiprivkey string: ${(err as Error).message}`)
  }
  if (decoded.scheme !== 'ED25519') throw new NodeKeyError(`${where} is a ${decoded.scheme} key; herd nodes use Ed25519`)
  return Ed25519Keypair.fromSecretKey(decoded.secretKey)
}
