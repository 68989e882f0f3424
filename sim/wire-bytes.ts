/**
 * Bytes on the wire in live mode: what every node's libp2p sent, read from
 * its Prometheus `/metrics` (`libp2p_data_transfer_bytes_total`, counted by
 * @libp2p/prometheus-metrics on the raw connection: encryption and framing
 * included). Counters start at zero with each process, so a node is read when
 * the replay starts, before it leaves, after it joins and at the end, and the
 * differences are summed.
 */

const METRIC = 'libp2p_data_transfer_bytes_total'
const SCRAPE_TIMEOUT_MS = 3_000

/** Bytes sent: in all (`global`) and per libp2p protocol. */
export type WireCounters = Map<string, number>

export interface WireBytes {
  /** Every byte the nodes' connections sent. */
  total: number
  /** Bytes the protocol streams sent, by protocol ID (gossip, blob transfer, DHT, …); the rest of `total` is connection overhead. */
  byProtocol: Record<string, number>
}

/** The `… sent` series of the transfer counter in a Prometheus text exposition. */
export function parseWireCounters (text: string): WireCounters {
  const counters: WireCounters = new Map()
  const line = new RegExp(`^${METRIC}\\{protocol="([^"]+) sent"\\} ([0-9.eE+]+)$`)
  for (const row of text.split('\n')) {
    const match = line.exec(row.trim())
    if (match == null) continue
    const value = Number(match[2])
    if (Number.isFinite(value)) counters.set(match[1] as string, value)
  }
  return counters
}

/** A node's counters now, or undefined when it does not answer. */
export async function readWireCounters (api: string, signal?: AbortSignal): Promise<WireCounters | undefined> {
  try {
    const response = await fetch(`${api}/metrics`, { signal: AbortSignal.any([AbortSignal.timeout(SCRAPE_TIMEOUT_MS), ...(signal != null ? [signal] : [])]) })
    if (!response.ok) return undefined
    return parseWireCounters(await response.text())
  } catch {
    return undefined
  }
}

/** Sums, over node lifetimes, what each sent between its first and last reading. */
export class WireTally {
  private readonly baselines = new Map<number, WireCounters>()
  private readonly sums = new Map<string, number>()

  /** The node's first reading (the replay starts, or it joined). */
  begin (node: number, counters: WireCounters | undefined): void {
    if (counters != null) this.baselines.set(node, counters)
  }

  /** The node's last reading (it leaves, or the replay ended). */
  end (node: number, counters: WireCounters | undefined): void {
    const baseline = this.baselines.get(node)
    this.baselines.delete(node)
    if (baseline == null || counters == null) return
    for (const [protocol, value] of counters) {
      const sent = value - (baseline.get(protocol) ?? 0)
      if (sent > 0) this.sums.set(protocol, (this.sums.get(protocol) ?? 0) + sent)
    }
  }

  result (): WireBytes {
    const byProtocol: Record<string, number> = {}
    for (const [protocol, value] of [...this.sums].sort(([a], [b]) => a.localeCompare(b))) {
      if (protocol !== 'global') byProtocol[protocol] = value
    }
    return { total: this.sums.get('global') ?? 0, byProtocol }
  }
}
