import type { Command } from 'commander'
import { networkOptions, type NetworkOptions } from '../clients.js'
import { printJson } from '../options.js'
import { CONFIG_ENV, redactConfig, resolveConfig } from '../resolve-config.js'

export function configCommand (program: Command): void {
  const config = program.command('config').description('the node\'s configuration')

  networkOptions(config.command('show'))
    .description(`print the config a node would run with, as JSON, secrets hidden: defaults < profile (--network) < --config file < ${Object.keys(CONFIG_ENV).join(', ')} < flags`)
    .option('--data-dir <dir>', 'node data dir (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .action(async (options: NetworkOptions & { dataDir?: string }) => {
      const resolved = await resolveConfig({
        ...(options.network != null ? { network: options.network } : {}),
        ...(options.config != null ? { configFile: options.config } : {}),
        flags: options.dataDir != null ? { dataDir: options.dataDir } : {}
      })
      printJson(redactConfig(resolved))
    })
}
