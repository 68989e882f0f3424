import { resolve } from 'node:path'
import type { Command } from 'commander'
import { HttpLedger } from '../../chain/http-ledger.js'
import { ChainStore } from '../../chain/local/chain-store.js'
import { verifyChain } from '../../chain/local/verify.js'
import { DEFAULT_LEDGER_URL, httpUrl, printJson } from '../options.js'

export function ledgerCommand (program: Command): void {
  const ledger = program.command('ledger').description('the local ledger')

  ledger.command('verify')
    .description('walk the whole chain (links, signatures, no gaps) and report the first fault; exit 0 only when valid')
    .option('--ledger <url>', `a running ledger (default $HERD_LEDGER or ${DEFAULT_LEDGER_URL})`, httpUrl)
    .option('--dir <dir>', 'a ledger store on disk, not in use by a running devnet')
    .action(async (options: { ledger?: string, dir?: string }) => {
      if (options.ledger != null && options.dir != null) throw new Error('give --ledger or --dir, not both')
      let report
      if (options.dir != null) {
        const store = new ChainStore(resolve(options.dir))
        await store.open()
        try {
          report = await verifyChain({ head: async () => store.head(), blocks: async (from, limit) => store.blocks(from, limit) })
        } finally {
          await store.close()
        }
      } else {
        const client = new HttpLedger({ url: options.ledger ?? process.env.HERD_LEDGER ?? DEFAULT_LEDGER_URL })
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
