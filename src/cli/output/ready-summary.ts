import { formatBytes } from './units.js'

export interface ReadySummary {
  peerId: string
  multiaddrs: string[]
  api: string
  apiToken: boolean
  network: string
  address: string
  walrus: string
  ledger: string
  dataDir: string
  cacheBytes: number
  quotaBytes: number
}

/** What an operator wants to see once the node is up, as lines for a terminal. */
export function readySummary (s: ReadySummary): string {
  const rows: Array<[string, string]> = [
    ['peer ID', s.peerId],
    ...s.multiaddrs.map((a, i): [string, string] => [i === 0 ? 'listening' : '', a]),
    ['API', `${s.api}${s.apiToken ? ' (token required)' : ''}`],
    ['network', s.network],
    ['address', s.address],
    ['Walrus', s.walrus],
    ['ledger', s.ledger],
    ['data dir', s.dataDir],
    ['cache', `${formatBytes(s.cacheBytes)} of ${formatBytes(s.quotaBytes)} quota`]
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return `herd node ready\n${rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join('\n')}\n  Ctrl-C stops it; \`herd status --api ${s.api}\` shows it at a glance.\n`
}
