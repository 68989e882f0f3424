import { join } from 'node:path'
import type { Command } from 'commander'
import type { Signer } from '@mysten/sui/cryptography'
import { HttpLedger } from '../chain/http-ledger.js'
import type { NodeConfig } from '../node-config.js'
import { networkOption } from './api-client.js'
import { DEFAULT_LEDGER_URL, DEFAULT_WALRUS_URL } from './options.js'
import { resolveConfig } from './resolve-config.js'
import { PaymentLog } from '../payment-log.js'
import type { OnPaid } from '../payments.js'

export interface NetworkOptions {
  network?: string
  config?: string
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
