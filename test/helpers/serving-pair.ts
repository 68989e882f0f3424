import { generateKeyPair } from '@libp2p/crypto/keys'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { BlobServer, type BlobServerInit } from '../../src/mesh/blob-server.js'
import type { ChunkSource } from '../../src/mesh/chunk-source.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'

/** A holder serving `source` over herd's libp2p stack and an asker dialled to it, both on loopback, stopped with the scope. */
export async function servingPair (source: ChunkSource, serverInit: BlobServerInit = {}): Promise<{ holder: MeshLibp2p, client: BlobClient, signal: AbortSignal, [Symbol.asyncDispose]: () => Promise<void> }> {
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
  const nodes: MeshLibp2p[] = await Promise.all([createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') }), createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })])
  const [holder, asker] = nodes as [MeshLibp2p, MeshLibp2p]
  const server = new BlobServer({ registrar: { handle: async (p, h, o) => { await holder.handle(p, h, o) }, unhandle: async p => { await holder.unhandle(p) } }, source }, serverInit)
  const stop = async (): Promise<void> => {
    await server.stop()
    await Promise.allSettled(nodes.map(async n => n.stop()))
  }
  try {
    await Promise.all([holder.start(), asker.start()])
    await server.start()
    const signal = AbortSignal.timeout(60_000)
    await asker.dial(holder.getMultiaddrs(), { signal })
    const client = new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
    return { holder, client, signal, [Symbol.asyncDispose]: stop }
  } catch (err) {
    await stop()
    throw err
  }
}
