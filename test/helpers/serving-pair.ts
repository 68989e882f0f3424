import { createHash } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Uint8ArrayList } from 'uint8arraylist'
import { blobIdFromBytes, type BlobId } from '../../src/blob/blob-id.js'
import { chunkCount, chunkRange, chunkTreeOfBytes } from '../../src/blob/chunk-tree.js'
import { BlobClient } from '../../src/mesh/blob-client.js'
import { BlobServer, type BlobServerInit } from '../../src/mesh/blob-server.js'
import type { ChunkSource } from '../../src/mesh/chunk-source.js'
import { createMeshLibp2p, type MeshLibp2p } from '../../src/mesh/libp2p.js'

/**
 * A holder serving `source` over herd's libp2p stack (`server`) and `askers` peers dialled to it (one by default), all
 * on loopback, stopped with the scope. `client` is the first asker's; `clients` has each asker's.
 */
export async function servingPair (source: ChunkSource, serverInit: BlobServerInit = {}, askers = 1): Promise<{ holder: MeshLibp2p, server: BlobServer, client: BlobClient, clients: BlobClient[], signal: AbortSignal, [Symbol.asyncDispose]: () => Promise<void> }> {
  const init = { listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] }
  const nodes: MeshLibp2p[] = await Promise.all(Array.from({ length: 1 + askers }, async () => createMeshLibp2p({ ...init, privateKey: await generateKeyPair('Ed25519') })))
  const holder = nodes[0] as MeshLibp2p
  const server = new BlobServer({ registrar: { handle: async (p, h, o) => { await holder.handle(p, h, o) }, unhandle: async p => { await holder.unhandle(p) } }, source }, serverInit)
  const stop = async (): Promise<void> => {
    await server.stop()
    await Promise.allSettled(nodes.map(async n => n.stop()))
  }
  try {
    await Promise.all(nodes.map(async n => { await n.start() }))
    await server.start()
    const signal = AbortSignal.timeout(60_000)
    const clients = await Promise.all(nodes.slice(1).map(async asker => {
      await asker.dial(holder.getMultiaddrs(), { signal })
      return new BlobClient({ dialProtocol: async (peer, protocol, options) => asker.dialProtocol(peer, protocol, options) })
    }))
    return { holder, server, client: clients[0] as BlobClient, clients, signal, [Symbol.asyncDispose]: stop }
  } catch (err) {
    await stop()
    throw err
  }
}

export interface HeldBytes {
  blobId: BlobId
  /** Each chunk's leaf hash (SHA-256 of 0x00 and the chunk), as a client checks it. */
  leaves: Uint8Array[]
  count: number
  source: ChunkSource
  /** Whether `data` is chunk `index`, byte for byte. */
  intact: (index: number, data: Uint8ArrayList | Uint8Array) => boolean
}

/**
 * `bytes` held whole in memory as one blob of `chunkSize` chunks, served by a
 * ChunkSource; `read` replaces how a chunk is read (into the server's buffer
 * when it lends one), to watch or change it.
 */
export function heldBytes (bytes: Uint8Array, chunkSize: number, read?: (index: number, chunk: Uint8Array, into?: Uint8Array) => Uint8Array): HeldBytes {
  const blobId = blobIdFromBytes(createHash('sha256').update(bytes).digest())
  const { leaves } = chunkTreeOfBytes(bytes, chunkSize)
  const count = chunkCount(bytes.byteLength, chunkSize)
  const chunkOf = (index: number): Uint8Array => {
    const { start, end } = chunkRange(index, bytes.byteLength, chunkSize)
    return bytes.subarray(start, end)
  }
  const source: ChunkSource = {
    async open (id) {
      if (id !== blobId) return undefined
      return {
        size: bytes.byteLength,
        chunkSize,
        chunkCount: count,
        complete: true,
        leaves,
        has: () => true,
        bitfield: () => {
          const bits = new Uint8Array(Math.ceil(count / 8))
          for (let i = 0; i < count; i++) bits[i >> 3] = (bits[i >> 3] ?? 0) | (0x80 >> (i & 7))
          return bits
        },
        held: () => count,
        active: () => true,
        readChunk: async (index, into) => read != null ? read(index, chunkOf(index), into) : new Uint8Array(chunkOf(index)),
        release: () => {}
      }
    }
  }
  const intact = (index: number, data: Uint8ArrayList | Uint8Array): boolean =>
    Buffer.from(createHash('sha256').update(Uint8Array.of(0)).update(data.subarray()).digest()).equals(leaves[index] as Uint8Array)
  return { blobId, leaves, count, source, intact }
}
