// An honest fetch among liars: its time against no liars and against Walrus alone, measured in the same run. Prints nothing: the abuse report calls it.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LIAR_KINDS, startHostilePeer, type HostilePeer, type LiarKind } from '../../harness/hostile-peers.js'
import { connectAll, devnetNodeConfig, startDevnet, startNode, stopNodes, waitFor, withTimeout, type Devnet } from '../../harness/in-process-mesh.js'
import type { BlobId } from '../../src/blob/blob-id.js'
import type { HerdNode } from '../../src/node.js'

const MiB = 1024 * 1024
/** A distant origin: every answer 100 ms late, each response at most 2 MiB/s (4 reads in flight: about 8 MiB/s in all). */
const DISTANT_ORIGIN = { latencyMs: 100, bandwidthBytesPerSec: 2 * MiB }
/** The slow liar: one 1 MiB chunk every 2 s (the sent one every 15 s). */
const SLOW_CHUNK_MS = 2_000
/** Fetches without liars before the first row (one with quick); one more is added before each row, and the median of all so far is its baseline. */
const NO_LIAR_RUNS = 3
/** Fetches beside each row's liars (one with quick), the median taken: one fetch on a loaded machine varies by 2x, as the baseline's do. */
const LIAR_RUNS = 3
/** No fetch here should take longer: a hung one ends the run rather than blowing the budget. */
const FETCH_LIMIT_MS = 40_000

export interface LiarFetch {
  /** The liar's kind, or `all` for one of each at once. */
  liar: string
  fetchMs: number
  noLiarMs: number
  walrusOnlyMs: number
  overNoLiar: number
  overWalrusOnly: number
  /** Chunk bytes the fetch took from Walrus (the chunk hashes aside). */
  bytesFromWalrus: number
}

/** Fetches `blobId` into `node`, timed, then deletes it again so the next fetch starts cold. */
async function timedFetch (node: HerdNode, blobId: BlobId): Promise<{ ms: number, bytesFromWalrus: number }> {
  let bytesFromWalrus = 0
  const started = performance.now()
  await withTimeout('a fetch', FETCH_LIMIT_MS, async signal => node.fetcher.fetch(blobId, {
    signal,
    onProgress: event => { if (event.type === 'fetch:done') bytesFromWalrus = event.bytesFromWalrus }
  }))
  const ms = performance.now() - started
  await node.cache.delete(blobId)
  return { ms, bytesFromWalrus }
}

/** Liars of `kinds`, connected to `node` and heard by it (listed as holders, or their digest rejected). */
async function startLiars (kinds: LiarKind[], node: HerdNode, blob: { blobId: BlobId, bytes: Uint8Array, chunkSize: number }): Promise<HostilePeer[]> {
  const liars: HostilePeer[] = []
  try {
    for (const kind of kinds) liars.push(await startHostilePeer(kind, blob, { slowChunkMs: SLOW_CHUNK_MS }))
    const rejectedBefore = node.status().gossip.rejected
    for (const liar of liars) {
      await liar.libp2p.dial(node.libp2p.getMultiaddrs())
      await waitFor(`the node to hear the ${liar.kind} liar`, () => liar.kind === 'all-bits-digest'
        ? node.status().gossip.rejected > rejectedBefore
        : node.providers.providers(blob.blobId).some(p => p.peerId === liar.peerId), 15_000)
    }
  } catch (err) {
    await stopAll(liars)
    throw err
  }
  return liars
}

async function stopAll (liars: HostilePeer[]): Promise<void> {
  await Promise.allSettled(liars.map(async liar => { await liar.stop() }))
}

/**
 * Two honest holders and a downloader over a local Walrus shaped like a
 * distant origin. The downloader fetches the blob from Walrus alone (not yet
 * connected), then from the holders (three times, once with quick, and
 * once more before each row: the median so far is the row's baseline), then beside one liar of
 * each kind, and beside all five at once (three times each, once with
 * quick: the median is the row's); every fetch starts cold. 24 MiB
 * (8 with quick).
 */
export async function liarFetches (options: { quick: boolean }): Promise<LiarFetch[]> {
  const size = (options.quick ? 8 : 24) * MiB
  const chunkSize = MiB
  const dir = await mkdtemp(join(tmpdir(), 'herd-bench-liars-'))
  const nodes: HerdNode[] = []
  let devnet: Devnet | undefined
  try {
    devnet = await startDevnet(join(dir, 'devnet'))
    const bytes = new Uint8Array(randomBytes(size))
    const { blobId } = await devnet.publish(bytes, { chunkSize, name: 'liars-model' })
    const holders = [await startNode(devnetNodeConfig(join(dir, 'holder-a'), devnet)), await startNode(devnetNodeConfig(join(dir, 'holder-b'), devnet))]
    nodes.push(...holders)
    await Promise.all(holders.map(async holder => holder.fetcher.fetch(blobId)))
    const downloader = await startNode(devnetNodeConfig(join(dir, 'downloader'), devnet))
    nodes.push(downloader)

    devnet.walrus.setShaping(DISTANT_ORIGIN)
    const walrusOnly = await timedFetch(downloader, blobId)

    await connectAll(nodes)
    await waitFor('the downloader to list both holders', () => {
      const known = downloader.providers.providers(blobId)
      return holders.every(h => known.some(p => p.peerId === h.peerId.toString() && p.state === 'holder'))
    }, 30_000)
    // The baseline is a median of fetches without liars, one more before each row: one fetch on a loaded machine varies by 2x.
    const baseline: number[] = []
    const median = (): number => [...baseline].sort((a, b) => a - b)[Math.floor(baseline.length / 2)] as number
    for (let i = 0; i < (options.quick ? 1 : NO_LIAR_RUNS); i++) baseline.push((await timedFetch(downloader, blobId)).ms)

    const rows: LiarFetch[] = []
    const cases: Array<[string, LiarKind[]]> = [...LIAR_KINDS.map(kind => [kind, [kind]] as [string, LiarKind[]]), ['all', LIAR_KINDS]]
    for (const [name, kinds] of cases) {
      baseline.push((await timedFetch(downloader, blobId)).ms)
      const noLiarMs = median()
      const liars = await startLiars(kinds, downloader, { blobId, bytes, chunkSize })
      try {
        const fetches: Array<{ ms: number, bytesFromWalrus: number }> = []
        for (let i = 0; i < (options.quick ? 1 : LIAR_RUNS); i++) fetches.push(await timedFetch(downloader, blobId))
        const fetch = [...fetches].sort((a, b) => a.ms - b.ms)[Math.floor(fetches.length / 2)] as { ms: number, bytesFromWalrus: number }
        rows.push({
          liar: name,
          fetchMs: Math.round(fetch.ms),
          noLiarMs: Math.round(noLiarMs),
          walrusOnlyMs: Math.round(walrusOnly.ms),
          overNoLiar: +(fetch.ms / noLiarMs).toFixed(2),
          overWalrusOnly: +(fetch.ms / walrusOnly.ms).toFixed(2),
          bytesFromWalrus: fetch.bytesFromWalrus
        })
      } finally {
        await stopAll(liars)
      }
    }
    return rows
  } finally {
    await stopNodes(nodes).catch(() => {})
    await devnet?.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
