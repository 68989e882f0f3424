import { readFile, stat } from 'node:fs/promises'
import type { Command } from 'commander'
import { request } from 'undici'
import { z } from 'zod'
import { MAX_INFER_BODY_BYTES } from '../../api/infer-route.js'
import { tensorsFromJson, tensorsToJson } from '../../inference/tensor-codec.js'
import { parseProof, type ReceiptProof } from '../../proof/proof.js'
import { RECEIPT_ID } from '../../proof/receipt.js'
import { canonicalTensors, tensorsFromSet } from '../../proof/tensor-hash.js'
import { verifyProof } from '../../proof/verify.js'
import { buildServices } from '../../node-services.js'
import { apiHeaders, DEFAULT_API_URL } from '../api-client.js'
import { commandConfig, networkOptions, type NetworkOptions } from '../clients.js'
import { httpUrl, integer, printJson } from '../options.js'

interface VerifyOptions extends NetworkOptions {
  api?: string
  apiToken?: string
  ledger?: string
  walrus?: string
  reexecute?: boolean
  inputs?: string
}


async function getJson (url: string, headers: Record<string, string>): Promise<{ status: number, json: any }> {
  const response = await request(url, { headers })
  return { status: response.statusCode, json: await response.body.json() }
}

/** The proof: from a file, or from a node's API by receipt ID. */
async function loadProof (ref: string, api: string, headers: Record<string, string>): Promise<ReceiptProof> {
  if (RECEIPT_ID.test(ref)) {
    const { status, json } = await getJson(`${api}/v1/proofs/${ref}`, headers)
    if (status === 202) {
      const by = typeof json.sealedBy === 'number' && Number.isFinite(json.sealedBy) ? ` by ${new Date(json.sealedBy).toISOString()} at the latest` : ''
      throw new Error(`receipt ${ref} is ${json.state as string}: its batch is not anchored yet; the node seals it${by} (herd proof seal: now)`)
    }
    if (status !== 200) throw new Error(`the node answered ${status}: ${json?.error?.message as string ?? 'no reason given'}`)
    return parseProof(json)
  }
  let text: string
  try {
    text = await readFile(ref, 'utf8')
  } catch (err) {
    throw new Error(`"${ref}" is neither a receipt ID (64 hex digits) nor a readable proof file: ${(err as Error).message}`)
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new Error(`proof file ${ref} is not JSON: ${(err as Error).message}`)
  }
  return parseProof(json)
}

/** A run's inputs from a JSON file of tensors, in canonical form: re-execution posts them to /v1/infer, so its body limit applies. */
async function loadInputs (path: string): Promise<Uint8Array> {
  const file = await stat(path).catch((err: Error) => { throw new Error(`cannot read inputs file ${path}: ${err.message}`) })
  if (!file.isFile() || file.size > MAX_INFER_BODY_BYTES) throw new Error(`inputs file ${path} must be a file of at most ${MAX_INFER_BODY_BYTES} bytes`)
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new Error(`inputs file ${path} is not JSON: ${(err as Error).message}`)
  }
  return canonicalTensors(tensorsFromJson(json))
}

/** The node's answer to POST /v1/proofs/requeue. */
const requeueAnswer = z.strictObject({ requeued: z.number().int().min(0), left: z.number().int().min(0) })

/** The node's answer to POST /v1/proofs/seal. */
const sealAnswer = z.strictObject({ sealed: z.boolean(), queued: z.number().int().min(0) })

interface ApiOptions { api?: string, apiToken?: string }

/** POSTs to a running node's API at `path` and prints its answer, which must be one of `statuses` and fit `answer` (`shape` names its fields in the error). */
async function postToNode<T extends z.ZodType> (options: ApiOptions, path: string, answer: T, shape: string, init: { statuses?: number[], headersTimeout?: number } = {}): Promise<z.infer<T>> {
  const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
  const response = await request(`${api}${path}`, { method: 'POST', headers: apiHeaders(options), ...(init.headersTimeout != null ? { headersTimeout: init.headersTimeout } : {}) })
  const json = await response.body.json().catch(() => undefined) as { error?: { message?: string } } | undefined
  if (!(init.statuses ?? [200]).includes(response.statusCode)) throw new Error(`the node answered ${response.statusCode}: ${json?.error?.message ?? 'no reason given'}`)
  const parsed = answer.safeParse(json)
  if (!parsed.success) throw new Error(`the node's answer is not ${shape}: ${z.prettifyError(parsed.error)}`)
  printJson(parsed.data)
  return parsed.data
}

export function proofCommand (program: Command): void {
  const proof = program.command('proof').description('inference proofs: receipts, Merkle paths, anchors')
  proof.command('seal')
    .description('have a running node seal every receipt it answered so far, now, whatever proofs.batchSize and proofs.intervalMs (before retiring a node, say); prints {"sealed":true|false,"queued":N} and exits 0 once they are anchored, 1 if --wait passed first (the node goes on sealing)')
    .option('--wait <seconds>', 'how long to wait for the anchors, 0 to 600 (default 60)', integer('--wait', 0, 600))
    .option('--api <url>', `the node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .action(async (options: ApiOptions & { wait?: number }) => {
      const wait = options.wait ?? 60
      const answer = await postToNode(options, `/v1/proofs/seal?wait=${wait}`, sealAnswer, '{"sealed","queued"}', { statuses: [200, 202], headersTimeout: (wait + 30) * 1000 })
      if (!answer.sealed) throw new Error(`not all sealed within ${wait} s (${answer.queued} receipts queued): the node goes on sealing them`)
    })
  proof.command('requeue')
    .description('have a running node queue again the receipts Walrus refused and it set aside (after the cause is fixed: a publisher\'s size limit or block, say), as far as its queue allows; prints {"requeued":N,"left":M}')
    .option('--api <url>', `the node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .action(async (options: ApiOptions) => {
      await postToNode(options, '/v1/proofs/requeue', requeueAnswer, '{"requeued","left"}')
    })
  networkOptions(proof.command('verify'))
    .description('check a receipt\'s proof: signature, Merkle path, anchor by the signer, bundle on Walrus; prints {"valid":…,"checks":{…}} and exits 0 only when valid')
    .argument('<receipt>', 'a receipt ID (the proof is fetched from --api) or a proof JSON file')
    .option('--api <url>', `a node's HTTP API, for receipt IDs and --reexecute (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .option('--ledger <url>', 'the ledger (default: the node\'s own, from its /status; else $HERD_LEDGER or the devnet\'s)', httpUrl)
    .option('--walrus <url>', 'a Walrus aggregator (default: the node\'s, from its /status; else $HERD_WALRUS or the devnet\'s)', httpUrl)
    .option('--reexecute', 'also fetch the model through the mesh (the node at --api), rerun the inputs and compare the outputs')
    .option('--inputs <file>', 'with --reexecute: the run\'s inputs as JSON tensors (as POST /v1/infer takes them), for a receipt whose bundle left its tensors out')
    .action(async (ref: string, options: VerifyOptions) => {
      const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
      if (options.inputs != null && options.reexecute !== true) throw new Error('--inputs is for --reexecute: give both')
      const inputs = options.inputs != null ? await loadInputs(options.inputs) : undefined
      const headers = apiHeaders(options)
      const proof = await loadProof(ref, api, headers)
      // Where the node points is where the proof should be checked, unless told otherwise.
      const status = options.ledger == null || options.walrus == null || options.reexecute === true
        ? await getJson(`${api}/status`, headers).then(r => r.json).catch(() => undefined)
        : undefined
      // On the devnet the node's own ledger and aggregator, unless told otherwise; on testnet and mainnet the profile's Sui and aggregators.
      const network = options.network ?? (process.env.HERD_NETWORK == null && options.config == null && typeof status?.network === 'string' ? status.network as string : undefined)
      const ledgerUrl = options.ledger ?? (network == null || network === 'devnet' ? status?.ledger?.url as string | undefined : undefined)
      const aggregator = options.walrus ?? (network == null || network === 'devnet' ? status?.walrus?.aggregator as string | undefined : undefined)
      const { ledger, walrus } = await buildServices(await commandConfig({ ...options, ...(network != null ? { network } : {}) }, {
        ...(ledgerUrl != null ? { ledger: ledgerUrl } : {}),
        ...(aggregator != null ? { walrus: { aggregator: aggregator.replace(/\/+$/, '') } } : {})
      }))
      try {
        const result = await verifyProof(proof, {
          ledger,
          walrus,
          ...(inputs != null ? { inputs } : {}),
          ...(options.reexecute === true
            ? {
                reexecute: async ({ modelBlobId, inputs }) => {
                  const response = await request(`${api}/v1/infer`, {
                    method: 'POST',
                    headers: { 'content-type': 'application/json', ...headers },
                    body: JSON.stringify({ model: modelBlobId, inputs: tensorsToJson(tensorsFromSet(inputs), { binary: true }), binary: true })
                  })
                  const json = await response.body.json() as { outputs?: unknown, error?: { message: string } }
                  if (response.statusCode !== 200) throw new Error(`re-execution on ${api} failed: ${json.error?.message ?? response.statusCode}`)
                  return canonicalTensors(tensorsFromJson(json.outputs))
                }
              }
            : {})
        })
        printJson(result)
        if (!result.valid) process.exitCode = 1
      } finally {
        await Promise.all([ledger.close(), walrus.close()])
      }
    })
}
