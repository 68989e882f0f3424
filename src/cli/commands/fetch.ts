import { createInterface } from 'node:readline'
import { SingleBar, Presets } from 'cli-progress'
import type { Command } from 'commander'
import { request } from 'undici'
import { z } from 'zod'
import { parseBlobId } from '../../blob/blob-id.js'
import { apiHeaders, checkNodeNetwork, DEFAULT_API_URL, networkOption } from '../api-client.js'
import { httpUrl, printJson } from '../options.js'

/** A progress line is one small JSON object: a longer one is not the node's. */
const MAX_LINE_CHARS = 64 * 1024

const count = z.number().int().min(0)
/** The lines of `POST /v1/blobs/{id}/fetch`: the fetcher's progress events (src/mesh/fetch-types.ts), or the API's error body. */
const progressLine = z.discriminatedUnion('type', [
  z.object({ type: z.literal('fetch:start'), size: count, chunks: count, held: count }),
  z.object({ type: z.literal('fetch:chunk'), received: count, total: count, bytesFromPeers: count, bytesFromWalrus: count }),
  z.object({ type: z.literal('fetch:bad-chunk') }),
  z.object({ type: z.literal('fetch:done'), blobId: z.string(), size: count, source: z.enum(['local', 'fetched']), bytesFromPeers: count, bytesFromWalrus: count, peers: z.array(z.string()) }),
  z.object({ type: z.literal('error'), error: z.object({ code: z.string(), name: z.string(), message: z.string() }) })
])

/** A line the node sent that is not one of its progress events. */
export class ProgressStreamError extends Error {
  override readonly name = 'ProgressStreamError'
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
      const mib = (n: number): string => (n / 1024 / 1024).toFixed(1)
      let last: z.infer<typeof progressLine> | undefined
      try {
        for await (const line of createInterface({ input: response.body })) {
          if (line.trim() === '') continue
          if (line.length > MAX_LINE_CHARS) throw new ProgressStreamError(`a progress line of ${line.length} characters, over ${MAX_LINE_CHARS}`)
          let json: unknown
          try {
            json = JSON.parse(line)
          } catch {
            throw new ProgressStreamError(`a progress line is not JSON: ${line.slice(0, 200)}`)
          }
          const parsed = progressLine.safeParse(json)
          // Lines of a type this CLI does not know (a newer node's) are passed over; a known type must have its fields.
          if (!parsed.success) {
            if (typeof (json as { type?: unknown })?.type === 'string' && !progressLine.options.some(o => o.shape.type.value === (json as { type: string }).type)) continue
            throw new ProgressStreamError(`a progress line does not match its type: ${parsed.error.issues[0]?.message ?? ''}`)
          }
          const event = last = parsed.data
          if (!showBar) continue
          if (event.type === 'fetch:start') bar.start(event.chunks, event.held, { peer: '0.0', walrus: '0.0' })
          if (event.type === 'fetch:chunk') {
            bar.setTotal(event.total)
            bar.update(event.received, { peer: mib(event.bytesFromPeers), walrus: mib(event.bytesFromWalrus) })
          }
        }
      } finally {
        if (showBar) bar.stop()
      }
      if (last?.type === 'error') throw new Error(`${last.error.name}: ${last.error.message}`)
      if (last?.type !== 'fetch:done') throw new Error('the node closed the progress stream before the fetch finished')
      printJson(last)
    })
}
