import type { Signer } from '@mysten/sui/cryptography'
import { HttpLedger } from '../chain/http-ledger.js'
import { WalrusHttpClient } from '../walrus/http-client.js'
import { apiTokenSchema } from '../node-config.js'
import { ApiTokenError, DEFAULT_LEDGER_URL, DEFAULT_WALRUS_URL } from './options.js'
import { loadProfile, type Network } from './profiles.js'

export interface WalrusOptions {
  network?: Network
  walrus?: string
  publisher?: string
  aggregator?: string
}

/** Flags win over $HERD_WALRUS, which wins over the --network profile, which wins over the local devnet. */
export async function walrusClient (options: WalrusOptions): Promise<WalrusHttpClient> {
  const base = options.walrus ?? process.env.HERD_WALRUS
  const profile = base == null && options.network != null ? (await loadProfile(options.network)).walrus : undefined
  const publisher = options.publisher ?? base ?? (profile != null ? profile.publisher : DEFAULT_WALRUS_URL)
  const aggregator = options.aggregator ?? base ?? profile?.aggregator ?? DEFAULT_WALRUS_URL
  return new WalrusHttpClient({ aggregator, ...(publisher != null ? { publisher } : {}) })
}

/** `--ledger` wins over $HERD_LEDGER, which wins over the local devnet's ledger. */
export function ledgerClient (options: { ledger?: string }, signer?: Signer): HttpLedger {
  return new HttpLedger({ url: options.ledger ?? process.env.HERD_LEDGER ?? DEFAULT_LEDGER_URL, ...(signer != null ? { signer } : {}) })
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
