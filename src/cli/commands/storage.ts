import type { Command } from 'commander'
import { request } from 'undici'
import type { ListedBlob, StorageStatus } from '../../storage/keeper.js'
import { apiHeaders, checkNodeNetwork, DEFAULT_API_URL, networkOption } from '../api-client.js'
import { httpUrl, printJson } from '../options.js'

/** The node's answer is read whole: the keeper lists at most MAX_LISTED blobs. */
const MAX_ANSWER_BYTES = 32 * 1024 * 1024

export function storageCommand (program: Command): void {
  const storage = program.command('storage').description('what a node keeps alive on Walrus')
  storage.command('status')
    .description('print each blob a running node keeps on Walrus (kind, size, end epoch, next renewal), then the totals')
    .option('--api <url>', `the node's HTTP API (default $HERD_API or ${DEFAULT_API_URL})`, httpUrl)
    .option('--api-token <token>', 'the node\'s API token, if it needs one (default $HERD_API_TOKEN)')
    .option('--json', 'print the node\'s answer as JSON')
    .addOption(networkOption('the network the node at --api must run on, checked against its /status'))
    .action(async (options: { api?: string, apiToken?: string, json?: boolean, network?: string }) => {
      const api = options.api ?? process.env.HERD_API ?? DEFAULT_API_URL
      await checkNodeNetwork(api, options.network, apiHeaders(options))
      const response = await request(`${api}/v1/storage`, { headers: apiHeaders(options), signal: AbortSignal.timeout(30_000) })
      const length = Number(response.headers['content-length'] ?? 0)
      if (length > MAX_ANSWER_BYTES) { await response.body.dump(); throw new Error(`the node's storage list is over ${MAX_ANSWER_BYTES} bytes`) }
      const body = await response.body.json() as { status?: StorageStatus, blobs?: ListedBlob[], error?: { message?: string } }
      if (response.statusCode !== 200 || body.status == null || !Array.isArray(body.blobs)) throw new Error(`the node answered ${response.statusCode}: ${body.error?.message ?? 'not a storage status'}`)
      if (options.json === true) { printJson(body); return }
      process.stdout.write(formatStorage(body.status, body.blobs))
    })
}

/** One line a blob, soonest end first, then the totals. */
export function formatStorage (status: StorageStatus, blobs: ListedBlob[]): string {
  const rows = [...blobs].sort((a, b) => (a.endEpoch ?? Infinity) - (b.endEpoch ?? Infinity)).map(b => [
    b.blobId,
    b.kind,
    b.size != null ? String(b.size) : '?',
    b.endEpoch != null ? String(b.endEpoch) : '?',
    b.nextRenewal != null ? String(b.nextRenewal) : b.state === 'active' && !b.canExtend ? `never (owned by ${b.owner ?? 'its publisher'})` : '-',
    b.state + (b.lastError != null && b.state === 'active' ? ` (failing: ${b.lastError.slice(0, 120)})` : ''),
    b.holds
  ])
  const header = ['BLOB', 'KIND', 'SIZE', 'END EPOCH', 'NEXT RENEWAL', 'STATE', 'HOLDS']
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)).join('  ') + '\n'
  const totals = `epoch ${status.epoch ?? '?'}: ${status.active} kept, ${status.renewed} renewed, ${status.failing} failing, ${status.expiringSoon} within one epoch of expiry, ${status.expired} LOST, ${status.cannotExtend} not extendable; spent ${status.spentThisEpoch} of ${status.maxSpendPerEpoch} FROST this epoch${status.ceilingReached ? ' (CEILING REACHED: renewals wait)' : ''}\n`
  return line(header) + rows.map(line).join('') + totals
}
