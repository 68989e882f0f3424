/**
 * The simulation's charts: vega-lite specs, compiled by vega-lite, drawn to
 * SVG by vega's headless view and rasterised to PNG by resvg.
 *
 * Text in the PNG needs a font on the machine: resvg reads the system fonts
 * and is pointed at a sans-serif family found among them (see `chartFonts`).
 * With no font at all the PNG is still drawn, without its text; the SVG
 * keeps the text either way.
 */

import { readdir } from 'node:fs/promises'
import { homedir } from 'node:os'
import { basename, join } from 'node:path'
import { Resvg, type ResvgRenderOptions } from '@resvg/resvg-js'
import * as vega from 'vega'
import { compile, type TopLevelSpec } from 'vega-lite'
import type { PolicyPoint, StrategyName, SweepPoint } from './types.js'

export interface Chart {
  svg: string
  png: Uint8Array
}

export interface ChartFonts {
  /** The sans-serif family resvg draws text with, when one of the known ones is installed. */
  family?: string
  /** Font files found in the system font folders. */
  files: number
  /** False when no font was found: the PNGs then have no text. */
  textInPng: boolean
}

/** A chart asked for with nothing to draw. */
export class EmptyChartDataError extends Error {
  override readonly name = 'EmptyChartDataError'
}

export const STRATEGIES: readonly StrategyName[] = ['mesh', 'noMesh', 'optimal']

export const DEFAULT_CHART_WIDTH = 560
export const DEFAULT_CHART_HEIGHT = 320
/** PNGs are drawn at twice the SVG's size. */
export const DEFAULT_PNG_ZOOM = 2
/** The CDF line keeps at most this many points per strategy. */
export const MAX_CDF_POINTS = 400

const COLORS: Record<StrategyName, string> = { mesh: '#4c78a8', noMesh: '#e45756', optimal: '#54a24b' }
/** `optimal` is a bound, not a system: drawn dashed. */
const DASHES: Record<StrategyName, number[]> = { mesh: [1, 0], noMesh: [1, 0], optimal: [6, 4] }

/** Sans-serif families to draw with, by the file that ships each, first found wins. */
const KNOWN_FONTS: ReadonlyArray<{ file: RegExp, family: string }> = [
  { file: /^DejaVuSans\.ttf$/i, family: 'DejaVu Sans' },
  { file: /^LiberationSans-Regular\.ttf$/i, family: 'Liberation Sans' },
  { file: /^NotoSans-Regular\.(ttf|otf|ttc)$/i, family: 'Noto Sans' },
  { file: /^Arial\.ttf$/i, family: 'Arial' },
  { file: /^Roboto-Regular\.ttf$/i, family: 'Roboto' },
  { file: /^FreeSans\.(ttf|otf)$/i, family: 'FreeSans' }
]

/** Where resvg (fontdb) looks for system fonts on Linux. */
function fontDirs (): string[] {
  return ['/usr/share/fonts', '/usr/local/share/fonts', join(homedir(), '.fonts'), join(homedir(), '.local/share/fonts')]
}

let fontsFound: Promise<ChartFonts> | undefined

/** What the PNGs will be drawn with; looked up once per process. */
export async function chartFonts (): Promise<ChartFonts> {
  fontsFound ??= findFonts()
  return fontsFound
}

async function findFonts (): Promise<ChartFonts> {
  const names: string[] = []
  for (const dir of fontDirs()) {
    const entries = await readdir(dir, { recursive: true }).catch(() => [] as string[])
    for (const entry of entries) {
      if (/\.(ttf|otf|ttc)$/i.test(entry)) names.push(basename(entry))
    }
  }
  const known = KNOWN_FONTS.find(font => names.some(name => font.file.test(name)))
  return { family: known?.family, files: names.length, textInPng: names.length > 0 }
}

async function render (spec: TopLevelSpec): Promise<Chart> {
  const compiled = compile(spec).spec
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' })
  let svg: string
  try {
    svg = await view.toSVG()
  } finally {
    view.finalize()
  }
  const fonts = await chartFonts()
  const font: NonNullable<ResvgRenderOptions['font']> = { loadSystemFonts: true }
  if (fonts.family != null) {
    font.defaultFontFamily = fonts.family
    font.sansSerifFamily = fonts.family
  }
  const png = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: DEFAULT_PNG_ZOOM },
    background: 'white',
    font,
    // Without fonts resvg warns once per text element; the summary says it instead.
    logLevel: 'off'
  }).render().asPng()
  return { svg, png: new Uint8Array(png.buffer, png.byteOffset, png.byteLength) }
}

/** The strategies present in `rows`, in the fixed order, with their colours and dashes. */
function strategyEncoding (present: Iterable<StrategyName>): Record<string, unknown> {
  const seen = new Set(present)
  const domain = STRATEGIES.filter(s => seen.has(s))
  // A stroke, not a circle, so the legend shows the dashes too.
  const legend = { title: 'Strategy', symbolType: 'stroke', symbolStrokeWidth: 2.5 }
  return {
    color: { field: 'strategy', type: 'nominal', scale: { domain, range: domain.map(s => COLORS[s]) }, legend },
    strokeDash: { field: 'strategy', type: 'nominal', scale: { domain, range: domain.map(s => DASHES[s]) }, legend }
  }
}

/** What every chart shares: size, titles, fonts; the caller adds data, mark and encoding. */
function base (title: string, subtitle: string): Record<string, unknown> {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: title, subtitle },
    width: DEFAULT_CHART_WIDTH,
    height: DEFAULT_CHART_HEIGHT,
    background: 'white',
    padding: 12,
    config: { title: { fontSize: 15, subtitleFontSize: 11, anchor: 'start' }, axis: { titleFontSize: 12, labelFontSize: 11 }, legend: { titleFontSize: 12, labelFontSize: 12 } }
  }
}

function requirePoints (points: SweepPoint[], what: string): void {
  if (points.length === 0) throw new EmptyChartDataError(`no points for the ${what} chart`)
}

const LOCAL = 'Local hits (own cache)'
const LOCAL_OR_PEER = 'Local + peer hits'

/**
 * Hit rate against cache size (a fraction of the model catalog), in two
 * panels: local hits, which the cache size buys, and local + peer hits, which
 * the mesh adds (flat near 1 when peers hold most models at any size).
 */
export async function hitRateChart (localOrPeer: SweepPoint[], local: SweepPoint[] = []): Promise<Chart> {
  requirePoints(localOrPeer, 'hit rate')
  const values = [
    ...local.map(p => ({ cacheSize: p.x, hitRate: p.value, strategy: p.strategy, measure: LOCAL })),
    ...localOrPeer.map(p => ({ cacheSize: p.x, hitRate: p.value, strategy: p.strategy, measure: LOCAL_OR_PEER }))
  ]
  const { width, height, ...shared } = base('Hit rate against cache size', 'Share of requests served without Walrus, by cache size per node')
  const panels = local.length > 0 ? 2 : 1
  return render({
    ...shared,
    data: { values },
    facet: { column: { field: 'measure', type: 'nominal', sort: [LOCAL, LOCAL_OR_PEER], title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: Math.round((width as number - 40 * (panels - 1)) / panels),
      height,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'cacheSize', type: 'quantitative', title: 'Cache size per node (% of catalog bytes)', axis: { format: '.0%' } },
        y: { field: 'hitRate', type: 'quantitative', title: 'Requests (%)', axis: { format: '.0%' }, scale: { domain: [0, 1] } },
        ...strategyEncoding(localOrPeer.map(p => p.strategy))
      }
    }
  } as TopLevelSpec)
}

const POLICY_PANELS: Record<PolicyPoint['strategy'], string> = { noMesh: 'Each node alone', mesh: 'With the mesh' }

/**
 * Byte hit ratio (bytes the node's own cache served / bytes asked for)
 * against cache size, one line per eviction policy, in a panel per strategy.
 */
export async function policyByteHitRatioChart (points: PolicyPoint[]): Promise<Chart> {
  if (points.length === 0) throw new EmptyChartDataError('no points for the policy chart')
  const policies = [...new Set(points.map(p => p.policy))]
  const panels = (['noMesh', 'mesh'] as const).filter(s => points.some(p => p.strategy === s)).map(s => POLICY_PANELS[s])
  const values = points.map(p => ({ cacheSize: p.x, byteHitRatio: p.byteHitRatio, policy: p.policy, panel: POLICY_PANELS[p.strategy] }))
  const { width, height, ...shared } = base('Byte hit ratio by policy and cache size', 'Bytes served by the node\'s own cache / bytes asked for, each policy on the same trace')
  return render({
    ...shared,
    data: { values },
    facet: { column: { field: 'panel', type: 'nominal', sort: panels, title: null, header: { labelFontSize: 12 } } },
    spec: {
      width: Math.round((width as number - 40 * (panels.length - 1)) / panels.length),
      height,
      mark: { type: 'line', point: true, strokeWidth: 2 },
      encoding: {
        x: { field: 'cacheSize', type: 'quantitative', title: 'Cache size per node (% of catalog bytes)', axis: { format: '.0%' } },
        // From zero but not to 100%: policies a point or two apart must not draw as one line.
        y: { field: 'byteHitRatio', type: 'quantitative', title: 'Byte hit ratio (%)', axis: { format: '.0%' }, scale: { zero: true } },
        color: { field: 'policy', type: 'nominal', scale: { domain: policies, scheme: 'category10' }, legend: { title: 'Policy' } }
      }
    }
  } as TopLevelSpec)
}

/** Bytes fetched from Walrus against the number of nodes. */
export async function walrusEgressChart (points: SweepPoint[]): Promise<Chart> {
  requirePoints(points, 'Walrus egress')
  const unit = byteUnit(Math.max(...points.map(p => p.value)))
  const values = points.map(p => ({ nodes: p.x, egress: p.value / unit.size, strategy: p.strategy }))
  return render({
    ...base('Walrus egress against node count', 'Bytes fetched from Walrus over the whole run'),
    data: { values },
    mark: { type: 'line', point: true, strokeWidth: 2 },
    encoding: {
      x: { field: 'nodes', type: 'quantitative', title: 'Nodes', axis: { format: 'd', tickMinStep: 1 } },
      y: { field: 'egress', type: 'quantitative', title: `Walrus egress (${unit.name})` },
      ...strategyEncoding(points.map(p => p.strategy))
    }
  } as TopLevelSpec)
}

/** Empirical CDF of time to model (ms) per strategy; log-scaled when the samples span two decades. */
export async function timeToModelCdfChart (samples: Partial<Record<StrategyName, number[]>>): Promise<Chart> {
  const values: Array<{ ms: number, fraction: number, strategy: StrategyName }> = []
  for (const strategy of STRATEGIES) {
    for (const point of cdf(samples[strategy] ?? [])) values.push({ ...point, strategy })
  }
  if (values.length === 0) throw new EmptyChartDataError('no time-to-model samples for the CDF chart')
  const times = values.map(v => v.ms)
  const min = Math.min(...times)
  const max = Math.max(...times)
  const log = min > 0 && max / min >= 100
  return render({
    ...base('Time to model (CDF)', 'Share of requests whose model was ready within a time, from request to model in memory'),
    data: { values },
    mark: { type: 'line', interpolate: 'step-after', strokeWidth: 2 },
    encoding: {
      x: { field: 'ms', type: 'quantitative', title: `Time to model (ms${log ? ', log scale' : ''})`, scale: log ? { type: 'log', nice: false } : { zero: true } },
      y: { field: 'fraction', type: 'quantitative', title: 'Requests with model ready (%)', axis: { format: '.0%' }, scale: { domain: [0, 1] } },
      ...strategyEncoding(STRATEGIES.filter(s => (samples[s]?.length ?? 0) > 0))
    }
  } as TopLevelSpec)
}

/** Points of the empirical CDF of `samples`, thinned to at most `MAX_CDF_POINTS`. */
export function cdf (samples: readonly number[], maxPoints = MAX_CDF_POINTS): Array<{ ms: number, fraction: number }> {
  const sorted = samples.filter(Number.isFinite).sort((a, b) => a - b)
  const n = sorted.length
  if (n === 0) return []
  const count = Math.min(n, maxPoints)
  const points: Array<{ ms: number, fraction: number }> = []
  for (let k = 0; k < count; k++) {
    // Evenly spaced ranks, the last one always the maximum.
    const i = count === 1 ? n - 1 : Math.round(k * (n - 1) / (count - 1))
    points.push({ ms: sorted[i] as number, fraction: (i + 1) / n })
  }
  return points
}

const BYTE_UNITS = [
  { name: 'B', size: 1 },
  { name: 'KiB', size: 1024 },
  { name: 'MiB', size: 1024 ** 2 },
  { name: 'GiB', size: 1024 ** 3 },
  { name: 'TiB', size: 1024 ** 4 }
] as const

/** The largest binary unit that `bytes` is at least one of (bytes below 1 KiB are B). */
export function byteUnit (bytes: number): { name: string, size: number } {
  let unit: { name: string, size: number } = BYTE_UNITS[0]
  for (const candidate of BYTE_UNITS) if (Math.abs(bytes) >= candidate.size) unit = candidate
  return unit
}
