import { readFile, writeFile } from 'node:fs/promises'
import type { Command } from 'commander'
import { request } from 'undici'
import { apiHeaders, checkNodeNetwork, DEFAULT_API_URL, networkOption } from '../api-client.js'
import { httpUrl, integer, printJson } from '../options.js'

interface InferOptions {
  model: string
  input: string
  api?: string
  apiToken?: string
  peer?: string
  binary?: boolean
  output?: string
  deadlineMs?: number
  network?: string
}

async function readInputs (path: string): Promise<unknown> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new Error(`cannot read the input file ${path}: ${(err as Error).message}`)
  }
  try {
    return JSON.parse(text)
  } catch (err) {
    throw new Error(`input file ${path} is not JSON: ${(err as Error).message}`)
  }
}

export function inferCommand (program: Command): void {
  program.command('infer')
    .description('run a model on a node (through its HTTP API) or on a peer (over /herd/infer/1.0.0); prints {"outputs":…,"node":…} as JSON')
    .requiredOption('--model <ref>', 'registered NAME, NAME@VERSION or blob ID')
    .requiredOption('--input <file>', 'JSON: { "NAME": { "type", "dims", "data" | "base64" } }')
    .option('--api <url>', `a node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .option('--peer <multiaddr>', 'ask this peer directly over libp2p instead (…/p2p/PEER_ID)')
    .option('--binary', 'outputs as base64 of the raw little-endian bytes')
    .option('--output <file>', 'write the JSON result to a file rather than stdout')
    .option('--deadline-ms <ms>', 'how long to wait for the result', integer('--deadline-ms', 1, 3_600_000))
    .addOption(networkOption('the network the node at --api must run on, checked against its /status'))
    .action(async (options: InferOptions) => {
      if (options.api != null && options.peer != null) throw new Error('give --api or --peer, not both')
      if (options.network != null && options.peer != null) throw new Error('--network checks the node at --api; a --peer is not asked which network it is on')
      const body = await readInputs(options.input)
      let result: unknown
      if (options.peer != null) {
        const { inferAtPeer } = await import('../peer-infer.js')
        result = await inferAtPeer({ peer: options.peer, model: options.model, body, binary: options.binary === true, ...(options.deadlineMs != null ? { deadlineMs: options.deadlineMs } : {}) })
      } else {
        const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
        await checkNodeNetwork(api, options.network, apiHeaders(options))
        const response = await request(`${api}/v1/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...apiHeaders(options) },
          body: JSON.stringify({ model: options.model, inputs: body, binary: options.binary === true, ...(options.deadlineMs != null ? { deadlineMs: options.deadlineMs } : {}) })
        })
        const json = await response.body.json() as { error?: { code: string, name: string, message: string } }
        if (response.statusCode !== 200) throw new Error(`the node answered ${response.statusCode} ${json.error?.code ?? ''}: ${json.error?.name ?? 'Error'}: ${json.error?.message ?? 'the node refused the request'}`)
        result = json
      }
      if (options.output != null) await writeFile(options.output, `${JSON.stringify(result)}\n`)
      else printJson(result)
    })
}
