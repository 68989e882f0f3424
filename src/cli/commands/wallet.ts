import { join } from 'node:path'
import type { Command } from 'commander'
import { buildServices } from '../../node-services.js'
import { PaymentLog, type PaidTotals } from '../../payment-log.js'
import { commandConfig, networkOptions, type NetworkOptions } from '../clients.js'
import { printJson } from '../options.js'
import { formatCoin } from '../push-cost.js'
import { existingNodeKey } from './key.js'

/** How long a balance read may take before the command gives up. */
const BALANCE_TIMEOUT_MS = 30_000

function paidView (totals: PaidTotals): Record<string, unknown> {
  return {
    sui: formatCoin(totals.suiMist),
    wal: formatCoin(totals.walFrost),
    mist: totals.suiMist.toString(),
    frost: totals.walFrost.toString(),
    transactions: totals.transactions,
    ...(totals.since != null ? { since: new Date(totals.since).toISOString() } : {}),
    ...(totals.last != null ? { last: new Date(totals.last).toISOString() } : {})
  }
}

export function walletCommand (program: Command): void {
  networkOptions(program.command('wallet'))
    .description('print the node address\'s SUI and WAL on the network, and what the node key has paid on each network, as JSON')
    .option('--data-dir <dir>', 'node data dir holding the key and its payment log (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .action(async (options: NetworkOptions & { dataDir?: string }) => {
      const config = await commandConfig(options, options.dataDir != null ? { dataDir: options.dataDir } : {})
      const key = await existingNodeKey(config.dataDir)
      const address = key.toSuiAddress()
      // Every network the key has paid on, from the log the node and `herd model push` write.
      const paid = Object.fromEntries(Object.entries(await new PaymentLog(join(config.dataDir, 'payments')).totals()).map(([network, totals]) => [network, paidView(totals)]))
      const services = await buildServices(config, key)
      try {
        if (services.balances == null) {
          printJson({ network: config.network, address, sui: null, wal: null, paid, note: 'the devnet has no balances: it charges nothing' })
          return
        }
        let balances
        try {
          balances = await services.balances({ signal: AbortSignal.timeout(BALANCE_TIMEOUT_MS) })
        } catch (err) {
          // What was paid is known without the network; the balances are not.
          printJson({ network: config.network, address, sui: null, wal: null, paid, balanceError: `${(err as Error).name}: ${(err as Error).message}` })
          process.exitCode = 1
          return
        }
        printJson({ network: config.network, address, sui: formatCoin(balances.sui), wal: formatCoin(balances.wal), mist: balances.sui.toString(), frost: balances.wal.toString(), paid })
      } finally {
        await Promise.all([services.ledger.close(), services.walrus.close()])
      }
    })
}
