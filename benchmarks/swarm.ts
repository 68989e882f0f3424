// A swarm under real link caps: N herd node processes, each in its own network namespace with a tc-capped link, and the devnet behind
// its own capped link, all pulling one blob at once. Prints each node's rate as a share of its cap, origin bytes per blob and the time
// until all have it against the ideal (blob / cap), beside the goals.
import { cpus } from 'node:os'
import { writeFile } from 'node:fs/promises'
import { dirname, resolve } from 'node:path'
import { LINK_QUEUES, netnsUnavailable, type LinkQueue } from '../harness/netns.js'
import { linkUse } from '../harness/link-counters.js'
import { runSwarmPull, type SwarmPullResult } from '../harness/swarm-pull.js'
import { socketUse, type SocketUse } from '../harness/socket-queues.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { note } from './measure.js'

const MiB = 1024 * 1024
const GiB = 1024 * MiB
/** Goals of issue 19: every node at ≥ 85% of its cap, and the origin serving at most 1.1 × the blob, in every run. */
const CAP_SHARE_GOAL = 0.85
const ORIGIN_GOAL = 1.1
/** The wasm32 RS2 encoder of the local Walrus takes at most 768 MiB (src/blob/blob-id-computer.ts); a model file needs a little room. */
const MAX_BLOB_MIB = 767
/** How often --sockets reads every node's sockets: one `ss` per node a second is little beside the pull. */
const SOCKET_SAMPLE_MS = 1_000

const USAGE = `usage: swarm [--quick] [--nodes 2..32[,…]] [--blob-mib 1..${MAX_BLOB_MIB}] [--cap-mib (0,1024]] [--origin-cap-mib (0,1024]] [--origin-latency-ms 0..10000] [--chunk-mib 1|2|4] [--congestion-control NAME] [--link-queue ${LINK_QUEUES.join('|')}] [--tcp-seconds 0..120 (0: no TCP baseline)] [--upload-share 0.1..1] [--sockets] [--timeline FILE] [--help]`
const { values, refuse, makeDir } = parseScriptArgs('swarm', USAGE, {
  quick: { type: 'boolean', default: false },
  nodes: { type: 'string' },
  'blob-mib': { type: 'string' },
  'cap-mib': { type: 'string' },
  'origin-cap-mib': { type: 'string' },
  'origin-latency-ms': { type: 'string' },
  'chunk-mib': { type: 'string' },
  // The namespaces' TCP congestion control (the host's by default; outside its own namespace the host allows only some).
  'congestion-control': { type: 'string' },
  // How each capped link queues what waits for the cap (harness/netns.ts): one drop-tail FIFO by default, or small packets first.
  'link-queue': { type: 'string' },
  // Seconds of plain TCP, every node sending to every other over the same links, measured before each pull: the yardstick.
  'tcp-seconds': { type: 'string' },
  // Each node's upload pace (mesh.uploadBytesPerSec) as a share of its cap, as an operator sets it under the uplink; none by default.
  'upload-share': { type: 'string' },
  // Every node's TCP socket queues (ss, once a second in each namespace) in each phase: where the queue in front of a link sits.
  sockets: { type: 'boolean', default: false },
  // Each node's chunks as they landed (ms, index, from), and the links' counters, two JSON files per run: what docs/swarm.md reads.
  timeline: { type: 'string' }
})
const quick = values.quick
const nodeCounts = (values.nodes ?? (quick ? '8' : '8,16')).split(',').map(Number)
const blobMiB = Number(values['blob-mib'] ?? (quick ? 64 : 512))
// 2 MiB/s a node: a node in a pull spends 70-80 CPU-seconds per GiB it receives (relaying as much, at a trickle per stream), so
// 8 nodes at 2 MiB/s want about 1.2 of two cores; 16 want 2.4 and are CPU-bound here (docs/swarm.md: --cap-mib 1 for them).
const capMiB = Number(values['cap-mib'] ?? 2)
// A distant origin with four times one node's link: more than any one node takes, a quarter of what 16 nodes want at once.
const originCapMiB = Number(values['origin-cap-mib'] ?? 4 * capMiB)
const originLatencyMs = Number(values['origin-latency-ms'] ?? 50)
const chunkMiB = Number(values['chunk-mib'] ?? 1)
const congestionControl = values['congestion-control']
const linkQueue = (values['link-queue'] ?? 'drop-tail') as LinkQueue
const tcpSeconds = Number(values['tcp-seconds'] ?? (quick ? 8 : 15))
const uploadShare = values['upload-share'] != null ? Number(values['upload-share']) : undefined
if (nodeCounts.some(n => !Number.isInteger(n) || n < 2 || n > 32)) refuse(`--nodes takes integers from 2 to 32, comma-separated, not ${JSON.stringify(values.nodes)}`)
if (!Number.isInteger(blobMiB) || blobMiB < 1 || blobMiB > MAX_BLOB_MIB) refuse(`--blob-mib takes an integer from 1 to ${MAX_BLOB_MIB}, not ${JSON.stringify(values['blob-mib'])}`)
if (!(capMiB > 0 && capMiB <= 1024)) refuse(`--cap-mib takes a number above 0 and at most 1024, not ${JSON.stringify(values['cap-mib'])}`)
// Its default follows --cap-mib, so it can be out of range without being given.
if (!(originCapMiB > 0 && originCapMiB <= 1024)) refuse(`--origin-cap-mib takes a number above 0 and at most 1024, not ${values['origin-cap-mib'] != null ? JSON.stringify(values['origin-cap-mib']) : `${originCapMiB} (4 × --cap-mib, its default)`}`)
if (!(originLatencyMs >= 0 && originLatencyMs <= 10_000)) refuse(`--origin-latency-ms takes a number from 0 to 10000, not ${JSON.stringify(values['origin-latency-ms'])}`)
if (![1, 2, 4].includes(chunkMiB)) refuse(`--chunk-mib takes 1, 2 or 4, not ${JSON.stringify(values['chunk-mib'])}`)
if (!(LINK_QUEUES as readonly string[]).includes(linkQueue)) refuse(`--link-queue takes ${LINK_QUEUES.join(' or ')}, not ${JSON.stringify(values['link-queue'])}`)
if (!(tcpSeconds >= 0 && tcpSeconds <= 120)) refuse(`--tcp-seconds takes a number from 0 to 120, not ${JSON.stringify(values['tcp-seconds'])}`)
if (uploadShare != null && !(uploadShare >= 0.1 && uploadShare <= 1)) refuse(`--upload-share takes a number from 0.1 to 1, not ${JSON.stringify(values['upload-share'])}`)
if (values.timeline != null) {
  if (values.timeline === '') refuse('--timeline takes a file name, not an empty string')
  makeDir('--timeline', dirname(resolve(values.timeline)))
}

const unavailable = await netnsUnavailable()
if (unavailable != null) {
  console.error(`swarm: ${unavailable}: this benchmark needs network namespaces`)
  process.exit(2)
}

interface RunFigures {
  nodes: number
  capShareMin: number
  capShareMedian: number
  /** The namespaces' TCP congestion control. */
  congestionControl: string
  /** Plain TCP over the same links, every node sending to every other: the least and the median node's share of its cap. */
  tcpShareMin?: number
  tcpShareMedian?: number
  /** capShareMin over tcpShareMin: herd's slowest node against plain TCP's on the same links. */
  capShareOverTcp?: number
  originBytesPerBlob: number
  allOverIdeal: number
  failed: number
  cpuSecondsPerGiB: number
  machineBusyShare: number
  /** The nodes' threads' time waiting for a CPU over their CPU time during the pull (absent without schedstats). */
  runQueueWaitPerCpuSecond?: number
  /** A node at rest, before the pull: CPU seconds per second. */
  restCpuShare: number
  blobRequestsPerMiB: number
  /** The links through the pull's two phases (absent if the counters could not be read). */
  links?: LinkFigures
  /** The nodes' socket queues in the same phases (with --sockets). */
  sockets?: Partial<Record<PhaseName, SocketUse>>
}

/** How full a set of links was over a time, as a share of their caps. */
interface PhaseUse {
  seconds: number
  /** The origin's uplink: what it served over its cap. */
  origin: number
  /** The nodes' downlinks: the mean, and the emptiest. */
  downMean: number
  downMin: number
  /** The nodes' uplinks, the mean: what they relayed. */
  upMean: number
  /** The devnet's CPU, seconds a second. */
  devnetCpu: number
  /** The nodes' CPU together, seconds a second. */
  nodeCpu: number
  /** The nodes' CPU seconds per GiB their downlinks carried: at this cost, the cores every downlink at its cap would want is nodeCpuAtCap. */
  nodeCpuPerGiB: number
  nodeCpuAtCap: number
}

/**
 * A cold pull in two phases: until the origin has served its last bytes
 * (99% of what it served), while new bytes still come into the swarm, and
 * after, when every chunk is held somewhere and the nodes only trade. Which
 * link runs under its cap in the first phase says what holds it back: the
 * origin's link, the devnet's CPU, or the nodes' own links and schedule.
 */
interface LinkFigures {
  walrusPhase?: PhaseUse
  exchangePhase?: PhaseUse
  /**
   * The pull's two ends, inside the phases above: until every node had its
   * first chunk (before it a node has nothing to relay, and only the
   * origin's share of its link reaches it), and from the first node done to
   * the last (the chunks still in flight draining). What the slowest node loses against the cap
   * beyond the middle's pace is lost here.
   */
  startPhase?: PhaseUse
  endPhase?: PhaseUse
}

function phaseUse (r: SwarmPullResult, from: number, to: number, capBytesPerSec: number, originCapBytesPerSec: number): PhaseUse | undefined {
  const use = linkUse(r.links.samples, from, to)
  if (use == null || use.seconds <= 0) return undefined
  const down = use.received.slice(1).map(b => b / use.seconds / capBytesPerSec)
  const up = use.sent.slice(1).map(b => b / use.seconds / capBytesPerSec)
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
  const carried = use.received.slice(1).reduce((a, b) => a + b, 0)
  const nodeCpuPerGiB = carried > 0 ? (use.cpuSeconds[1] ?? 0) / (carried / GiB) : 0
  return {
    seconds: use.seconds,
    origin: (use.sent[0] ?? 0) / use.seconds / originCapBytesPerSec,
    downMean: mean(down),
    downMin: Math.min(...down),
    upMean: mean(up),
    devnetCpu: (use.cpuSeconds[0] ?? 0) / use.seconds,
    nodeCpu: (use.cpuSeconds[1] ?? 0) / use.seconds,
    nodeCpuPerGiB,
    nodeCpuAtCap: nodeCpuPerGiB * down.length * capBytesPerSec / GiB
  }
}

type PhaseName = 'walrusPhase' | 'exchangePhase' | 'startPhase' | 'endPhase'

/** The phases in the order they are printed, and how the links' and the sockets' lines name them. */
const PHASES: ReadonlyArray<{ name: PhaseName, links: string, sockets: string }> = [
  { name: 'startPhase', links: 'at the start, until every node had its first chunk', sockets: 'at the start' },
  { name: 'walrusPhase', links: 'while the origin served (the Walrus phase)', sockets: 'in the Walrus phase' },
  { name: 'exchangePhase', links: 'after it (the exchange)', sockets: 'in the exchange' },
  { name: 'endPhase', links: 'at the end, from the first node done to the last (done nodes\' downlinks count as empty)', sockets: 'at the end' }
]

/** Each phase's bounds in ms of performance.now() (LinkFigures says what they are); a phase that cannot be told is left out. */
function phaseBounds (r: SwarmPullResult): Array<[PhaseName, number, number]> {
  const { samples, startedAt } = r.links
  const last = samples[samples.length - 1]
  if (last == null || samples.length < 3) return []
  const originAt = (s: typeof last): number => s.sent[0] ?? 0
  const originStart = originAt(samples.findLast(s => s.at <= startedAt) ?? samples[0] ?? last)
  const served = originAt(last) - originStart
  const walrusEnd = samples.find(s => originAt(s) - originStart >= 0.99 * served)?.at ?? last.at
  const end = startedAt + r.allMs
  const bounds: Array<[PhaseName, number, number]> = [['walrusPhase', startedAt, walrusEnd]]
  if (walrusEnd < end) bounds.push(['exchangePhase', walrusEnd, end])
  const firstChunksMs = Math.max(...r.nodes.map(n => n.firstChunkMs))
  if (Number.isFinite(firstChunksMs)) bounds.push(['startPhase', startedAt, startedAt + firstChunksMs])
  const doneMs = r.nodes.filter(n => n.ok).map(n => n.ms)
  if (doneMs.length > 1) bounds.push(['endPhase', startedAt + Math.min(...doneMs), end])
  return bounds
}

function linkFigures (r: SwarmPullResult, capBytesPerSec: number, originCapBytesPerSec: number): LinkFigures | undefined {
  const bounds = phaseBounds(r)
  if (bounds.length === 0) return undefined
  const figures: LinkFigures = {}
  for (const [name, from, to] of bounds) {
    const use = phaseUse(r, from, to, capBytesPerSec, originCapBytesPerSec)
    if (use != null) figures[name] = use
  }
  return figures
}

/** The nodes' socket queues in the same phases as the links (with --sockets). */
function socketFigures (r: SwarmPullResult): Partial<Record<PhaseName, SocketUse>> | undefined {
  if (r.sockets == null) return undefined
  const figures: Partial<Record<PhaseName, SocketUse>> = {}
  for (const [name, from, to] of phaseBounds(r)) {
    const use = socketUse(r.sockets, from, to)
    if (use != null) figures[name] = use
  }
  return figures
}

function figures (r: SwarmPullResult, capBytesPerSec: number, originCapBytesPerSec: number): RunFigures {
  const links = linkFigures(r, capBytesPerSec, originCapBytesPerSec)
  const sockets = socketFigures(r)
  const ok = r.nodes.filter(n => n.ok)
  // A node's rate over its whole fetch, from the request: the wait before the first byte counts against it.
  const shares = r.nodes.map(n => n.ok ? r.blobBytes / (n.ms / 1000) / capBytesPerSec : 0).sort((a, b) => a - b)
  const idealMs = r.blobBytes / capBytesPerSec * 1000
  const delivered = ok.length * r.blobBytes
  const tcp = r.tcpBaseline != null ? [...r.tcpBaseline.shares].sort((a, b) => a - b) : undefined
  const tcpShareMin = tcp?.[0]
  return {
    nodes: r.nodes.length,
    capShareMin: shares[0] ?? 0,
    capShareMedian: shares[Math.floor((shares.length - 1) / 2)] ?? 0,
    congestionControl: r.congestionControl,
    ...(tcp != null && tcpShareMin != null
      ? { tcpShareMin, tcpShareMedian: tcp[Math.floor((tcp.length - 1) / 2)] ?? 0, ...(tcpShareMin > 0 ? { capShareOverTcp: (shares[0] ?? 0) / tcpShareMin } : {}) }
      : {}),
    originBytesPerBlob: r.originBytes / r.blobBytes,
    allOverIdeal: r.allMs / idealMs,
    failed: r.nodes.length - ok.length,
    cpuSecondsPerGiB: delivered > 0 ? r.nodeCpuSeconds / (delivered / 1024 / MiB) : 0,
    machineBusyShare: r.machineBusyShare,
    ...(r.nodeRunQueueSeconds != null ? { runQueueWaitPerCpuSecond: r.nodeRunQueueSeconds / Math.max(0.001, r.nodeCpuSeconds) } : {}),
    restCpuShare: r.restCpuShare,
    blobRequestsPerMiB: delivered > 0 ? r.blobRequests / (delivered / MiB) : 0,
    ...(links != null ? { links } : {}),
    ...(sockets != null ? { sockets } : {})
  }
}

// Ctrl-C or a kill ends the run through its finally blocks: processes stopped, namespaces and the work dir removed.
const controller = new AbortController()
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => { controller.abort(new Error(`stopped by ${signal}`)) })

const capBytesPerSec = Math.round(capMiB * MiB)
const runs: RunFigures[] = []
const failedRuns: Array<{ nodes: number, error: string }> = []
for (const n of nodeCounts) {
  note(`${n} nodes, ${blobMiB} MiB, node cap ${capMiB} MiB/s, origin cap ${originCapMiB} MiB/s and ${originLatencyMs} ms`)
  const idealSecs = blobMiB / capMiB
  let result: SwarmPullResult
  try {
    result = await runSwarmPull({
      nodes: n,
      blobBytes: blobMiB * MiB,
      chunkBytes: chunkMiB * MiB,
      nodeCapBytesPerSec: capBytesPerSec,
      originCapBytesPerSec: Math.round(originCapMiB * MiB),
      originLatencyMs,
      seed: 19,
      signal: controller.signal,
      // Ten times the ideal and two minutes more: a pull slower than that has failed, whatever it would have reached.
      pullTimeoutMs: Math.round(10 * idealSecs * 1000 + 120_000),
      ...(congestionControl != null ? { congestionControl } : {}),
      linkQueue,
      ...(tcpSeconds > 0 ? { tcpBaselineSeconds: tcpSeconds } : {}),
      ...(uploadShare != null ? { uploadBytesPerSec: Math.round(uploadShare * capBytesPerSec) } : {}),
      ...(values.sockets ? { socketSampleMs: SOCKET_SAMPLE_MS } : {}),
      log: note
    })
  } catch (err) {
    if (controller.signal.aborted) throw err
    // A run that could not be set up (a node not ready on a loaded machine) is reported, and the other runs still measured.
    console.log(`\n## ${n} nodes: the run failed: ${(err as Error).message.slice(0, 500)}`)
    failedRuns.push({ nodes: n, error: (err as Error).message.slice(0, 300) })
    continue
  }
  const f = figures(result, capBytesPerSec, Math.round(originCapMiB * MiB))
  runs.push(f)
  if (values.timeline != null) {
    const file = `${values.timeline}.${n}.json`
    await writeFile(file, JSON.stringify(result.nodes.map(({ node, landed }) => ({ node, landed }))))
    // The links' counters beside it, in ms from the pull's start: [ms, received by port, sent by port, devnet CPU s]; port 0 is the origin's.
    const linksFile = `${values.timeline}.${n}.links.json`
    await writeFile(linksFile, JSON.stringify(result.links.samples.map(s => [Math.round(s.at - result.links.startedAt), s.received, s.sent, s.cpuSeconds])))
    // With --sockets, each node's sockets beside them: [ms from the pull's start, by node [unsent, unacknowledged, round trips ms] or null].
    const socketsFile = result.sockets != null ? `${values.timeline}.${n}.sockets.json` : undefined
    if (socketsFile != null) await writeFile(socketsFile, JSON.stringify((result.sockets ?? []).map(s => [Math.round(s.at - result.links.startedAt), s.nodes.map(q => q != null ? [q.unsent, q.queued, q.roundTripsMs] : null)])))
    note(`timeline in ${file}, link counters in ${linksFile}${socketsFile != null ? `, socket queues in ${socketsFile}` : ''}`)
  }
  note(`set up in ${(result.setupMs / 1000).toFixed(0)} s; nodes without peers: ${result.nodesWithoutPeers}`)
  console.log(`\n## ${n} nodes, ${blobMiB} MiB blob, cap ${capMiB} MiB/s per node (ideal ${idealSecs.toFixed(1)} s), origin ${originCapMiB} MiB/s + ${originLatencyMs} ms, ${linkQueue} link queues${uploadShare != null ? `, each node's uploads paced to ${(uploadShare * 100).toFixed(0)}% of its cap` : ''}\n`)
  const tcpShares = result.tcpBaseline?.shares
  console.log(`| node | seconds | share of cap | first byte s | from peers MiB | from Walrus MiB |${tcpShares != null ? ' plain TCP\'s share |' : ''}`)
  console.log(`|---:|---:|---:|---:|---:|---:|${tcpShares != null ? '---:|' : ''}`)
  for (const node of result.nodes) {
    const share = node.ok ? result.blobBytes / (node.ms / 1000) / capBytesPerSec : 0
    const tcpShare = tcpShares?.[node.node]
    console.log(`| ${node.node} | ${node.ok ? (node.ms / 1000).toFixed(1) : `failed: ${node.error ?? ''}`} | ${(share * 100).toFixed(1)}% | ${(node.firstChunkMs / 1000).toFixed(2)} | ${(node.peerBytes / MiB).toFixed(0)} | ${(node.walrusBytes / MiB).toFixed(0)} |${tcpShares != null ? ` ${tcpShare != null ? `${(tcpShare * 100).toFixed(1)}%` : '-'} |` : ''}`)
  }
  console.log(`\n- share of cap: min ${(f.capShareMin * 100).toFixed(1)}% (goal ≥ ${CAP_SHARE_GOAL * 100}%), median ${(f.capShareMedian * 100).toFixed(1)}%`)
  if (f.tcpShareMin != null && f.tcpShareMedian != null) {
    // The same links with herd left out: a drop-tail tbf queues each link's acknowledgements behind its data, so plain TCP falls short too.
    console.log(`- plain TCP on the same links (${f.congestionControl}), every node sending to every other for ${tcpSeconds} s before the pull: min ${(f.tcpShareMin * 100).toFixed(1)}%, median ${(f.tcpShareMedian * 100).toFixed(1)}% of the cap; herd's slowest node ÷ plain TCP's: ${f.capShareOverTcp != null ? f.capShareOverTcp.toFixed(3) : '-'}`)
  } else {
    console.log(`- TCP congestion control in the namespaces: ${f.congestionControl}; no plain TCP baseline (--tcp-seconds 0)`)
  }
  console.log(`- origin bytes / blob: ${f.originBytesPerBlob.toFixed(3)} (goal ≤ ${ORIGIN_GOAL})`)
  console.log(`- all nodes done in ${(result.allMs / 1000).toFixed(1)} s = ${f.allOverIdeal.toFixed(2)} × the ideal ${idealSecs.toFixed(1)} s`)
  console.log(`- node CPU: ${f.cpuSecondsPerGiB.toFixed(1)} s per GiB delivered; the machine (${cpus().length} cores, every process) was ${(f.machineBusyShare * 100).toFixed(0)}% busy during the pull`)
  // Past 1, the node processes waited longer for a CPU than they ran: the figures above are the machine's, not the links' or herd's scheduling.
  console.log(`- node threads waited ${f.runQueueWaitPerCpuSecond != null ? f.runQueueWaitPerCpuSecond.toFixed(2) : '(no schedstats)'} s on a run queue per CPU-second they ran; a node at rest before the pull used ${(f.restCpuShare * 100).toFixed(1)}% of a core`)
  console.log(`- blob requests served (each a stream): ${f.blobRequestsPerMiB.toFixed(2)} per MiB delivered`)
  const pct = (x: number): string => `${(x * 100).toFixed(0)}%`
  for (const { name, links: when } of PHASES) {
    const phase = f.links?.[name]
    if (phase == null) continue
    console.log(`- links ${when}, ${phase.seconds.toFixed(1)} s: origin's uplink ${pct(phase.origin)} of its cap, nodes' downlinks ${pct(phase.downMean)} (emptiest ${pct(phase.downMin)}), uplinks ${pct(phase.upMean)}; the devnet used ${pct(phase.devnetCpu)} of a core, the nodes ${phase.nodeCpu.toFixed(2)} cores (${phase.nodeCpuPerGiB.toFixed(0)} CPU-s per GiB received: every downlink at its cap would want ${phase.nodeCpuAtCap.toFixed(2)})`)
  }
  const kib = (x: number): string => `${(x / 1024).toFixed(0)} KiB`
  for (const { name, sockets: when } of PHASES) {
    const phase = f.sockets?.[name]
    if (phase == null) continue
    // Unsent bytes are what a node's own chunk requests and window updates on those connections wait behind, in its own sockets.
    console.log(`- sockets ${when} (${phase.samples} node samples): a node's connections to its peers held ${kib(phase.unsentMedian)} unsent at the median (most ${kib(phase.unsentMost)}) and ${kib(phase.queuedMedian)} unacknowledged; the kernel's round trip on them ${phase.roundTripMedianMs.toFixed(1)} ms at the median`)
  }
}

function roundPhases (l: LinkFigures | Partial<Record<PhaseName, SocketUse>>): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  for (const [name, phase] of Object.entries(l)) out[name] = Object.fromEntries(Object.entries(phase as Record<string, number>).map(([k, v]) => [k, +v.toFixed(k === 'seconds' || k.endsWith('Ms') ? 1 : Number.isInteger(v) ? 0 : 3)]))
  return out
}

// A run that failed met no goal: it counts as a share of 0 (origin bytes unknown, so the worst of the others).
const capShareMin = failedRuns.length > 0 ? 0 : Math.min(...runs.map(r => r.capShareMin))
const originBytesPerBlob = Math.max(0, ...runs.map(r => r.originBytesPerBlob))
const againstTcp = runs.flatMap(r => r.capShareOverTcp != null ? [r.capShareOverTcp] : [])
const capShareOverTcp = failedRuns.length === 0 && againstTcp.length === runs.length && runs.length > 0 ? Math.min(...againstTcp) : undefined
const tcpShareMin = runs.every(r => r.tcpShareMin != null) && runs.length > 0 ? Math.min(...runs.map(r => r.tcpShareMin as number)) : undefined
console.log(`\nworst run: share of cap ${(capShareMin * 100).toFixed(1)}% (goal ≥ ${CAP_SHARE_GOAL * 100}%: ${capShareMin >= CAP_SHARE_GOAL ? 'met' : 'NOT met'}), origin ${originBytesPerBlob.toFixed(3)} × blob (goal ≤ ${ORIGIN_GOAL}: ${originBytesPerBlob <= ORIGIN_GOAL ? 'met' : 'NOT met'})${capShareOverTcp != null && tcpShareMin != null ? `; plain TCP's slowest node on the same links ${(tcpShareMin * 100).toFixed(1)}%, herd's ÷ plain TCP's ${capShareOverTcp.toFixed(3)}` : ''}`)
console.log(JSON.stringify({
  bench: 'swarm',
  quick,
  blobMiB,
  capMiB,
  originCapMiB,
  originLatencyMs,
  linkQueue,
  ...(uploadShare != null ? { uploadShare } : {}),
  capShareMin: +capShareMin.toFixed(3),
  capShareGoal: CAP_SHARE_GOAL,
  originBytesPerBlob: +originBytesPerBlob.toFixed(3),
  originBytesGoal: ORIGIN_GOAL,
  ...(tcpShareMin != null ? { tcpShareMin: +tcpShareMin.toFixed(3) } : {}),
  ...(capShareOverTcp != null ? { capShareOverTcp: +capShareOverTcp.toFixed(3) } : {}),
  congestionControl: runs[0]?.congestionControl,
  failedRuns,
  runs: runs.map(r => ({ ...r, capShareMin: +r.capShareMin.toFixed(3), capShareMedian: +r.capShareMedian.toFixed(3), ...(r.tcpShareMin != null ? { tcpShareMin: +r.tcpShareMin.toFixed(3) } : {}), ...(r.tcpShareMedian != null ? { tcpShareMedian: +r.tcpShareMedian.toFixed(3) } : {}), ...(r.capShareOverTcp != null ? { capShareOverTcp: +r.capShareOverTcp.toFixed(3) } : {}), originBytesPerBlob: +r.originBytesPerBlob.toFixed(3), allOverIdeal: +r.allOverIdeal.toFixed(2), cpuSecondsPerGiB: +r.cpuSecondsPerGiB.toFixed(1), machineBusyShare: +r.machineBusyShare.toFixed(2), ...(r.runQueueWaitPerCpuSecond != null ? { runQueueWaitPerCpuSecond: +r.runQueueWaitPerCpuSecond.toFixed(2) } : {}), restCpuShare: +r.restCpuShare.toFixed(3), blobRequestsPerMiB: +r.blobRequestsPerMiB.toFixed(2), ...(r.links != null ? { links: roundPhases(r.links) } : {}), ...(r.sockets != null ? { sockets: roundPhases(r.sockets) } : {}) }))
}))
