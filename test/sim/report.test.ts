import assert from 'node:assert/strict'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { basename, join } from 'node:path'
import { describe, it } from 'node:test'
import { Resvg } from '@resvg/resvg-js'
import { cdf, chartFonts, EmptyChartDataError, hitRateChart, timeToModelCdfChart } from '../../sim/charts.js'
import { formatBytes, formatMs, MAX_JSON_SAMPLES, reportJson, writeReport } from '../../sim/report.js'
import type { SimReport, StrategyMetrics, StrategyName, SweepPoint } from '../../sim/types.js'

const STRATEGIES: StrategyName[] = ['mesh', 'noMesh', 'optimal']
const MiB = 1024 ** 2
const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

async function tempDir (): Promise<{ path: string, [Symbol.asyncDispose]: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), 'herd-sim-report-'))
  return { path, [Symbol.asyncDispose]: async () => { await rm(path, { recursive: true, force: true }) } }
}

/** Deterministic samples: a spread of local (1–3 ms), peer (40–80 ms) and Walrus (900–2000 ms) times. */
function samples (count: number, walrusShare: number): number[] {
  const out: number[] = []
  for (let i = 0; i < count; i++) {
    const u = ((i * 7919) % count) / count
    out.push(u < walrusShare ? 900 + 1100 * u : u < walrusShare + 0.3 ? 40 + 40 * u : 1 + 2 * u)
  }
  return out
}

function metrics (local: number, peer: number, walrus: number, walrusBytes: number, p50: number, extra: Partial<StrategyMetrics> = {}): StrategyMetrics {
  return {
    requests: local + peer + walrus,
    localHits: local,
    peerHits: peer,
    walrusHits: walrus,
    walrusFetches: walrus,
    walrusBytes,
    timeToModelMs: { p50, p95: p50 * 10, p99: p50 * 20 },
    peerBytes: peer * 3 * MiB,
    perNodeHitRate: { min: 0.25, max: 0.95, mean: 0.6 },
    ...extra
  }
}

function sweep (f: (x: number, s: StrategyName) => number, xs: number[]): SweepPoint[] {
  return STRATEGIES.flatMap(strategy => xs.map(x => ({ x, strategy, value: f(x, strategy) })))
}

function fullReport (): SimReport {
  return {
    mode: 'live',
    scenario: { name: 'zipf-small', nodes: 8, models: 20, cacheFraction: 0.25 },
    seed: 42,
    startedAt: '2026-01-02T03:04:05.000Z',
    durationMs: 65_432,
    strategies: {
      mesh: metrics(600, 300, 100, 250 * MiB, 2.5, { timeToModelSamples: samples(2500, 0.1), inferenceMs: { p50: 12, p95: 30, p99: 41 }, wireBytes: 960 * MiB }),
      noMesh: metrics(600, 0, 400, 1000 * MiB, 4.75, { timeToModelSamples: samples(800, 0.4), wireBytes: 0 }),
      optimal: metrics(700, 250, 50, 125 * MiB, 1.5, { timeToModelSamples: samples(800, 0.05) })
    },
    scaleCheck: {
      mesh: metrics(590, 310, 100, 240 * MiB, 2.4),
      // Peer hits 8.0 points apart from live: flagged.
      noMesh: metrics(520, 80, 400, 1000 * MiB, 4.5),
      optimal: metrics(700, 250, 50, 125 * MiB, 1.5)
    },
    sweeps: {
      hitRateByCacheSize: sweep((x, s) => Math.min(1, x * (s === 'optimal' ? 3 : s === 'mesh' ? 2.4 : 1.2)), [0.05, 0.1, 0.2, 0.4]),
      localHitRateByCacheSize: sweep((x, s) => Math.min(1, x * (s === 'optimal' ? 1.5 : 1.2)), [0.05, 0.1, 0.2, 0.4]),
      walrusBytesByNodes: sweep((n, s) => (s === 'noMesh' ? n * 120 : s === 'mesh' ? 200 + n * 5 : 150) * MiB, [2, 4, 8, 16, 32])
    }
  }
}

/** A well-formedness check: every tag closes in order, one `<svg>` root in the SVG namespace. */
function assertSvg (svg: string): void {
  assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/)
  const stack: string[] = []
  for (const match of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)([^>]*?)(\/?)>/g)) {
    const [, closing, name, , selfClosing] = match
    if (closing === '/') assert.equal(stack.pop(), name, `unbalanced </${name}>`)
    else if (selfClosing !== '/') stack.push(name as string)
  }
  assert.deepEqual(stack, [], 'unclosed tags')
  // resvg parses it too (it throws on malformed XML).
  const parsed = new Resvg(svg)
  assert.ok(parsed.width > 100 && parsed.height > 100)
}

function pngSize (png: Uint8Array): { width: number, height: number } {
  assert.deepEqual([...png.subarray(0, 8)], PNG_SIGNATURE)
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength)
  assert.equal(String.fromCharCode(...png.subarray(12, 16)), 'IHDR')
  return { width: view.getUint32(16), height: view.getUint32(20) }
}

describe('sim report', () => {
  it('writes report.json, summary.md and every chart as SVG and PNG', async () => {
    await using dir = await tempDir()
    const { files } = await writeReport(dir.path, fullReport())
    const names = files.map(f => basename(f)).sort()
    assert.deepEqual(names, [
      'hit-rate-by-cache-size.png', 'hit-rate-by-cache-size.svg',
      'report.json', 'summary.md',
      'time-to-model-cdf.png', 'time-to-model-cdf.svg',
      'walrus-egress-by-nodes.png', 'walrus-egress-by-nodes.svg'
    ])
    // Exactly those on disk: no temp files left behind.
    assert.deepEqual((await readdir(dir.path)).sort(), names)
  })

  it('report.json round-trips with the required fields per strategy, in a stable order', async () => {
    await using dir = await tempDir()
    const report = fullReport()
    await writeReport(dir.path, report)
    const text = await readFile(join(dir.path, 'report.json'), 'utf8')
    const json = JSON.parse(text) as SimReport
    assert.equal(json.seed, 42)
    assert.deepEqual(json.scenario, report.scenario)
    assert.equal(json.mode, 'live')
    for (const s of STRATEGIES) {
      const m = json.strategies[s]
      const want = report.strategies[s]
      for (const key of ['localHits', 'peerHits', 'walrusHits', 'walrusBytes', 'walrusFetches', 'requests', 'peerBytes'] as const) {
        assert.equal(m[key], want[key], `${s}.${key}`)
      }
      assert.deepEqual(m.timeToModelMs, want.timeToModelMs)
      assert.deepEqual(Object.keys(m.timeToModelMs), ['p50', 'p95', 'p99'])
      assert.deepEqual(m.perNodeHitRate, want.perNodeHitRate)
      assert.ok((m.timeToModelSamples?.length ?? 0) <= MAX_JSON_SAMPLES)
      assert.deepEqual(json.scaleCheck?.[s].walrusBytes, report.scaleCheck?.[s].walrusBytes)
    }
    // Capped: 2,500 mesh samples thinned to 1,000, keeping both ends; 800 kept as they were.
    const mesh = json.strategies.mesh.timeToModelSamples ?? []
    assert.equal(mesh.length, MAX_JSON_SAMPLES)
    assert.equal(mesh[0], Math.min(...report.strategies.mesh.timeToModelSamples ?? []))
    assert.equal(mesh.at(-1), Math.max(...report.strategies.mesh.timeToModelSamples ?? []))
    assert.deepEqual(json.strategies.noMesh.timeToModelSamples, report.strategies.noMesh.timeToModelSamples)
    assert.deepEqual(json.sweeps?.hitRateByCacheSize?.length, report.sweeps?.hitRateByCacheSize?.length)
    assert.deepEqual(Object.keys(json.sweeps ?? {}), ['hitRateByCacheSize', 'localHitRateByCacheSize', 'walrusBytesByNodes'])

    assert.deepEqual(Object.keys(json), ['mode', 'scenario', 'seed', 'startedAt', 'durationMs', 'strategies', 'scaleCheck', 'tailGoals', 'sweeps'])
    assert.deepEqual(Object.keys(json.strategies), STRATEGIES)
    assert.ok(text.includes('\n  "mode": "live",\n'), 'pretty-printed')

    // The same report with its keys in another order gives the same bytes.
    const shuffled = Object.fromEntries(Object.entries(report).reverse()) as unknown as SimReport
    shuffled.strategies = { optimal: report.strategies.optimal, noMesh: report.strategies.noMesh, mesh: report.strategies.mesh }
    shuffled.scenario = { models: 20, cacheFraction: 0.25, nodes: 8, name: 'zipf-small' }
    assert.equal(reportJson(shuffled), text)
  })

  it('draws SVGs that parse, with titles, axis units and the strategies in the legend', async () => {
    await using dir = await tempDir()
    await writeReport(dir.path, fullReport())
    const expected: Record<string, string[]> = {
      'hit-rate-by-cache-size.svg': ['Hit rate against cache size', 'Cache size per node (% of catalog bytes)', 'Local hits (own cache)', 'Local + peer hits', 'Requests (%)'],
      'walrus-egress-by-nodes.svg': ['Walrus egress against node count', 'Walrus egress (GiB)', 'Nodes'],
      'time-to-model-cdf.svg': ['Time to model (CDF)', 'Time to model (ms, log scale)', 'Requests with model ready (%)']
    }
    for (const [name, texts] of Object.entries(expected)) {
      const svg = await readFile(join(dir.path, name), 'utf8')
      assertSvg(svg)
      for (const text of [...texts, 'Strategy']) assert.ok(svg.includes(`>${text.replaceAll('&', '&amp;')}<`), `${name} has "${text}"`)
      for (const s of STRATEGIES) assert.ok(svg.includes(`>${s}<`), `${name} has legend entry ${s}`)
    }
  })

  it('draws PNGs with the signature and plausible dimensions', async () => {
    await using dir = await tempDir()
    await writeReport(dir.path, fullReport())
    for (const name of ['hit-rate-by-cache-size.png', 'walrus-egress-by-nodes.png', 'time-to-model-cdf.png']) {
      const png = await readFile(join(dir.path, name))
      const { width, height } = pngSize(png)
      // The SVG is about 700 × 400 and drawn at 2×.
      assert.ok(width >= 1000 && width <= 2400, `${name} width ${width}`)
      assert.ok(height >= 600 && height <= 1400, `${name} height ${height}`)
      assert.ok(width > height)
      assert.ok(png.length > 10_000, `${name} has content`)
    }
  })

  it('summarises the strategies, the live/scale check and the charts with their numbers', async () => {
    await using dir = await tempDir()
    await writeReport(dir.path, fullReport())
    const md = await readFile(join(dir.path, 'summary.md'), 'utf8')
    assert.match(md, /^# Simulation: zipf-small\n/)
    assert.match(md, /seed \*\*42\*\*/)
    assert.match(md, /ran 65\.4 s/)
    // mesh: 600 local, 300 peer, 100 Walrus of 1,000 requests.
    assert.match(md, /\| mesh \| 1,000 \| 600 \(60\.0%\) \| 300 \(30\.0%\) \| 100 \(10\.0%\) \| 90\.0% \| 25\.0% \/ 60\.0% \/ 95\.0% \|/)
    assert.match(md, /\| noMesh \| 1,000 \| 600 \(60\.0%\) \| 0 \(0\.0%\) \| 400 \(40\.0%\) \| 60\.0% \|/)
    // Walrus fetches and bytes in human units, time to model percentiles, inference where it ran.
    assert.match(md, /\| mesh \| 100 \| 250 MiB \| 900 MiB \| 960 MiB \| 2\.50 ms \/ 25\.0 ms \/ 50\.0 ms \| 12\.0 ms \/ 30\.0 ms \/ 41\.0 ms \|/)
    assert.match(md, /\| noMesh \| 400 \| 1000 MiB \| 0 B \| 0 B \| 4\.75 ms \/ 47\.5 ms \/ 95\.0 ms \| — \|/)
    assert.match(md, /\| optimal \| [^\n]* \| — \| [^|]+ \| — \|/, 'no wire bytes for the bound')
    assert.match(md, /Walrus served 250 MiB in 100 fetches, against 1000 MiB in 400 without it: 75\.0% less/)
    // Live against scale: differences in points, the one far apart flagged.
    assert.match(md, /\| mesh \| Local hits \| 60\.0% \| 59\.0% \| \+1\.0 pts \|/)
    assert.match(md, /\| noMesh \| Local hits \| 60\.0% \| 52\.0% \| ⚠ \+8\.0 pts \|/)
    assert.match(md, /\| noMesh \| Peer hits \| 0\.0% \| 8\.0% \| ⚠ −8\.0 pts \|/)
    assert.match(md, /\| optimal \| Hit rate \(local \+ peer\) \| 95\.0% \| 95\.0% \| ±0\.0 pts \|/)
    assert.match(md, /2 rates more than 5 points apart:\*\* noMesh local hits, noMesh peer hits/)
    // And time to model, live beside scale, with the difference in ms and as a share of scale's.
    assert.match(md, /\| mesh \| Time to model p95 \| 25\.0 ms \| [^|]+ \| [+−][^|]+ms \([+−][\d.]+%\) \|/)
    assert.match(md, /\| noMesh \| Time to model p99 \| 95\.0 ms \| /)
    // Charts linked; samples note.
    for (const name of ['hit-rate-by-cache-size', 'walrus-egress-by-nodes', 'time-to-model-cdf']) {
      assert.ok(md.includes(`(${name}.svg)`) && md.includes(`(${name}.png)`), `links ${name}`)
    }
    assert.match(md, /thinned to 1,000 evenly spaced ranks per strategy \(mesh had more\)/)
  })

  it('prints each time-to-model goal against its figure, in report.json and summary.md', async () => {
    await using dir = await tempDir()
    const report = fullReport()
    // The mesh's p99 over no mesh's, and scale's p95 40% off the live one: two goals missed.
    report.strategies.mesh.timeToModelMs = { p50: 2, p95: 40, p99: 120 }
    report.scaleCheck!.mesh.timeToModelMs = { p50: 2, p95: 24, p99: 30 }
    await writeReport(dir.path, report)
    const json = JSON.parse(await readFile(join(dir.path, 'report.json'), 'utf8')) as { tailGoals: Array<{ id: string, value: number, atMost: number, met: boolean }> }
    const goals = Object.fromEntries(json.tailGoals.map(g => [g.id, g]))
    assert.deepEqual(Object.keys(goals), ['mesh-p50-over-no-mesh', 'mesh-p95-over-no-mesh', 'mesh-p99-over-no-mesh', 'scale-p95-off-live'])
    assert.equal(goals['mesh-p95-over-no-mesh']?.value, 40 / 47.5)
    assert.equal(goals['mesh-p95-over-no-mesh']?.met, true)
    assert.equal(goals['mesh-p99-over-no-mesh']?.met, false)
    assert.equal(goals['scale-p95-off-live']?.value, 16 / 40)
    assert.equal(goals['scale-p95-off-live']?.atMost, 0.25)
    assert.equal(goals['scale-p95-off-live']?.met, false)
    const md = await readFile(join(dir.path, 'summary.md'), 'utf8')
    assert.match(md, /\| time to model p99: mesh \/ no mesh \| 1\.26 \| 1\.00 \| \*\*no\*\* \|/)
    assert.match(md, /\| time to model p50: mesh \/ no mesh \| 0\.42 \| 1\.00 \| yes \|/)
    assert.match(md, /\| mesh time to model p95: how far scale is from live, over live \| 0\.40 \| 0\.25 \| \*\*no\*\* \|/)
  })

  it('shows how much of the machine the nodes took, and warns when its cores were saturated', async () => {
    await using dir = await tempDir()
    const report = fullReport()
    report.strategies.mesh.machine = { nodeCpuSeconds: 118.4, nodeCores: 1.82, machineCores: 2, saturatedShare: 0.45 }
    report.strategies.noMesh.machine = { nodeCpuSeconds: 51, nodeCores: 0.79, machineCores: 2, saturatedShare: 0.08 }
    await writeReport(dir.path, report)
    const md = await readFile(join(dir.path, 'summary.md'), 'utf8')
    assert.match(md, /\| mesh \| 118\.4 s \| 1\.82 of 2 \| 45\.0% \|/)
    assert.match(md, /\| noMesh \| 51\.0 s \| 0\.79 of 2 \| 8\.0% \|/)
    assert.match(md, /cores were saturated for more than 25\.0% of the mesh replay/)
    const json = JSON.parse(await readFile(join(dir.path, 'report.json'), 'utf8')) as SimReport
    assert.deepEqual(json.strategies.mesh.machine, report.strategies.mesh.machine)

    // Below the bound in every replay: the figures, no warning; no figures (not Linux): no section.
    report.strategies.mesh.machine = { ...report.strategies.mesh.machine, saturatedShare: 0.2 }
    await writeReport(dir.path, report)
    assert.doesNotMatch(await readFile(join(dir.path, 'summary.md'), 'utf8'), /cores were saturated/)
    delete report.strategies.mesh.machine
    delete report.strategies.noMesh.machine
    await writeReport(dir.path, report)
    assert.doesNotMatch(await readFile(join(dir.path, 'summary.md'), 'utf8'), /The machine during the replay/)
  })

  it('flags a live/scale gap only when the shown difference is over the threshold', async () => {
    await using dir = await tempDir()
    const report = fullReport()
    delete report.sweeps
    // 25/60 against 22/60: 5.000000000000004 points in floating point, shown and judged as 5.0.
    report.strategies.noMesh = metrics(25, 0, 35, MiB, 1)
    report.scaleCheck!.noMesh = metrics(22, 0, 38, MiB, 1)
    await writeReport(dir.path, report)
    const md = await readFile(join(dir.path, 'summary.md'), 'utf8')
    assert.match(md, /\| noMesh \| Local hits \| 41\.7% \| 36\.7% \| \+5\.0 pts \|/)
    assert.match(md, /All rates within 5 points/)
  })

  it('skips the charts whose data is absent and says so', async () => {
    await using dir = await tempDir()
    const report = fullReport()
    delete report.sweeps
    delete report.scaleCheck
    for (const s of STRATEGIES) delete report.strategies[s].timeToModelSamples
    const { files } = await writeReport(dir.path, report)
    assert.deepEqual(files.map(f => basename(f)).sort(), ['report.json', 'summary.md'])
    const md = await readFile(join(dir.path, 'summary.md'), 'utf8')
    assert.match(md, /### Hit rate against cache size\n\nNot drawn: the report has no cache-size sweep/)
    assert.match(md, /### Walrus egress against node count\n\nNot drawn: the report has no node-count sweep/)
    assert.match(md, /### Time to model \(CDF\)\n\nNot drawn: no strategy has time-to-model samples/)
    assert.doesNotMatch(md, /Live against scale/)
    const json = JSON.parse(await readFile(join(dir.path, 'report.json'), 'utf8')) as SimReport
    assert.equal(json.sweeps, undefined)
    assert.equal(json.strategies.mesh.localHits, 600)
  })

  it('draws a chart with only some strategies, and refuses an empty one by name', async () => {
    const chart = await timeToModelCdfChart({ mesh: [5, 10, 20] })
    assert.ok(chart.svg.includes('>mesh<'))
    assert.ok(!chart.svg.includes('>noMesh<'))
    await assert.rejects(hitRateChart([]), (err: Error) => err.name === 'EmptyChartDataError' && err instanceof EmptyChartDataError)
    await assert.rejects(timeToModelCdfChart({ mesh: [] }), { name: 'EmptyChartDataError' })
  })

  it('stops before writing when the signal is aborted', async () => {
    await using dir = await tempDir()
    await assert.rejects(writeReport(dir.path, fullReport(), { signal: AbortSignal.abort() }), { name: 'AbortError' })
    assert.deepEqual(await readdir(dir.path), [])
  })

  it('builds the CDF and the human units', async () => {
    assert.deepEqual(cdf([3, 1, 2]), [{ ms: 1, fraction: 1 / 3 }, { ms: 2, fraction: 2 / 3 }, { ms: 3, fraction: 1 }])
    const thin = cdf(Array.from({ length: 10_001 }, (_, i) => i), 11)
    assert.deepEqual(thin.map(p => p.ms), [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10_000])
    assert.equal(thin.at(-1)?.fraction, 1)
    assert.equal(formatBytes(512), '512 B')
    assert.equal(formatBytes(1536), '1.50 KiB')
    assert.equal(formatBytes(250 * MiB), '250 MiB')
    assert.equal(formatBytes(3.25 * 1024 ** 3), '3.25 GiB')
    assert.equal(formatMs(2.5), '2.50 ms')
    assert.equal(formatMs(12_345), '12.3 s')
    const fonts = await chartFonts()
    assert.equal(fonts.textInPng, fonts.files > 0)
  })
})
