import { resolve } from 'node:path'
import type { Command } from 'commander'
import { ChainStore } from '../../chain/local/chain-store.js'
import { verifyChain } from '../../chain/local/verify.js'
import { ledgerClient } from '../clients.js'
import { DEFAULT_LEDGER_URL, httpUrl, printJson } from '../options.js'

export function ledgerCommand (program: Command): void {
  const ledger = program.command('ledger').description('the local ledger')

  ledger.command('verify')
    .description('walk the whole chain (links, signatures, no gaps), compare every index entry with the blocks, and report the first fault; exit 0 only when valid')
    .option('--ledger <url>', `a running ledger (default $HERD_LEDGER or ${DEFAULT_LEDGER_URL})`, httpUrl)
    .option('--dir <dir>', 'a ledger store on disk, not in use by a running devnet')
    .action(async (options: { ledger?: string, dir?: string }) => {
      if (options.ledger != null && options.dir != null) throw new Error('give --ledger or --dir, not both')
      let report
      if (options.dir != null) {
        const store = new ChainStore(resolve(options.dir))
        await store.open()
        try {
          report = await verifyChain(store)
        } finally {
          await store.close()
        }
      } else {
        const client = ledgerClient(options)
        try {
          report = await verifyChain(client)
        } finally {
          await client.close()
        }
      }
      printJson(report)
      if (!report.valid) process.exitCode = 1
    })
}
