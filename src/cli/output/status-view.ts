// cli-progress is CommonJS whose `Format` Node cannot see as a named export.
import cliProgress from 'cli-progress'
import { z } from 'zod'
import { formatBytes, formatPercent, formatSpeed, shortId } from './units.js'

const count = z.number().int().min(0)

/**
 * The part of a node's `/status` that `herd status` shows. Checked, since it
 * comes over the network; fields it does not show may be anything.
 */
export const statusViewSchema = z.looseObject({
  network: z.string().max(64).optional(),
  peerId: z.string().max(128),
  peers: count,
  cache: z.looseObject({
    blobs: count,
    bytes: count,
    quotaBytes: count,
    pinned: count,
    evictions: count,
    downloads: z.array(z.looseObject({ blobId: z.string().max(128), size: count, held: count, chunks: count })).max(10_000)
  }),
  fetch: z.looseObject({ localHits: count, peerHits: count, walrusHits: count, bytesFromPeers: count, bytesFromWalrus: count, badChunks: count }),
  // Absent from a node older than the upload pace: the line is left out.
  serve: z.looseObject({ chunksServed: count, bytesServed: count, refused: count, watching: count.optional(), paceBytesPerSec: count, paceWaitSeconds: z.number().min(0) }).optional(),
  // sessionLoads is absent from a node older than it: left out of the line.
  inference: z.looseObject({ runs: count, forwarded: count, failed: count, busy: count, queue: count, sessions: count, sessionLoads: count.optional() }),
  funds: z.looseObject({ address: z.string().max(128), blocked: z.array(z.looseObject({ kind: z.string().max(32), since: z.number(), error: z.string().max(4096) })).max(16) }).optional(),
  proofs: z.looseObject({ enabled: z.boolean(), queued: count, sealed: count, bundles: count, setAside: count, retrying: z.boolean(), lastError: z.string().max(4096).optional(), nextSealAt: z.number().min(0).optional(), writing: count.optional(), writesAtOnce: count.optional() }),
  storage: z.looseObject({
    epoch: count.optional(),
    active: count,
    renewed: count,
    failing: count,
    expiringSoon: count,
    expired: count,
    cannotExtend: count,
    ceilingReached: z.boolean(),
    lastError: z.string().max(4096).optional()
  }).optional()
})

export type StatusView = z.infer<typeof statusViewSchema>

const BAR_WIDTH = 24
const { barCompleteChar = '#', barIncompleteChar = '-' } = cliProgress.Presets.shades_classic

function bar (part: number, whole: number): string {
  const progress = whole > 0 ? Math.min(1, part / whole) : 0
  return cliProgress.Format.BarFormat(progress, {
    barsize: BAR_WIDTH,
    barCompleteString: barCompleteChar.repeat(BAR_WIDTH),
    barIncompleteString: barIncompleteChar.repeat(BAR_WIDTH),
    barGlue: ''
  })
}

/** An earlier read of the same node, and the milliseconds since: what `--watch` turns into rates. */
export interface EarlierStatus {
  status: StatusView
  ms: number
}

/**
 * Bytes a second between two reads of a counter, or nothing when there is no
 * earlier read or the counter went back (the node restarted in between).
 */
function rateSince (now: number, before: number | undefined, ms: number): string {
  if (before == null || ms <= 0 || now < before) return ''
  return `, ${formatSpeed(now - before, ms)} now`
}

/** The node at a glance, as lines of text; with an earlier read, the byte counters' rates since it too. */
export function renderStatus (api: string, s: StatusView, earlier?: EarlierStatus): string {
  const { cache, fetch, inference, proofs } = s
  const hits = fetch.localHits + fetch.peerHits + fetch.walrusHits
  const fetched = fetch.bytesFromPeers + fetch.bytesFromWalrus
  const before = earlier?.status
  const fetchedBefore = before != null ? before.fetch.bytesFromPeers + before.fetch.bytesFromWalrus : undefined
  const lines = [
    `herd node ${s.peerId} on ${s.network ?? 'devnet'} (${api})`,
    `peers      ${s.peers}`,
    `cache      ${bar(cache.bytes, cache.quotaBytes)} ${formatBytes(cache.bytes)} of ${formatBytes(cache.quotaBytes)} (${formatPercent(cache.bytes, cache.quotaBytes)}), ${cache.blobs} blobs, ${cache.pinned} pinned, ${cache.evictions} evicted`,
    `hits       ${hits} requests: ${formatPercent(fetch.localHits, hits)} local, ${formatPercent(fetch.peerHits, hits)} from peers, ${formatPercent(fetch.walrusHits, hits)} from Walrus`,
    `fetched    ${formatBytes(fetched)}: ${formatPercent(fetch.bytesFromPeers, fetched)} from peers, ${formatPercent(fetch.bytesFromWalrus, fetched)} from Walrus${fetch.badChunks > 0 ? `, ${fetch.badChunks} bad chunks refused` : ''}${rateSince(fetched, fetchedBefore, earlier?.ms ?? 0)}`,
    ...(s.serve != null ? [servedLine(s.serve, before?.serve?.bytesServed, earlier?.ms ?? 0)] : []),
    `downloads  ${cache.downloads.length === 0 ? 'none' : cache.downloads.length}`,
    ...cache.downloads.slice(0, 20).map(d => `  ${shortId(d.blobId).padEnd(16)} ${bar(d.held, d.chunks)} ${d.held}/${d.chunks} chunks of ${formatBytes(d.size)}`),
    ...(cache.downloads.length > 20 ? [`  … and ${cache.downloads.length - 20} more`] : []),
    `inference  ${inference.queue} running or waiting, ${inference.sessions} sessions warm${inference.sessionLoads != null ? ` (${inference.sessionLoads} loaded since start)` : ''}; ${inference.runs} runs, ${inference.forwarded} forwarded, ${inference.failed} failed (${inference.busy} answered busy)`,
    proofs.enabled
      ? `proofs     ${proofs.queued} queued${proofs.nextSealAt != null && proofs.queued > 0 && !proofs.retrying ? ` (sealed by ${new Date(proofs.nextSealAt).toISOString().slice(11, 19)} UTC at the latest)` : ''}, ${proofs.sealed} sealed in ${proofs.bundles} anchored bundles${proofs.writing != null && proofs.writing > 0 ? ` (${proofs.writing} more being written, ${proofs.writesAtOnce ?? 1} at most at once)` : ''}, ${proofs.setAside} set aside${proofs.retrying ? `; retrying: ${proofs.lastError ?? 'a write failed'}` : ''}`
      : 'proofs     off',
    ...(s.storage != null && (s.storage.active > 0 || s.storage.expired > 0) ? [storageLine(s.storage)] : []),
    ...(s.funds?.blocked ?? []).map(b => `FUNDS      ${b.kind} writes blocked since ${new Date(b.since).toISOString()}: fund ${s.funds?.address ?? 'the node'} (${b.error})`)
  ]
  return `${lines.join('\n')}\n`
}

/** What the node sent its peers, and the upload pace that holds it (mesh.uploadBytesPerSec). */
function servedLine (serve: NonNullable<StatusView['serve']>, bytesBefore: number | undefined, ms: number): string {
  const pace = serve.paceBytesPerSec > 0 ? `upload pace ${formatBytes(serve.paceBytesPerSec)}/s, waited on ${Math.round(serve.paceWaitSeconds)} s` : 'no upload pace'
  const watches = (serve.watching ?? 0) > 0 ? `; watched by ${serve.watching} peer downloads` : ''
  return `served     ${formatBytes(serve.bytesServed)} in ${serve.chunksServed} chunks to peers${rateSince(serve.bytesServed, bytesBefore, ms)}; ${serve.refused} requests refused${watches}; ${pace}`
}

/** What the node keeps alive on Walrus, with what needs the operator first named in capitals. */
function storageLine (st: NonNullable<StatusView['storage']>): string {
  const troubles = [
    ...(st.expired > 0 ? [`${st.expired} LOST`] : []),
    ...(st.cannotExtend > 0 ? [`${st.cannotExtend} not extendable by this node`] : []),
    ...(st.ceilingReached ? ['SPENDING CEILING reached: renewals wait for the next epoch'] : []),
    ...(st.failing > 0 && st.lastError != null ? [`last error: ${st.lastError}`] : [])
  ]
  return `storage    ${st.active} kept on Walrus${st.epoch != null ? ` (epoch ${st.epoch})` : ''}, ${st.renewed} renewed, ${st.failing} failing, ${st.expiringSoon} within one epoch of their end` +
    (troubles.length > 0 ? `; ${troubles.join('; ')}` : '')
}
