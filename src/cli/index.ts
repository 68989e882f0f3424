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
    process.stderr.write(`herd: ${(err as Error).message ?? String(err)}\n`)
    process.exitCode = 1
  }
}

await main()
