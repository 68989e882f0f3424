/**
 * What a command that speaks to a running node's API needs, and no more: such
 * commands (status, fetch, infer, storage) load this, not the config and
 * ledger clients of clients.ts.
 */
import { Option } from 'commander'
import { request } from 'undici'
import { apiTokenSchema } from '../api/api-token.js'
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from '../api/constants.js'
import { NETWORKS } from '../networks.js'
import { ApiTokenError } from './options.js'

/** Where commands find a node's API unless told: the node's own default. */
export const DEFAULT_API_URL = `http://${DEFAULT_API_HOST}:${DEFAULT_API_PORT}`

/** `--network`: the profile a command takes its endpoints from. */
export function networkOption (description = 'devnet, testnet or mainnet: config/NAME.json under the config file, HERD_* and flags (default $HERD_NETWORK, the config file\'s, or devnet)'): Option {
  return new Option('--network <name>', description).choices(NETWORKS)
}

/** The node at --api runs on another network than the command was asked for. */
export class NetworkMismatchError extends Error {
  override readonly name = 'NetworkMismatchError'
}

/** A command that goes through a node's API, given --network, first checks that the node runs on that network. */
export async function checkNodeNetwork (api: string, network: string | undefined, headers: Record<string, string> = {}): Promise<void> {
  if (network == null) return
  const response = await request(`${api}/status`, { headers, signal: AbortSignal.timeout(10_000) })
  const status = await response.body.json().catch(() => undefined) as { network?: unknown } | undefined
  if (response.statusCode !== 200) throw new Error(`the node at ${api} answered ${response.statusCode} to /status`)
  // A node from before networks existed ran on the devnet.
  const actual = status?.network ?? 'devnet'
  if (actual !== network) throw new NetworkMismatchError(`the node at ${api} runs on ${String(actual)}, not ${network}`)
}

/**
 * The headers a command sends to a node's API: `Authorization: Bearer` with
 * `--api-token`, else $HERD_API_TOKEN, when either is given.
 */
export function apiHeaders (options: { apiToken?: string }): Record<string, string> {
  const fromEnv = process.env.HERD_API_TOKEN !== '' ? process.env.HERD_API_TOKEN : undefined
  const token = options.apiToken ?? fromEnv
  if (token == null) return {}
  // Checked here so that a mistyped token is named as such, not answered 401; the message never repeats it.
  const checked = apiTokenSchema.safeParse(token)
  if (!checked.success) throw new ApiTokenError(`the API token from ${options.apiToken != null ? '--api-token' : '$HERD_API_TOKEN'} is malformed: ${checked.error.issues[0]?.message ?? ''}`)
  return { authorization: `Bearer ${token}` }
}
