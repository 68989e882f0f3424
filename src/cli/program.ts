import { Command } from 'commander'

type Register = (program: Command) => void

/**
 * Each command group and where it is defined, in the order `herd --help`
 * lists them. A group is imported only when it runs: loaded together they
 * cost every invocation (`herd status` too) over a second of CPU and 50 MB
 * of heap, and a node (`herd start`) kept the whole CLI's code in its heap.
 */
export const COMMANDS: ReadonlyArray<readonly [name: string, load: () => Promise<Register>]> = [
  ['blob', async () => (await import('./commands/blob.js')).blobCommand],
  ['devnet', async () => (await import('./commands/devnet.js')).devnetCommand],
  ['model', async () => (await import('./commands/model.js')).modelCommand],
  ['ledger', async () => (await import('./commands/ledger.js')).ledgerCommand],
  ['start', async () => (await import('./commands/start.js')).startCommand],
  ['status', async () => (await import('./commands/status.js')).statusCommand],
  ['fetch', async () => (await import('./commands/fetch.js')).fetchCommand],
  ['infer', async () => (await import('./commands/infer.js')).inferCommand],
  ['proof', async () => (await import('./commands/proof.js')).proofCommand],
  ['sim', async () => (await import('./commands/sim.js')).simCommand],
  ['config', async () => (await import('./commands/config.js')).configCommand],
  ['key', async () => (await import('./commands/key.js')).keyCommand],
  ['wallet', async () => (await import('./commands/wallet.js')).walletCommand],
  ['storage', async () => (await import('./commands/storage.js')).storageCommand]
]

/** The command group `args` (the arguments after the script) name first, if it is one; herd has no global option that takes a value. */
export function commandNamed (args: readonly string[]): string | undefined {
  const first = args.find(arg => !arg.startsWith('-'))
  return COMMANDS.some(([name]) => name === first) ? first : undefined
}

/**
 * The program for `args`: with only the group they name registered, or every
 * group when they name none (help, a misspelt command: commander answers
 * from the whole list).
 */
export async function buildProgram (args: readonly string[] = []): Promise<Command> {
  const program = new Command('herd')
    .description('a peer-to-peer caching mesh for AI inference nodes, with models and proofs on Walrus')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
  const named = commandNamed(args)
  // `herd --version` needs no group; help and anything unknown need them all.
  const versionOnly = named == null && args.some(arg => arg === '-V' || arg === '--version') && !args.some(arg => arg === '-h' || arg === '--help')
  const groups = versionOnly ? [] : COMMANDS.filter(([name]) => named == null || name === named)
  for (const register of await Promise.all(groups.map(async ([, load]) => await load()))) register(program)
  return program
}
