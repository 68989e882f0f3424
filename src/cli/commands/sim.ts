import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { Presets, SingleBar } from 'cli-progress'
import { InvalidArgumentError, type Command } from 'commander'
import { runLive } from '../../../sim/live.js'
import { writeReport } from '../../../sim/report.js'
import { runScale, scaleWork, sweepScale, type ScaleOptions } from '../../../sim/scale.js'
import { loadScenario, type Scenario } from '../../../sim/scenario.js'
import { generateTrace } from '../../../sim/trace.js'
import { policiesToSweep, policySweepWork, sweepPolicies } from '../../../sim/policy-sweep.js'
import { formatReplay, readRequestLog, replayLog } from '../../../sim/replay.js'
import { isPolicyName, POLICY_NAMES, type PolicyName } from '../../blob/cache/policy.js'
import type { SimReport, Trace } from '../../../sim/types.js'
import { byteSize, integer, printJson } from '../options.js'
import { checkOutputDir } from '../output-dir.js'
import { untilSignal } from '../signals.js'

/** Longer than any list of herd's loggers. */
const MAX_DEBUG_CHARS = 1_000

interface SimOptions {
  out?: string
  nodeLogs?: string
  debug?: string
  policies?: PolicyName[]
  seed?: number
  sweep?: boolean
  quiet?: boolean
}

function progressBar (label: string, quiet: boolean | undefined): { update: (done: number, total: number) => void, stop: () => void } {
  if (quiet === true || !process.stderr.isTTY) return { update: () => {}, stop: () => {} }
  // Redrawn from update() itself: scale mode replays synchronously, so the bar's timer would not fire.
  const bar = new SingleBar({ format: `${label} {bar} {percentage}% | {value}/{total} requests | {duration_formatted}`, stream: process.stderr, synchronousUpdate: true }, Presets.shades_classic)
  let started = false
  return {
    update: (done, total) => {
      if (!started) { bar.start(total, 0); started = true }
      bar.update(done)
    },
    stop: () => { if (started) bar.stop() }
  }
}

async function scenarioWithSeed (path: string, seed?: number): Promise<Scenario> {
  const scenario = await loadScenario(resolve(path))
  return seed != null ? { ...scenario, seed } : scenario
}

export function simCommand (program: Command): void {
  const sim = program.command('sim').description('the simulation harness: cache hit rates, Walrus egress and time to model for a mesh size, cache size and workload')

  sim.command('run')
    .description('live mode: real herd nodes against a shaped devnet, mesh and no-mesh on the same trace, beside the offline optimum and the scale model; writes DIR/report.json, summary.md and charts')
    .argument('<scenario>', 'scenario JSON (see sim/scenarios/)')
    .option('--out <dir>', 'where the report goes (default sim-out/NAME-SEED)')
    .option('--seed <n>', 'override the scenario\'s seed', integer('--seed', 0, 2 ** 32 - 1))
    .option('--policies <list>', `eviction policies to compare in the scale model on the run's trace (comma-separated, from ${POLICY_NAMES.join(', ')}); default the scenario's sweep.policies`, policyList)
    .option('--quiet', 'no progress bar')
    .option('--node-logs <dir>', 'write each herd process\'s log (its stderr) to DIR/STRATEGY/devnet.log and DIR/STRATEGY/node-N.log, appended across a node\'s restarts')
    .option('--debug <namespaces>', 'debug loggers to turn on in those processes, comma-separated (herd:mesh:download,herd:blob:cache; herd:* for all of herd\'s); needs --node-logs', debugNamespaces)
    .action(async (path: string, options: SimOptions, command: Command) => {
      if (options.debug != null && options.nodeLogs == null) command.error('error: --debug needs --node-logs: the processes\' debug logs go to those files')
      const scenario = await scenarioWithSeed(path, options.seed)
      const out = resolve(options.out ?? join('sim-out', `${scenario.name}-${scenario.seed}`))
      const nodeLogs = options.nodeLogs != null ? resolve(options.nodeLogs) : undefined
      await checkOutputDir(out, '--out')
      if (nodeLogs != null) await checkOutputDir(nodeLogs, '--node-logs')
      const trace = generateTrace(scenario)
      const policies = policiesToSweep(scenario, options.policies)
      const started = Date.now()
      const controller = new AbortController()
      void untilSignal().then(() => { controller.abort(new Error('interrupted')) })
      const workDir = await mkdtemp(join(tmpdir(), 'herd-sim-'))
      try {
        const strategies: Partial<SimReport['strategies']> = {}
        for (const strategy of ['mesh', 'noMesh'] as const) {
          const bar = progressBar(strategy, options.quiet)
          try {
            const processLogs = nodeLogs != null ? { processLogs: { dir: join(nodeLogs, strategy), ...(options.debug != null ? { debug: options.debug } : {}) } } : {}
            strategies[strategy] = await runLive({ scenario, trace, strategy, workDir: join(workDir, strategy), onProgress: bar.update, signal: controller.signal, ...processLogs })
          } finally {
            bar.stop()
          }
        }
        // The live processes run the scenario's policy only; the others are compared in the scale model, on the same trace.
        const { scaleCheck, sweeps, policySweep } = withScaleProgress('scale', scenario, trace, true, policies, options.quiet, progress => ({
          scaleCheck: runScale(scenario, trace, progress),
          sweeps: sweepScale(scenario, trace, progress),
          policySweep: sweepPolicies(scenario, trace, policies, progress)
        }))
        // The optimum depends on the trace alone: the scale check computed it already.
        strategies.optimal = scaleCheck.optimal
        const report: SimReport = {
          mode: 'live',
          scenario,
          seed: scenario.seed,
          startedAt: new Date(started).toISOString(),
          durationMs: Date.now() - started,
          strategies: strategies as SimReport['strategies'],
          scaleCheck,
          sweeps,
          ...(policySweep.length > 0 ? { policySweep } : {})
        }
        const { files } = await writeReport(out, report)
        printJson({ event: 'done', out, files: files.map(f => f.slice(out.length + 1)), seed: scenario.seed, strategies: summary(report) })
      } finally {
        await rm(workDir, { recursive: true, force: true })
      }
    })

  sim.command('scale')
    .description('scale mode: a discrete-event model of 1,000 to 10,000 nodes using herd\'s own cache policy; writes the same report')
    .argument('<scenario>', 'scenario JSON (see sim/scenarios/)')
    .option('--out <dir>', 'where the report goes (default sim-out/NAME-SEED)')
    .option('--seed <n>', 'override the scenario\'s seed', integer('--seed', 0, 2 ** 32 - 1))
    .option('--no-sweep', 'skip the scenario\'s sweeps (cache sizes, node counts and sweep.policies) behind the charts')
    .option('--policies <list>', `eviction policies to compare at each of sweep.cacheFractions (comma-separated, from ${POLICY_NAMES.join(', ')}); default the scenario's sweep.policies`, policyList)
    .option('--quiet', 'no progress bar')
    .action(async (path: string, options: SimOptions) => {
      const scenario = await scenarioWithSeed(path, options.seed)
      const out = resolve(options.out ?? join('sim-out', `${scenario.name}-${scenario.seed}`))
      await checkOutputDir(out, '--out')
      const started = Date.now()
      const trace = generateTrace(scenario)
      const sweep = options.sweep !== false
      // Asked for on the command line, the comparison runs even with --no-sweep.
      const policies = options.policies ?? (sweep ? policiesToSweep(scenario) : [])
      const { strategies, sweeps, policySweep } = withScaleProgress('scale', scenario, trace, sweep, policies, options.quiet, progress => ({
        strategies: runScale(scenario, trace, progress),
        sweeps: sweep ? sweepScale(scenario, trace, progress) : undefined,
        policySweep: sweepPolicies(scenario, trace, policies, progress)
      }))
      const report: SimReport = {
        mode: 'scale',
        scenario,
        seed: scenario.seed,
        startedAt: new Date(started).toISOString(),
        durationMs: Date.now() - started,
        strategies,
        ...(sweeps != null ? { sweeps } : {}),
        ...(policySweep.length > 0 ? { policySweep } : {})
      }
      const { files } = await writeReport(out, report)
      printJson({ event: 'done', out, files: files.map(f => f.slice(out.length + 1)), seed: scenario.seed, strategies: summary(report) })
    })
  sim.command('replay')
    .description('plays a node\'s request log (cache.requestLog) through every eviction policy and the offline bound, at other cache sizes')
    .argument('<log...>', 'request log files, oldest first (e.g. requests.jsonl.1 requests.jsonl)')
    .option('--policies <list>', `comma-separated, from ${POLICY_NAMES.join(', ')}`, policyList, [...POLICY_NAMES])
    .option('--cache-sizes <list>', `comma-separated sizes (20GiB) or shares of the distinct bytes asked for (10%); default ${DEFAULT_REPLAY_CACHE_SIZES}`, cacheSizeList)
    .option('--json', 'rows as JSON instead of Markdown')
    .action(async (paths: string[], options: { policies: PolicyName[], cacheSizes?: CacheSize[], json?: boolean }) => {
      const summary = await readRequestLog(paths)
      const sizes = (options.cacheSizes ?? cacheSizeList(DEFAULT_REPLAY_CACHE_SIZES)).map(size => 'share' in size ? Math.max(1, Math.floor(summary.trace.catalogBytes * size.share)) : size.bytes)
      const rows = replayLog(summary, options.policies, sizes)
      if (options.json === true) printJson({ event: 'replay', requests: summary.trace.requests.length, missBytes: summary.missBytes, walrusBytes: summary.walrusBytes, rows })
      else process.stdout.write(formatReplay(summary, rows) + '\n')
    })
}

const MAX_REPLAY_CACHE_SIZES = 32
const DEFAULT_REPLAY_CACHE_SIZES = '5%,10%,25%'

/** A cache size for the replay: bytes, or a share of the distinct bytes the log asked for (known once it is read). */
type CacheSize = { bytes: number } | { share: number }

/** DEBUG namespaces as the debug module reads them: names of letters, digits and `:_.-*`, comma-separated, each maybe negated with `-`. */
function debugNamespaces (value: string): string {
  if (value.length > MAX_DEBUG_CHARS) throw new InvalidArgumentError(`--debug: at most ${MAX_DEBUG_CHARS} characters`)
  const names = value.split(',').map(name => name.trim())
  const bad = names.find(name => !/^-?[A-Za-z0-9:_.*-]+$/.test(name))
  if (bad != null) throw new InvalidArgumentError(`--debug: ${JSON.stringify(bad)} is not a logger namespace (letters, digits and :_.-*, comma-separated)`)
  return names.join(',')
}

function policyList (value: string): PolicyName[] {
  const names = value.split(',').map(name => name.trim())
  for (const name of names) if (!isPolicyName(name)) throw new InvalidArgumentError(`--policies: unknown policy "${name}" (one of ${POLICY_NAMES.join(', ')})`)
  // A policy listed twice would be simulated twice and drawn as one line.
  const twice = names.find((name, i) => names.indexOf(name) !== i)
  if (twice != null) throw new InvalidArgumentError(`--policies: "${twice}" is listed twice`)
  return names as PolicyName[]
}

// Parsed as commander parses the option, so a bad size is reported as the option's error (thrown from the action, commander's error went unprinted).
function cacheSizeList (value: string): CacheSize[] {
  const list = value.split(',')
  if (list.length > MAX_REPLAY_CACHE_SIZES) throw new InvalidArgumentError(`--cache-sizes: at most ${MAX_REPLAY_CACHE_SIZES} sizes`)
  return list.map(item => {
    const share = /^(\d+(?:\.\d+)?)%$/.exec(item.trim())
    if (share == null) return { bytes: byteSize('--cache-sizes')(item) }
    const fraction = Number(share[1]) / 100
    if (!(fraction > 0 && fraction <= 1)) throw new InvalidArgumentError(`--cache-sizes: a share must be above 0% and at most 100%, got "${item}"`)
    return { share: fraction }
  })
}

/** Runs scale-mode work with a progress bar over the requests it replays. */
function withScaleProgress<T> (label: string, scenario: Scenario, trace: Trace, sweep: boolean, policies: readonly PolicyName[], quiet: boolean | undefined, work: (progress: ScaleOptions) => T): T {
  const bar = progressBar(label, quiet)
  const total = scaleWork(scenario, trace, sweep) + policySweepWork(scenario, trace, policies)
  let done = 0
  try {
    return work({ onRequests: count => { done = Math.min(total, done + count); bar.update(done, total) } })
  } finally {
    bar.stop()
  }
}

function summary (report: SimReport): Record<string, { localHits: number, peerHits: number, walrusHits: number, walrusBytes: number, timeToModelMs: { p50: number, p95: number, p99: number } }> {
  return Object.fromEntries(Object.entries(report.strategies).map(([name, m]) => [name, { localHits: m.localHits, peerHits: m.peerHits, walrusHits: m.walrusHits, walrusBytes: m.walrusBytes, timeToModelMs: m.timeToModelMs }]))
}
