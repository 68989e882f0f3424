import { setTimeout as sleep } from 'node:timers/promises'
import type { Command } from 'commander'
import { request } from 'undici'
import { readBoundedText } from '../../walrus/bounded-body.js'
import { apiHeaders, DEFAULT_API_URL } from '../api-client.js'
import { httpUrl, integer, printJson } from '../options.js'
import { renderStatus, statusViewSchema, type EarlierStatus, type StatusView } from '../output/status-view.js'

/** A /status larger than this is not one a node writes (its lists are bounded). */
const MAX_STATUS_BYTES = 4 * 1024 * 1024
const STATUS_TIMEOUT_MS = 10_000

/** The node's API could not be reached or did not answer with a status. */
export class NodeStatusError extends Error {
  override readonly name = 'NodeStatusError'
}

interface StatusOptions {
  api?: string
  apiToken?: string
  watch?: boolean
  interval: number
  json?: boolean
}

export function statusCommand (program: Command): void {
  program.command('status')
    .description('a running node at a glance: peers, cache against its quota, downloads, hit rates, uploads to peers, inference, proofs, funds')
    .option('--api <url>', `the node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .option('--watch', 'redraw every --interval until Ctrl-C')
    .option('--interval <ms>', 'how often --watch reads the status', integer('--interval', 200, 3_600_000), 1000)
    .option('--json', 'the status as one JSON line (per read, with --watch) instead of text')
    .action(async (options: StatusOptions) => {
      const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
      const headers = apiHeaders(options)
      if (options.watch !== true) {
        show(api, await readStatus(api, headers), options.json === true, false)
        return
      }
      const stop = new AbortController()
      const onSignal = (): void => { stop.abort() }
      process.once('SIGINT', onSignal)
      process.once('SIGTERM', onSignal)
      const redraw = options.json !== true && process.stdout.isTTY === true
      // The last read that answered, for the rates since it.
      let last: { status: StatusView, at: number } | undefined
      try {
        while (!stop.signal.aborted) {
          try {
            const status = await readStatus(api, headers, stop.signal)
            const at = performance.now()
            show(api, status, options.json === true, redraw, last != null ? { status: last.status, ms: at - last.at } : undefined)
            last = { status, at }
          } catch (err) {
            if (stop.signal.aborted) break
            // A node restarting is what an operator watches for: say so and keep reading.
            const line = `${(err as Error).name}: ${(err as Error).message}`
            if (options.json === true) printJson({ error: { name: (err as Error).name, message: (err as Error).message } })
            else process.stdout.write(`${redraw ? '\x1b[H\x1b[2J' : ''}${line}\n`)
          }
          await sleep(options.interval, undefined, { signal: stop.signal }).catch(() => {})
        }
      } finally {
        process.off('SIGINT', onSignal)
        process.off('SIGTERM', onSignal)
      }
    })
}

function show (api: string, status: StatusView, json: boolean, redraw: boolean, earlier?: EarlierStatus): void {
  if (json) printJson(status)
  // Home and clear, then the frame: the terminal shows one status, not a scroll of them.
  else process.stdout.write(`${redraw ? '\x1b[H\x1b[2J' : ''}${renderStatus(api, status, earlier)}${redraw ? '' : '\n'}`)
}

async function readStatus (api: string, headers: Record<string, string>, signal?: AbortSignal): Promise<StatusView> {
  const timeout = AbortSignal.timeout(STATUS_TIMEOUT_MS)
  let body: string
  let statusCode: number
  try {
    const response = await request(`${api}/status`, { headers, signal: signal != null ? AbortSignal.any([signal, timeout]) : timeout })
    statusCode = response.statusCode
    body = await readBoundedText(response.body, MAX_STATUS_BYTES, () => new NodeStatusError(`the node at ${api} sent a status of more than ${MAX_STATUS_BYTES} bytes`))
  } catch (err) {
    if (err instanceof NodeStatusError) throw err
    throw new NodeStatusError(`cannot reach the node at ${api}: ${(err as Error).message}`)
  }
  if (statusCode === 401) throw new NodeStatusError(`the node at ${api} needs its API token (--api-token or $HERD_API_TOKEN)`)
  if (statusCode !== 200) throw new NodeStatusError(`the node at ${api} answered ${statusCode} to /status`)
  let json: unknown
  try {
    json = JSON.parse(body)
  } catch {
    throw new NodeStatusError(`the node at ${api} answered /status with something that is not JSON`)
  }
  const parsed = statusViewSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new NodeStatusError(`the node at ${api} answered /status without a valid ${issue?.path.join('.') ?? 'body'}: ${issue?.message ?? ''}`)
  }
  return parsed.data
}
