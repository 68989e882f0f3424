import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { Ed25519Keypair } from '@mysten/sui/keypairs/ed25519'
import { BlobIdComputer } from '../../src/blob/blob-id-computer.js'
import { blobIdFromBytes } from '../../src/blob/blob-id.js'
import { WalrusSdkStore } from '../../src/walrus/sdk-store.js'
import { tempDir } from '../helpers/devnet.js'

/** A loopback port with nothing listening: the SDK's Sui calls fail at once, as they would offline. */
async function closedPort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise(resolve => server.close(resolve))
  return port
}

describe('Walrus SDK store (offline)', () => {
  it('computes the same blob IDs as herd through the SDK', async () => {
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl: 'http://127.0.0.1:1' })
    const computer = new BlobIdComputer({ nShards: 10 })
    try {
      for (const bytes of [new Uint8Array(0), randomBytes(33), randomBytes(100_000)]) {
        assert.equal(await store.blobIdOf(bytes, 10), (await computer.computeBytes(bytes)).blobId)
      }
    } finally {
      await computer.stop()
    }
  })

  it('refuses a write without a signer, and fails with a named error when the network is out of reach', async () => {
    await using dir = await tempDir()
    const file = join(dir.path, 'blob')
    await writeFile(file, randomBytes(1000))
    const suiUrl = `http://127.0.0.1:${await closedPort()}`
    await assert.rejects(new WalrusSdkStore({ network: 'testnet', suiUrl }).putFile(file), { name: 'WalrusError' })
    const store = new WalrusSdkStore({ network: 'testnet', suiUrl, signer: Ed25519Keypair.generate() })
    const signal = AbortSignal.timeout(20_000)
    await assert.rejects(store.putFile(file, { epochs: 1, signal }), (err: Error) => /WalrusError$/.test(err.name))
    await assert.rejects(store.readRange(blobIdFromBytes(randomBytes(32)), { start: 0, end: 9 }, { signal }), (err: Error) => /WalrusError$/.test(err.name))
    assert.equal(signal.aborted, false, 'failed fast rather than hanging')
  })
})
