/**
 * Writes a simulation run's output folder: `report.json`, a Markdown
 * `summary.md`, and each chart as SVG and PNG. Every file is written
 * atomically (temp file + rename).
 */

import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { writeFileAtomic } from '../src/blob/atomic-file.js'
import { byteUnit, chartFonts, cdf, hitRateChart, policyByteHitRatioChart, STRATEGIES, timeToModelCdfChart, walrusEgressChart, type Chart, type ChartFonts } from './charts.js'
import { POLICY_NAMES } from '../src/blob/cache/policy.js'
import { SATURATED_SHARE } from './live-cpu.js'
import { tailGoals, type TailGoal } from './tail-goals.js'
import type { PolicyPoint, SimReport, StrategyMetrics, StrategyName, SweepPoint } from './types.js'

export const REPORT_FILE = 'report.json'
export const SUMMARY_FILE = 'summary.md'
export const HIT_RATE_CHART = 'hit-rate-by-cache-size'
export const WALRUS_EGRESS_CHART = 'walrus-egress-by-nodes'
export const TIME_TO_MODEL_CHART = 'time-to-model-cdf'
export const POLICY_CHART = 'byte-hit-ratio-by-policy'

/** `report.json` keeps at most this many time-to-model samples per strategy (evenly spaced ranks). */
export const MAX_JSON_SAMPLES = 1000
/** Live and scale figures further apart than this many percentage points are flagged. */
export const DEFAULT_SCALE_CHECK_POINTS = 5

export interface WriteReportOptions {
  signal?: AbortSignal
  /** Flag a live/scale difference above this many percentage points; default `DEFAULT_SCALE_CHECK_POINTS`. */
  scaleCheckPoints?: number
}

interface ChartJob {
  name: string
  title: string
  /** Why the chart is not drawn, when its data is absent. */
  absent?: string
  draw: () => Promise<Chart>
}

/** Writes the run's files into `dir` (created if missing) and returns their paths. */
export async function writeReport (dir: string, report: SimReport, options: WriteReportOptions = {}): Promise<{ files: string[] }> {
  const { signal } = options
  signal?.throwIfAborted()
  await mkdir(dir, { recursive: true })
  const files: string[] = []
  const write = async (name: string, bytes: string | Uint8Array): Promise<void> => {
    signal?.throwIfAborted()
    const path = join(dir, name)
    await writeFileAtomic(path, bytes)
    files.push(path)
  }

  await write(REPORT_FILE, reportJson(report))

  const charts = chartJobs(report)
  const drawn = new Set<string>()
  for (const job of charts) {
    if (job.absent != null) continue
    signal?.throwIfAborted()
    const chart = await job.draw()
    await write(`${job.name}.svg`, chart.svg)
    await write(`${job.name}.png`, chart.png)
    drawn.add(job.name)
  }

  await write(SUMMARY_FILE, summaryMarkdown(report, {
    charts,
    fonts: drawn.size > 0 ? await chartFonts() : undefined,
    scaleCheckPoints: options.scaleCheckPoints ?? DEFAULT_SCALE_CHECK_POINTS
  }))
  return { files }
}

function chartJobs (report: SimReport): ChartJob[] {
  const hitRate = report.sweeps?.hitRateByCacheSize ?? []
  const egress = report.sweeps?.walrusBytesByNodes ?? []
  const samples: Partial<Record<StrategyName, number[]>> = {}
  for (const s of STRATEGIES) {
    const values = report.strategies[s]?.timeToModelSamples
    if (values != null && values.length > 0) samples[s] = values
  }
  const jobs: ChartJob[] = [
    {
      name: HIT_RATE_CHART,
      title: 'Hit rate against cache size',
      absent: hitRate.length === 0 ? 'the report has no cache-size sweep (`sweeps.hitRateByCacheSize`)' : undefined,
      draw: async () => hitRateChart(hitRate, report.sweeps?.localHitRateByCacheSize ?? [])
    },
    {
      name: WALRUS_EGRESS_CHART,
      title: 'Walrus egress against node count',
      absent: egress.length === 0 ? 'the report has no node-count sweep (`sweeps.walrusBytesByNodes`)' : undefined,
      draw: async () => walrusEgressChart(egress)
    },
    {
      name: TIME_TO_MODEL_CHART,
      title: 'Time to model (CDF)',
      absent: Object.keys(samples).length === 0 ? 'no strategy has time-to-model samples (`timeToModelSamples`)' : undefined,
      draw: async () => timeToModelCdfChart(samples)
    }
  ]
  // Only a run that asked for the comparison has it: no "not drawn" line in every other summary.
  const policies = report.policySweep ?? []
  if (policies.length > 0) jobs.push({ name: POLICY_CHART, title: 'Byte hit ratio by policy and cache size', draw: async () => policyByteHitRatioChart(sortedPolicyPoints(policies)) })
  return jobs
}

// report.json -----------------------------------------------------------------

const REPORT_KEYS = ['mode', 'scenario', 'seed', 'startedAt', 'durationMs', 'strategies', 'scaleCheck', 'tailGoals', 'sweeps', 'policySweep']
const GOAL_KEYS = ['id', 'label', 'value', 'atMost', 'met']
const METRICS_KEYS = ['requests', 'localHits', 'peerHits', 'walrusHits', 'walrusFetches', 'walrusBytes', 'peerBytes', 'wireBytes', 'timeToModelMs', 'inferenceMs', 'perNodeHitRate', 'machine', 'timeToModelSamples']
const PERCENTILE_KEYS = ['p50', 'p95', 'p99']
const SPREAD_KEYS = ['min', 'mean', 'max']
const SWEEP_KEYS = ['hitRateByCacheSize', 'localHitRateByCacheSize', 'walrusBytesByNodes']
const POINT_KEYS = ['strategy', 'x', 'value']
const POLICY_POINT_KEYS = ['policy', 'strategy', 'x', 'byteHitRatio', 'hitRate', 'walrusBytes']

/**
 * The report as pretty JSON with a fixed key order: the contract's fields in
 * their order, anything else after them sorted by name (the scenario is
 * sorted throughout). Time-to-model samples are kept, thinned to
 * `MAX_JSON_SAMPLES` evenly spaced ranks (sorted ascending) when there are more.
 */
export function reportJson (report: SimReport): string {
  const goals = tailGoals(report)
  // Derived from the strategies, so a report read back and written again carries the same goals.
  const withGoals = goals.length > 0 ? { ...report, tailGoals: goals } : report
  const out = ordered(withGoals as unknown as Record<string, unknown>, REPORT_KEYS, (key, value) => {
    if (key === 'tailGoals') return (value as TailGoal[]).map(g => ordered(g as unknown as Record<string, unknown>, GOAL_KEYS))
    if (key === 'scenario') return sortedDeep(value)
    if (key === 'strategies' || key === 'scaleCheck') return strategyMap(value as Record<string, StrategyMetrics>)
    if (key === 'sweeps') return ordered(value as Record<string, unknown>, SWEEP_KEYS, (_, points) => sweep(points as SweepPoint[]))
    if (key === 'policySweep') return sortedPolicyPoints(value as PolicyPoint[]).map(p => ordered(p as unknown as Record<string, unknown>, POLICY_POINT_KEYS))
    return sortedDeep(value)
  })
  return `${JSON.stringify(out, null, 2)}\n`
}

function strategyMap (map: Record<string, StrategyMetrics>): Record<string, unknown> {
  return ordered(map, STRATEGIES as string[], (_, metrics) => ordered(metrics as unknown as Record<string, unknown>, METRICS_KEYS, (key, value) => {
    if (key === 'timeToModelMs' || key === 'inferenceMs') return ordered(value as Record<string, unknown>, PERCENTILE_KEYS)
    if (key === 'perNodeHitRate') return ordered(value as Record<string, unknown>, SPREAD_KEYS)
    if (key === 'timeToModelSamples') return capSamples(value as number[])
    return sortedDeep(value)
  }))
}

function sweep (points: SweepPoint[]): unknown[] {
  const rank = (s: string): number => { const i = STRATEGIES.indexOf(s as StrategyName); return i < 0 ? STRATEGIES.length : i }
  return [...points]
    .sort((a, b) => rank(a.strategy) - rank(b.strategy) || a.x - b.x)
    .map(p => ordered(p as unknown as Record<string, unknown>, POINT_KEYS))
}

/** Policies in POLICY_NAMES order (unknown names after, by name), then no mesh before mesh, then cache size. */
function sortedPolicyPoints (points: PolicyPoint[]): PolicyPoint[] {
  const rank = (policy: string): number => { const i = (POLICY_NAMES as readonly string[]).indexOf(policy); return i < 0 ? POLICY_NAMES.length : i }
  const strategyRank = (s: string): number => s === 'noMesh' ? 0 : 1
  return [...points].sort((a, b) => rank(a.policy) - rank(b.policy) || a.policy.localeCompare(b.policy) || strategyRank(a.strategy) - strategyRank(b.strategy) || a.x - b.x)
}

function capSamples (samples: number[]): number[] {
  if (samples.length <= MAX_JSON_SAMPLES) return samples
  return cdf(samples, MAX_JSON_SAMPLES).map(p => p.ms)
}

/** `keys` first in their order, then the rest sorted; undefined values dropped. */
function ordered (obj: Record<string, unknown>, keys: readonly string[], map: (key: string, value: unknown) => unknown = (_, v) => sortedDeep(v)): Record<string, unknown> {
  const rest = Object.keys(obj).filter(k => !keys.includes(k)).sort()
  const out: Record<string, unknown> = {}
  for (const key of [...keys, ...rest]) {
    if (obj[key] === undefined) continue
    out[key] = map(key, obj[key])
  }
  return out
}

function sortedDeep (value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedDeep)
  if (value != null && typeof value === 'object') return ordered(value as Record<string, unknown>, [])
  return value
}

// summary.md ------------------------------------------------------------------

const STRATEGY_NOTES: Record<StrategyName, string> = {
  mesh: 'caches shared over the mesh',
  noMesh: 'each node on its own, Walrus on a miss',
  optimal: 'the bound to compare against'
}

interface SummaryContext {
  charts: ChartJob[]
  fonts?: ChartFonts
  scaleCheckPoints: number
}

/** The scenario's `name` when it has one. */
export function scenarioName (scenario: unknown): string {
  if (typeof scenario === 'string') return scenario
  if (scenario != null && typeof scenario === 'object' && typeof (scenario as { name?: unknown }).name === 'string') {
    return (scenario as { name: string }).name
  }
  return '(unnamed scenario)'
}

function summaryMarkdown (report: SimReport, context: SummaryContext): string {
  const lines: string[] = []
  const present = STRATEGIES.filter(s => report.strategies[s] != null)
  lines.push(`# Simulation: ${escapeCell(scenarioName(report.scenario))}`, '')
  lines.push(`- Scenario: **${escapeCell(scenarioName(report.scenario))}**, seed **${report.seed}**`)
  lines.push(`- Mode: ${report.mode}, started ${report.startedAt}, ran ${formatMs(report.durationMs)}`)
  lines.push(`- Strategies: ${present.map(s => `\`${s}\` (${STRATEGY_NOTES[s]})`).join('; ')}`)
  lines.push('')

  const headline = egressHeadline(report)
  if (headline != null) lines.push(headline, '')

  lines.push('## Where models came from', '')
  lines.push('Rates are shares of all requests. Per-node spread is each node\'s hit rate (local + peer).', '')
  lines.push('| Strategy | Requests | Local hits | Peer hits | Walrus hits | Hit rate (local + peer) | Per-node hit rate min / mean / max |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: | ---: |')
  for (const s of present) {
    const m = report.strategies[s]
    lines.push(`| ${s} | ${formatCount(m.requests)} | ${countAndRate(m.localHits, m.requests)} | ${countAndRate(m.peerHits, m.requests)} | ${countAndRate(m.walrusHits, m.requests)} | ${formatRate(hitRate(m))} | ${formatRate(m.perNodeHitRate.min)} / ${formatRate(m.perNodeHitRate.mean)} / ${formatRate(m.perNodeHitRate.max)} |`)
  }
  lines.push('')

  const inference = present.some(s => report.strategies[s].inferenceMs != null)
  const wire = present.some(s => report.strategies[s].wireBytes != null)
  lines.push('## Walrus egress and time to model', '')
  if (wire) lines.push('Bytes on the wire: what the nodes\' libp2p connections sent, models, gossip and DHT, with encryption and framing.', '')
  lines.push(`| Strategy | Walrus fetches | Walrus bytes | Peer bytes |${wire ? ' Bytes on the wire |' : ''} Time to model p50 / p95 / p99 |${inference ? ' Inference p50 / p95 / p99 |' : ''}`)
  lines.push(`| --- | ---: | ---: | ---: |${wire ? ' ---: |' : ''} ---: |${inference ? ' ---: |' : ''}`)
  for (const s of present) {
    const m = report.strategies[s]
    const inf = m.inferenceMs != null ? ` ${percentiles(m.inferenceMs)} |` : ' — |'
    const onWire = m.wireBytes != null ? ` ${formatBytes(m.wireBytes)} |` : ' — |'
    lines.push(`| ${s} | ${formatCount(m.walrusFetches)} | ${formatBytes(m.walrusBytes)} | ${formatBytes(m.peerBytes)} |${wire ? onWire : ''} ${percentiles(m.timeToModelMs)} |${inference ? inf : ''}`)
  }
  lines.push('')

  lines.push(...machineSection(report, present))
  lines.push(...tailGoalSection(report))
  if (report.scaleCheck != null) lines.push(...scaleCheckSection(report, context.scaleCheckPoints))
  if ((report.policySweep?.length ?? 0) > 0) lines.push(...policySection(report.policySweep ?? [], report.mode))

  lines.push('## Charts', '')
  if (context.fonts != null && !context.fonts.textInPng) {
    lines.push('> The PNG charts have no text: no font was found on this machine (Debian: `apt-get install fonts-dejavu-core`). The SVGs have it.', '')
  }
  for (const chart of context.charts) {
    lines.push(`### ${chart.title}`, '')
    if (chart.absent != null) {
      lines.push(`Not drawn: ${chart.absent}.`, '')
      continue
    }
    lines.push(`![${chart.title}](${chart.name}.svg)`, '', `[SVG](${chart.name}.svg) · [PNG](${chart.name}.png)`, '')
  }

  const samples = present.filter(s => (report.strategies[s].timeToModelSamples?.length ?? 0) > MAX_JSON_SAMPLES)
  lines.push('## Data', '')
  lines.push(`Everything above is in [${REPORT_FILE}](${REPORT_FILE}).${samples.length > 0 ? ` Its time-to-model samples are thinned to ${formatCount(MAX_JSON_SAMPLES)} evenly spaced ranks per strategy (${samples.join(', ')} had more); the CDF chart was drawn from all of them.` : ''}`, '')
  lines.push('<details><summary>Scenario</summary>', '', '```json', JSON.stringify(sortedDeep(report.scenario), null, 2) ?? 'null', '```', '', '</details>', '')
  return lines.join('\n')
}

function egressHeadline (report: SimReport): string | undefined {
  const mesh = report.strategies.mesh
  const noMesh = report.strategies.noMesh
  if (mesh == null || noMesh == null || !(noMesh.walrusBytes > 0)) return undefined
  const saved = 1 - mesh.walrusBytes / noMesh.walrusBytes
  const direction = saved >= 0 ? `${formatPercent(saved)} less` : `${formatPercent(-saved)} more`
  return `With the mesh, Walrus served ${formatBytes(mesh.walrusBytes)} in ${formatCount(mesh.walrusFetches)} fetches, against ${formatBytes(noMesh.walrusBytes)} in ${formatCount(noMesh.walrusFetches)} without it: ${direction}.`
}

const SCALE_MEASURES: ReadonlyArray<{ label: string, rate: (m: StrategyMetrics) => number }> = [
  { label: 'Local hits', rate: m => ratio(m.localHits, m.requests) },
  { label: 'Peer hits', rate: m => ratio(m.peerHits, m.requests) },
  { label: 'Walrus hits', rate: m => ratio(m.walrusHits, m.requests) },
  { label: 'Hit rate (local + peer)', rate: hitRate }
]

/** live − scale, signed, in `format`'s units, and as a share of scale's figure when it has one: `+1.20 MiB (+4.0%)`. */
function signedDifference (live: number, scale: number, format: (value: number) => string): string {
  const difference = live - scale
  const sign = difference >= 0 ? '+' : '−'
  return `${sign}${format(Math.abs(difference))}${scale > 0 ? ` (${sign}${formatPercent(Math.abs(difference) / scale)})` : ''}`
}

/** Past this share of a replay's seconds with the cores saturated, the summary says its times measure the machine. */
const STARVED_SHARE = 0.25

/** How much of the machine the node processes took in each live replay, and a warning when its cores were saturated. */
function machineSection (report: SimReport, present: readonly StrategyName[]): string[] {
  const measured = present.flatMap(s => report.strategies[s].machine != null ? [[s, report.strategies[s].machine] as const] : [])
  if (measured.length === 0) return []
  const lines = ['## The machine during the replay', '']
  lines.push(`CPU the node processes used over each replay, and the share of its seconds in which the machine's cores were ${formatPercent(SATURATED_SHARE)} busy or more (with the nodes, the devnet, this harness or anything else).`, '')
  lines.push('| Strategy | Node CPU | Cores busy with the nodes (mean) | Seconds saturated |')
  lines.push('| --- | ---: | ---: | ---: |')
  for (const [s, m] of measured) lines.push(`| ${s} | ${m.nodeCpuSeconds.toFixed(1)} s | ${m.nodeCores.toFixed(2)} of ${m.machineCores} | ${formatPercent(m.saturatedShare)} |`)
  lines.push('')
  const starved = measured.filter(([, m]) => m.saturatedShare > STARVED_SHARE).map(([s]) => s)
  if (starved.length > 0) {
    lines.push(`> This machine's cores were saturated for more than ${formatPercent(STARVED_SHARE)} of the ${starved.join(' and ')} replay: its times to model and inference latencies measure this machine's CPU as much as the mesh (docs/simulation.md, "Limits on a small machine").`, '')
  }
  return lines
}

function tailGoalSection (report: SimReport): string[] {
  const goals = tailGoals(report)
  if (goals.length === 0) return []
  const lines = ['## Time to model against its goals', '']
  lines.push('Issue 19: with the mesh never slower than Walrus alone, in the same run; in live mode, scale mode\'s p95 for the mesh close to the live one.', '')
  lines.push('| Goal | Measured | At most | Met |')
  lines.push('| --- | ---: | ---: | --- |')
  for (const g of goals) lines.push(`| ${g.label} | ${g.value.toFixed(2)} | ${g.atMost.toFixed(2)} | ${g.met ? 'yes' : '**no**'} |`)
  lines.push('')
  return lines
}

function scaleCheckSection (report: SimReport, threshold: number): string[] {
  const check = report.scaleCheck ?? {} as Record<StrategyName, StrategyMetrics>
  const lines = ['## Live against scale', '']
  lines.push(`Scale mode's prediction for the same trace beside live mode's measurements. Differences are live − scale in percentage points; ⚠ marks more than ${threshold} points apart.`, '')
  lines.push('| Strategy | Measure | Live | Scale | Difference |')
  lines.push('| --- | --- | ---: | ---: | ---: |')
  const flagged: string[] = []
  for (const s of STRATEGIES) {
    const live = report.strategies[s]
    const scale = check[s]
    if (live == null || scale == null) continue
    for (const measure of SCALE_MEASURES) {
      const a = measure.rate(live)
      const b = measure.rate(scale)
      const points = (a - b) * 100
      // On the shown tenth of a point: 25/60 − 22/60 is 5.000000000000004 points, not more than 5.
      const far = Math.round(Math.abs(points) * 10) / 10 > threshold
      if (far) flagged.push(`${s} ${measure.label.toLowerCase()}`)
      lines.push(`| ${s} | ${measure.label} | ${formatRate(a)} | ${formatRate(b)} | ${far ? '⚠ ' : ''}${formatPoints(points)} |`)
    }
    lines.push(`| ${s} | Walrus bytes | ${formatBytes(live.walrusBytes)} | ${formatBytes(scale.walrusBytes)} | ${signedDifference(live.walrusBytes, scale.walrusBytes, formatBytes)} |`)
    // Where the model's time to model parts from the run: the live tail on a starved machine is CPU the model does not have.
    for (const p of ['p50', 'p95', 'p99'] as const) {
      lines.push(`| ${s} | Time to model ${p} | ${formatMs(live.timeToModelMs[p])} | ${formatMs(scale.timeToModelMs[p])} | ${signedDifference(live.timeToModelMs[p], scale.timeToModelMs[p], formatMs)} |`)
    }
  }
  lines.push('')
  lines.push(flagged.length === 0
    ? `All rates within ${threshold} points: scale mode agrees with the live run.`
    : `**${flagged.length} rate${flagged.length === 1 ? '' : 's'} more than ${threshold} points apart:** ${flagged.join(', ')}.`)
  lines.push('')
  return lines
}

function policySection (points: PolicyPoint[], mode: SimReport['mode']): string[] {
  const lines = ['## Policies side by side', '']
  lines.push(`Each eviction policy replays the same trace in the scale model${mode === 'live' ? ' (not live processes: the live run used the scenario\'s policy only)' : ''}. Byte hit ratio: bytes the node's own cache served / bytes asked for; Walrus bytes: what the whole mesh read from Walrus.`, '')
  lines.push('| Policy | Cache size | Byte hit ratio alone | Byte hit ratio with mesh | Walrus bytes alone | Walrus bytes with mesh |')
  lines.push('| --- | ---: | ---: | ---: | ---: | ---: |')
  const cells = new Map<string, { noMesh?: PolicyPoint, mesh?: PolicyPoint }>()
  for (const p of sortedPolicyPoints(points)) {
    const key = `${p.policy}\u0000${p.x}`
    const cell = cells.get(key) ?? {}
    cell[p.strategy] = p
    cells.set(key, cell)
  }
  for (const { noMesh, mesh } of cells.values()) {
    const any = (noMesh ?? mesh) as PolicyPoint
    lines.push(`| ${escapeCell(any.policy)} | ${formatPercent(any.x)} | ${formatRate(noMesh?.byteHitRatio ?? Number.NaN)} | ${formatRate(mesh?.byteHitRatio ?? Number.NaN)} | ${formatBytes(noMesh?.walrusBytes ?? Number.NaN)} | ${formatBytes(mesh?.walrusBytes ?? Number.NaN)} |`)
  }
  lines.push('')
  const best: string[] = []
  for (const x of [...new Set(points.map(p => p.x))].sort((a, b) => a - b)) {
    const alone = points.filter(p => p.x === x && p.strategy === 'noMesh')
    if (alone.length === 0) continue
    const top = Math.max(...alone.map(p => p.byteHitRatio))
    best.push(`${formatPercent(x)}: ${alone.filter(p => p.byteHitRatio === top).map(p => `\`${p.policy}\``).join(', ')} (${formatRate(top)})`)
  }
  if (best.length > 0) lines.push(`Best byte hit ratio alone at each cache size: ${best.join('; ')}.`, '')
  return lines
}

// Formatting --------------------------------------------------------------------

function ratio (part: number, whole: number): number {
  return whole > 0 ? part / whole : Number.NaN
}

function hitRate (m: StrategyMetrics): number {
  return ratio(m.localHits + m.peerHits, m.requests)
}

function formatCount (n: number): string {
  return Number.isFinite(n) ? n.toLocaleString('en-US') : '—'
}

function formatPercent (fraction: number): string {
  return Number.isFinite(fraction) ? `${(fraction * 100).toFixed(1)}%` : '—'
}

function formatRate (fraction: number): string {
  return formatPercent(fraction)
}

function countAndRate (count: number, requests: number): string {
  return `${formatCount(count)} (${formatRate(ratio(count, requests))})`
}

function formatPoints (points: number): string {
  if (!Number.isFinite(points)) return '—'
  const sign = points > 0.05 ? '+' : points < -0.05 ? '−' : '±'
  return `${sign}${Math.abs(points).toFixed(1)} pts`
}

/** Bytes in binary units: `1.5 MiB`, `512 B`. */
export function formatBytes (bytes: number): string {
  if (!Number.isFinite(bytes)) return '—'
  const unit = byteUnit(bytes)
  if (unit.size === 1) return `${formatCount(bytes)} B`
  const value = bytes / unit.size
  return `${value.toFixed(value >= 100 ? 0 : value >= 10 ? 1 : 2)} ${unit.name}`
}

/** Milliseconds, to seconds past ten seconds: `3.20 ms`, `142 ms`, `12.3 s`. */
export function formatMs (ms: number): string {
  if (!Number.isFinite(ms)) return '—'
  if (ms >= 10_000) return `${(ms / 1000).toFixed(1)} s`
  return `${ms.toFixed(ms < 10 ? 2 : ms < 100 ? 1 : 0)} ms`
}

function percentiles (p: { p50: number, p95: number, p99: number }): string {
  return `${formatMs(p.p50)} / ${formatMs(p.p95)} / ${formatMs(p.p99)}`
}

function escapeCell (text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ')
}
