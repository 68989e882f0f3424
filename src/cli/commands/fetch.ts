import { createInterface } from 'node:readline'
import { SingleBar, Presets } from 'cli-progress'
import type { Command } from 'commander'
import { request } from 'undici'
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from '../../api/constants.js'
import { parseBlobId } from '../../blob/blob-id.js'
import { apiHeaders, checkNodeNetwork, networkOption } from '../clients.js'
import { httpUrl, printJson } from '../options.js'

export const DEFAULT_API_URL = `http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT}`

interface ProgressLine {
  type: string
  size?: number
  received?: number
  total?: number
  chunks?: number
  held?: number
  bytes?: number
  source?: string
  error?: { name: string, message: string }
}

export function fetchCommand (program: Command): void {
  program.command('fetch')
    .description('have a running node fetch a blob into its cache (from peers, then Walrus), with a progress bar; prints the result as JSON')
    .argument('<blob-id>')
    // A blob ID is base64url and may begin with '-': taken as the argument, not as an unknown option.
    .allowUnknownOption()
    .option('--api <url>', `the node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .option('--quiet', 'no progress bar')
    .addOption(networkOption('the network the node at --api must run on, checked against its /status'))
    .action(async (blobIdText: string, options: { api?: string, apiToken?: string, quiet?: boolean, network?: string }) => {
      const blobId = parseBlobId(blobIdText)
      const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
      await checkNodeNetwork(api, options.network, apiHeaders(options))
      const response = await request(`${api}/v1/blobs/${blobId}/fetch`, { method: 'POST', headers: apiHeaders(options) })
      if (response.statusCode !== 200) {
        const body = await response.body.json().catch(() => undefined) as { error?: { message?: string } } | undefined
        throw new Error(`the node answered ${response.statusCode}: ${body?.error?.message ?? 'no reason given'}`)
      }
      const showBar = options.quiet !== true && process.stderr.isTTY
      const bar = new SingleBar({ format: 'fetch {bar} {percentage}% | {value}/{total} chunks | peers {peer} MiB, Walrus {walrus} MiB', stream: process.stderr }, Presets.shades_classic)
      const bytes: Record<string, number> = { peer: 0, walrus: 0 }
      const mib = (n: number | undefined): string => ((n ?? 0) / 1024 / 1024).toFixed(1)
      let last: ProgressLine | undefined
      for await (const line of createInterface({ input: response.body })) {
        if (line.trim() === '') continue
        const event = JSON.parse(line) as ProgressLine
        last = event
        if (event.type === 'fetch:start' && showBar) bar.start(event.chunks ?? 0, event.held ?? 0, { peer: '0.0', walrus: '0.0' })
        if (event.type === 'fetch:chunk') {
          bytes[event.source ?? 'peer'] = (bytes[event.source ?? 'peer'] ?? 0) + (event.bytes ?? 0)
          if (showBar) {
            bar.setTotal(event.total ?? 0)
            bar.update(event.received ?? 0, { peer: mib(bytes.peer), walrus: mib(bytes.walrus) })
          }
        }
      }
      if (showBar) bar.stop()
      if (last?.type === 'error') throw new Error(`${last.error?.name ?? 'Error'}: ${last.error?.message ?? 'the fetch failed'}`)
      if (last?.type !== 'fetch:done') throw new Error('the node closed the progress stream before the fetch finished')
      printJson({ ...last, bytesFromPeers: bytes.peer, bytesFromWalrus: bytes.walrus })
    })
}
