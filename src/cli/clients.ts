import { join } from 'node:path'
import { Option, type Command } from 'commander'
import type { Signer } from '@mysten/sui/cryptography'
import { request } from 'undici'
import { HttpLedger } from '../chain/http-ledger.js'
import { apiTokenSchema, NETWORKS, type NodeConfig } from '../node-config.js'
import { ApiTokenError, DEFAULT_LEDGER_URL, DEFAULT_WALRUS_URL } from './options.js'
import { resolveConfig } from './resolve-config.js'
import { PaymentLog } from '../payment-log.js'
import type { OnPaid } from '../payments.js'

export interface NetworkOptions {
  network?: string
  config?: string
}

/** `--network`: the profile a command takes its endpoints from. */
export function networkOption (description = 'devnet, testnet or mainnet: config/NAME.json under the config file, HERD_* and flags (default $HERD_NETWORK, the config file\'s, or devnet)'): Option {
  return new Option('--network <name>', description).choices(NETWORKS)
}

/** `--network` and `--config`, on every command that talks to Walrus or the ledger. */
export function networkOptions (command: Command): Command {
  return command
    .addOption(networkOption())
    .option('--config <file>', 'JSON node config (default $HERD_CONFIG)')
}

/** A command's config: on the devnet, Walrus and the ledger default to a `herd devnet` on its usual ports. */
export async function commandConfig (options: NetworkOptions, flags: Record<string, unknown> = {}): Promise<NodeConfig> {
  return resolveConfig({
    ...(options.network != null ? { network: options.network } : {}),
    ...(options.config != null ? { configFile: options.config } : {}),
    flags,
    devnetDefaults: { walrus: { aggregator: DEFAULT_WALRUS_URL, publisher: DEFAULT_WALRUS_URL }, ledger: DEFAULT_LEDGER_URL }
  })
}

/** The data dir's payment log, which a command paying from the node key writes as the node does; flush it before exiting. */
export function commandPayments (config: NodeConfig): { log: PaymentLog, onPaid: OnPaid } {
  const log = new PaymentLog(join(config.dataDir, 'payments'))
  return { log, onPaid: payment => { log.add(config.network, payment) } }
}

/** One devnet ledger URL, for commands that speak only to the devnet's ledger (`herd ledger verify`). */
export function ledgerClient (options: { ledger?: string }, signer?: Signer): HttpLedger {
  return new HttpLedger({ url: options.ledger ?? (process.env.HERD_LEDGER !== '' ? process.env.HERD_LEDGER : undefined) ?? DEFAULT_LEDGER_URL, ...(signer != null ? { signer } : {}) })
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
