#!/usr/bin/env node
import { Command, CommanderError } from 'commander'
import { blobCommand } from './commands/blob.js'
import { configCommand } from './commands/config.js'
import { devnetCommand } from './commands/devnet.js'
import { fetchCommand } from './commands/fetch.js'
import { inferCommand } from './commands/infer.js'
import { keyCommand } from './commands/key.js'
import { ledgerCommand } from './commands/ledger.js'
import { modelCommand } from './commands/model.js'
import { proofCommand } from './commands/proof.js'
import { simCommand } from './commands/sim.js'
import { startCommand } from './commands/start.js'
import { statusCommand } from './commands/status.js'
import { storageCommand } from './commands/storage.js'
import { walletCommand } from './commands/wallet.js'

export function buildProgram (): Command {
  const program = new Command('herd')
    .description('a peer-to-peer caching mesh for AI inference nodes, with models and proofs on Walrus')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride()
  blobCommand(program)
  devnetCommand(program)
  modelCommand(program)
  ledgerCommand(program)
  startCommand(program)
  statusCommand(program)
  fetchCommand(program)
  inferCommand(program)
  proofCommand(program)
  simCommand(program)
  configCommand(program)
  keyCommand(program)
  walletCommand(program)
  storageCommand(program)
  return program
}

async function main (): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv)
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode
      return
    }
    // The error's name is what scripts and tests match on; a bare Error has none worth printing.
    const name = err instanceof Error && err.name !== 'Error' ? `${err.name}: ` : ''
    process.stderr.write(`herd: ${name}${(err as Error).message ?? String(err)}\n`)
    process.exitCode = 1
  }
}

await main()
