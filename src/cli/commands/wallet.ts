import type { Command } from 'commander'
import { buildServices } from '../../node-services.js'
import { commandConfig, networkOptions, type NetworkOptions } from '../clients.js'
import { printJson } from '../options.js'
import { formatCoin } from '../push-cost.js'
import { existingNodeKey } from './key.js'

/** How long a balance read may take before the command gives up. */
const BALANCE_TIMEOUT_MS = 30_000

export function walletCommand (program: Command): void {
  networkOptions(program.command('wallet'))
    .description('print the node address\'s SUI and WAL on the network, as JSON')
    .option('--data-dir <dir>', 'node data dir holding the key (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .action(async (options: NetworkOptions & { dataDir?: string }) => {
      const config = await commandConfig(options, options.dataDir != null ? { dataDir: options.dataDir } : {})
      const key = await existingNodeKey(config.dataDir)
      const address = key.toSuiAddress()
      const services = buildServices(config, key)
      try {
        // Neither the Sui ledger nor the Walrus store reports the gas or WAL of each write, so nothing is counted locally.
        const paid = { counted: false, note: `herd does not count what it paid; the address's transactions on a Sui ${config.network} explorer list every fee` }
        if (services.balances == null) {
          printJson({ network: config.network, address, sui: null, wal: null, paid, note: 'the devnet has no balances: it charges nothing' })
          return
        }
        const { sui, wal } = await services.balances({ signal: AbortSignal.timeout(BALANCE_TIMEOUT_MS) })
        printJson({ network: config.network, address, sui: formatCoin(sui), wal: formatCoin(wal), mist: sui.toString(), frost: wal.toString(), paid })
      } finally {
        await Promise.all([services.ledger.close(), services.walrus.close()])
      }
    })
}
