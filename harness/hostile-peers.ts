// Peers that lie about the blobs they hold, for the abuse tests and benchmarks: real libp2p nodes that speak herd's protocols badly.
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { Stream } from '@libp2p/interface'
import { setTimeout as sleep } from 'node:timers/promises'
import type { BlobId } from '../src/blob/blob-id.js'
import { chunkCount, chunkRange, chunkTreeOfBytes } from '../src/blob/chunk-tree.js'
import { encodeAnnouncement } from '../src/mesh/announcement-codec.js'
import { BlobServer } from '../src/mesh/blob-server.js'
import type { ChunkSource, ServedBlob } from '../src/mesh/chunk-source.js'
import { BLOB_PROTOCOL, CACHE_TOPIC, MAX_DIGEST_FILTER_BYTES } from '../src/mesh/constants.js'
import { createMeshLibp2p, type MeshLibp2p } from '../src/mesh/libp2p.js'

/**
 * - `busy-holder`: announces the blob, answers every request BUSY;
 * - `all-bits-digest`: a digest with every bit set (claims every blob), answers BUSY;
 * - `slow`: announces the blob, sends correct chunks, one every `slowChunkMs` in all;
 * - `silent`: announces the blob, takes requests and never answers;
 * - `corrupt`: announces the blob, sends chunks with a flipped byte.
 */
export type LiarKind = 'busy-holder' | 'all-bits-digest' | 'slow' | 'silent' | 'corrupt'
export const LIAR_KINDS: LiarKind[] = ['busy-holder', 'all-bits-digest', 'slow', 'silent', 'corrupt']

export interface HostileBlob {
  blobId: BlobId
  bytes: Uint8Array
  chunkSize: number
}

export interface HostilePeerOptions {
  /** The slow liar's pace: one chunk per this many milliseconds, across all its streams. */
  slowChunkMs?: number
  /** How often the liar announces again (as an honest node's digest would, and as the liar did). */
  announceEveryMs?: number
}

export interface HostilePeer {
  kind: LiarKind
  libp2p: MeshLibp2p
  peerId: string
  /** Requests it received on /herd/blob/1.0.0. */
  requests: () => number
  /** Correct chunks it sent (the slow liar's). */
  goodChunksSent: () => number
  stop: () => Promise<void>
}

function servedBlob (blob: HostileBlob, readChunk: (index: number) => Promise<Uint8Array>): ServedBlob {
  const tree = chunkTreeOfBytes(blob.bytes, blob.chunkSize)
  const count = chunkCount(blob.bytes.byteLength, blob.chunkSize)
  return {
    size: blob.bytes.byteLength,
    chunkSize: blob.chunkSize,
    chunkCount: count,
    complete: true,
    leaves: tree.leaves,
    has: () => true,
    bitfield: () => new Uint8Array(Math.ceil(count / 8)).fill(0xff),
    held: () => count,
    active: () => true,
    readChunk,
    release: () => {}
  }
}

export async function startHostilePeer (kind: LiarKind, blob: HostileBlob, options: HostilePeerOptions = {}): Promise<HostilePeer> {
  const libp2p = await createMeshLibp2p({ privateKey: await generateKeyPair('Ed25519'), listen: ['/ip4/127.0.0.1/tcp/0'], privateNetwork: true, allow: ['/ip4/127.0.0.1'] })
  await libp2p.start()
  const stopping = new AbortController()
  let requests = 0
  let goodChunks = 0
  const chunk = (index: number): Uint8Array => {
    const { start, end } = chunkRange(index, blob.bytes.byteLength, blob.chunkSize)
    return new Uint8Array(blob.bytes.subarray(start, end))
  }
  // The slow liar's chunks leave one at a time, whatever the number of streams.
  let nextSlot = Date.now()
  const source: ChunkSource = {
    async open (id) {
      if (id !== blob.blobId) return undefined
      return servedBlob(blob, async index => {
        if (kind === 'corrupt') {
          const bad = chunk(index)
          bad[0] = (bad[0] as number) ^ 0xff
          return bad
        }
        const slot = Math.max(Date.now(), nextSlot)
        nextSlot = slot + (options.slowChunkMs ?? 1_000)
        await sleep(slot - Date.now(), undefined, { signal: stopping.signal })
        goodChunks++
        return chunk(index)
      })
    }
  }
  const registrar = { handle: async (p: string, h: Parameters<MeshLibp2p['handle']>[1], o: { maxInboundStreams: number, maxOutboundStreams: number }) => { await libp2p.handle(p, h, o) }, unhandle: async (p: string) => { await libp2p.unhandle(p) } }
  let server: BlobServer | undefined
  const held = new Set<Stream>()
  if (kind === 'silent') {
    await libp2p.handle(BLOB_PROTOCOL, stream => {
      requests++
      held.add(stream)
    }, { maxInboundStreams: 64, maxOutboundStreams: 16 })
  } else {
    server = new BlobServer({ registrar, source }, kind === 'busy-holder' || kind === 'all-bits-digest' ? { maxUploads: 0 } : {})
    await server.start()
  }

  const pubsub = libp2p.services.pubsub
  pubsub.subscribe(CACHE_TOPIC)
  let seq = BigInt(Date.now()) * 1000n
  const announce = async (): Promise<void> => {
    seq += 1n
    const base = { seq, time: Date.now(), added: [] as BlobId[], dropped: [], fetching: [] }
    const data = kind === 'all-bits-digest'
      ? encodeAnnouncement({ ...base, digest: { count: 1, bits: MAX_DIGEST_FILTER_BYTES * 8, hashes: 8, filter: new Uint8Array(MAX_DIGEST_FILTER_BYTES).fill(0xff) } })
      : encodeAnnouncement({ ...base, added: [blob.blobId] })
    await pubsub.publish(CACHE_TOPIC, data).catch(() => {})
  }
  const announcing = (async () => {
    while (!stopping.signal.aborted) {
      await announce()
      await sleep(options.announceEveryMs ?? 500, undefined, { signal: stopping.signal }).catch(() => {})
    }
  })()

  return {
    kind,
    libp2p,
    peerId: libp2p.peerId.toString(),
    requests: () => server?.stats.requests ?? requests,
    goodChunksSent: () => goodChunks,
    async stop () {
      stopping.abort()
      await announcing
      for (const stream of held) stream.abort(new Error('the silent peer stopped'))
      await server?.stop()
      await libp2p.stop()
    }
  }
}
