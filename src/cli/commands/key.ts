import { stat } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { decodeSuiPrivateKey } from '@mysten/sui/cryptography'
import type { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import type { Command } from 'commander'
import { NodeKeyError } from '../../chain/errors.js'
import { loadOrCreateNodeKey, NODE_KEY_FILE } from '../../chain/node-key.js'
import { herdHome, printJson } from '../options.js'

/** The data dir's node key; a missing one is an error here, not made (only a node or a push makes one). */
export async function existingNodeKey (dataDir: string): Promise<Ed25519Keypair> {
  const path = join(dataDir, NODE_KEY_FILE)
  if (await stat(path).then(() => false, () => true)) throw new NodeKeyError(`no node key at ${path}: herd start (or herd model push) makes one`)
  return loadOrCreateNodeKey(dataDir)
}

/** The libp2p peer ID of the node key: the same Ed25519 key as its Sui address. */
export async function peerIdOf (key: Ed25519Keypair): Promise<string> {
  const privateKey = await generateKeyPairFromSeed('Ed25519', decodeSuiPrivateKey(key.getSecretKey()).secretKey)
  return peerIdFromPrivateKey(privateKey).toString()
}

export function defaultDataDir (dataDir?: string): string {
  return resolve(dataDir ?? (process.env.HERD_DATA_DIR !== '' ? process.env.HERD_DATA_DIR : undefined) ?? join(herdHome(), 'node'))
}

export function keyCommand (program: Command): void {
  const key = program.command('key').description('the node key: one Ed25519 key, its peer ID in the mesh and its Sui address')

  key.command('show')
    .description('print the peer ID and the Sui address of the node key as JSON (never the key itself)')
    .option('--data-dir <dir>', 'node data dir holding the key (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .action(async (options: { dataDir?: string }) => {
      const dataDir = defaultDataDir(options.dataDir)
      const nodeKey = await existingNodeKey(dataDir)
      printJson({ peerId: await peerIdOf(nodeKey), address: nodeKey.toSuiAddress(), keyFile: join(dataDir, NODE_KEY_FILE) })
    })
}
