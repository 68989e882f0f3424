/**
 * The standing abuse figures: how an honest fetch fares beside liars, how
 * long hostile streams hold the event loop, and what abusive inference
 * requests cost in memory. Prints Markdown tables, each figure beside its
 * goal, and a one-line JSON summary last.
 */
import { hostileStreams } from './abuse/hostile-streams.js'
import { liarFetches } from './abuse/liars.js'
import { memoryAbuse } from './abuse/memory.js'
import { parseScriptArgs } from '../harness/script-args.js'
import { note } from './measure.js'

const USAGE = `usage: node dist/benchmarks/abuse.js [--quick] [--only liars|streams|memory]

  --quick   an 8 MiB blob (not 24) and one baseline fetch, 1 s windows (not 3.5 s), no 50 MB batch bomb
  --only    one of the three parts
  --help    this text

Prints a Markdown table per part, each figure beside its goal from issue 13,
then each goal met or not, then one JSON line.`

const { values, refuse } = parseScriptArgs('abuse', USAGE, {
  quick: { type: 'boolean', default: false },
  only: { type: 'string' }
})
const quick = values.quick
const only = values.only
if (only != null && !['liars', 'streams', 'memory'].includes(only)) refuse(`--only takes liars, streams or memory, not ${JSON.stringify(only)}`)

/** Goals of issue 13: within 2x no liars and no worse than Walrus alone; 100 ms of event loop; 100 MB of RSS. */
const GOALS = { overNoLiar: 2, overWalrusOnly: 1, eventLoopMs: 100, rssReturnMB: 100 }

const fixed = (n: number, digits = 1): string => Number.isFinite(n) ? n.toFixed(digits) : 'n/a'
const verdict = (ok: boolean): string => ok ? 'yes' : '**no**'

function table (header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map(r => `| ${r.join(' | ')} |`)].join('\n')
}

const summary: Record<string, number | boolean> = {}
/** Each goal measured in this run, and whether every row met it. */
const goals: Array<{ goal: string, met: boolean, worst: string }> = []

if (only == null || only === 'liars') {
  note('honest fetches beside one liar of each kind')
  const rows = await liarFetches({ quick })
  console.log('\n## An honest fetch beside one liar of each kind\n')
  console.log(table(['liar', 'fetch ms', 'no liar ms', 'Walrus only ms', '× no liar', '× Walrus only', 'MiB from Walrus', 'goal met'],
    rows.map(r => [r.liar, fixed(r.fetchMs, 0), fixed(r.noLiarMs, 0), fixed(r.walrusOnlyMs, 0), fixed(r.overNoLiar, 2), fixed(r.overWalrusOnly, 2), fixed(r.bytesFromWalrus / 2 ** 20), verdict(r.overNoLiar <= GOALS.overNoLiar && r.overWalrusOnly <= GOALS.overWalrusOnly)])))
  summary.liarOverNoLiarMax = Math.max(...rows.map(r => r.overNoLiar))
  summary.liarOverWalrusOnlyMax = Math.max(...rows.map(r => r.overWalrusOnly))
  summary.liarsGoalMet = rows.every(r => r.overNoLiar <= GOALS.overNoLiar && r.overWalrusOnly <= GOALS.overWalrusOnly)
  goals.push({
    goal: `an honest fetch beside one liar of each kind: ≤ ${GOALS.overNoLiar}× the time without liars and ≤ ${GOALS.overWalrusOnly}× Walrus alone`,
    met: summary.liarsGoalMet,
    worst: `${fixed(summary.liarOverNoLiarMax, 2)}× no liar, ${fixed(summary.liarOverWalrusOnlyMax, 2)}× Walrus alone`
  })
}

if (only == null || only === 'streams') {
  note('event-loop delay under hostile streams')
  const rows = await hostileStreams({ quick })
  console.log('\n## The event loop under hostile streams\n')
  // The goal is the issue's: any single hostile stream. Twice a protocol's stream limit at once is shown beside it, with no goal of its own.
  const single = (r: { abuse: string }): boolean => r.abuse !== 'many-streams'
  console.log(table(['protocol', 'abuse', 'max delay ms', 'p99 delay ms', 'rejected after ms', `≤ ${GOALS.eventLoopMs} ms`],
    rows.map(r => [r.protocol, r.abuse, fixed(r.maxEventLoopDelayMs), fixed(r.p99EventLoopDelayMs), r.rejectedAfterMs == null ? '-' : fixed(r.rejectedAfterMs, 0), single(r) ? verdict(r.maxEventLoopDelayMs <= GOALS.eventLoopMs) : '(many streams)'])))
  const singles = rows.filter(single)
  summary.eventLoopMaxMs = +Math.max(...singles.map(r => r.maxEventLoopDelayMs)).toFixed(1)
  summary.eventLoopManyStreamsMaxMs = +Math.max(...rows.filter(r => !single(r)).map(r => r.maxEventLoopDelayMs)).toFixed(1)
  summary.eventLoopGoalMet = singles.every(r => r.maxEventLoopDelayMs <= GOALS.eventLoopMs)
  goals.push({ goal: `the event loop under any single hostile stream or connection: ≤ ${GOALS.eventLoopMs} ms`, met: summary.eventLoopGoalMet, worst: `${fixed(summary.eventLoopMaxMs)} ms; ${fixed(summary.eventLoopManyStreamsMaxMs)} ms under twice a protocol's stream limit at once, which has no goal` })
}

if (only == null || only === 'memory') {
  note('node memory under abusive inference requests')
  const rows = await memoryAbuse({ quick })
  console.log('\n## Node memory under abusive inference requests\n')
  console.log(table(['request', 'answer', 'RSS before MB', 'peak MB', 'after MB', 'after − before MB', `≤ ${GOALS.rssReturnMB} MB`],
    rows.map(r => [r.abuse, String(r.status), fixed(r.rssBeforeMB, 0), fixed(r.rssPeakMB, 0), fixed(r.rssAfterMB, 0), fixed(r.rssAfterMB - r.rssBeforeMB, 0), verdict(r.rssAfterMB - r.rssBeforeMB <= GOALS.rssReturnMB)])))
  summary.rssReturnMaxMB = Math.max(...rows.map(r => r.rssAfterMB - r.rssBeforeMB))
  summary.rssPeakMaxMB = Math.max(...rows.map(r => r.rssPeakMB))
  summary.rssGoalMet = rows.every(r => r.rssAfterMB - r.rssBeforeMB <= GOALS.rssReturnMB)
  goals.push({ goal: `RSS after each abusive request: ≤ ${GOALS.rssReturnMB} MB over where it was before it`, met: summary.rssGoalMet, worst: `${fixed(summary.rssReturnMaxMB, 0)} MB` })
}

console.log('\n## Goals\n')
for (const { goal, met, worst } of goals) console.log(`- ${met ? 'met' : '**not met**'}: ${goal} (worst: ${worst})`)

console.log(`\n${JSON.stringify({ benchmark: 'abuse', quick, ...summary })}`)
