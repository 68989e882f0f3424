/**
 * How fast chunks should come: the pace of a Walrus read as this node has
 * seen it, and what each peer delivered over a recent window. A peer far
 * behind a Walrus read is costing the download time, whatever its reason.
 */

/** A source is behind when it delivers less than a Walrus read's pace divided by this. */
export const SLOW_SOURCE_FACTOR = 8
/** Weight of the newest Walrus read in the running pace. */
const WALRUS_PACE_WEIGHT = 0.3

/** The pace of one Walrus range read (bytes a second), from the reads this node has timed. */
export class WalrusPace {
  private rate?: number

  observe (bytes: number, ms: number): void {
    if (bytes <= 0 || ms <= 0) return
    const rate = bytes * 1000 / ms
    this.rate = this.rate == null ? rate : this.rate * (1 - WALRUS_PACE_WEIGHT) + rate * WALRUS_PACE_WEIGHT
  }

  /** The observed pace of one read, if any read was timed. */
  observed (): number | undefined {
    return this.rate
  }

  /**
   * The least pace a source must keep (bytes a second): a Walrus read's pace
   * divided by SLOW_SOURCE_FACTOR, never below `floor` (which stands alone
   * until a read is timed).
   */
  minimum (floor: number): number {
    return Math.max(floor, (this.rate ?? 0) / SLOW_SOURCE_FACTOR)
  }
}

/** Bytes a source delivered, kept for one window. */
export class DeliveryWindow {
  private readonly windowMs: number
  private readonly deliveries: Array<{ at: number, bytes: number }> = []
  total = 0

  constructor (windowMs: number) {
    this.windowMs = windowMs
  }

  add (bytes: number, now: number): void {
    this.deliveries.push({ at: now, bytes })
    this.total += bytes
    this.prune(now)
  }

  /** Bytes delivered within the last window. */
  recent (now: number): number {
    this.prune(now)
    return this.deliveries.reduce((sum, d) => sum + d.bytes, 0)
  }

  private prune (now: number): void {
    while (this.deliveries.length > 0 && (this.deliveries[0] as { at: number }).at <= now - this.windowMs) this.deliveries.shift()
  }
}

export type PaceVerdict = 'on-pace' | 'silent' | 'slow'

/**
 * With no chunk from any other peer either, the download is waiting on its
 * claimed chunks alone (Walrus held back by them): the source is judged after
 * this many windows even though nobody has shown it up.
 */
export const IDLE_JUDGEMENT_WINDOWS = 3

export interface PaceJudgement {
  /** Since when the source has been asked for chunks without a break. */
  demandSince: number | undefined
  /**
   * Whether it claims the whole blob. A peer still downloading shows what it
   * holds in fresh HAVE answers and may be starved itself (in a cold swarm on
   * a loaded machine every downloader trickles): it is judged only when the
   * download is blocked on it, and the end game takes its slow chunks.
   */
  holder: boolean
  /** What the source delivered. */
  source: DeliveryWindow
  /** When its last chunk arrived, if one did. */
  lastDeliveryAt?: number
  /** What the whole download gained from peers, this source included. */
  download: DeliveryWindow
  /** Other sources being asked for chunks now. */
  otherSources: number
  /** The least pace a source must keep, bytes a second. */
  minBytesPerSec: number
  /** Bytes of one chunk. */
  chunkBytes: number
  windowMs: number
  now: number
}

/**
 * The verdict on a source after a whole window of demand: silent (nothing
 * ever delivered) or slow (under the least pace over the window), but only
 * when it claims the whole blob and the other sources, on average, delivered
 * meanwhile two whole chunks and four times what it did; or, when no other
 * peer delivered anything, after IDLE_JUDGEMENT_WINDOWS. On a loaded machine every source is slow and none
 * is to blame: an average other source shows nobody up.
 */
export function paceVerdict (j: PaceJudgement): PaceVerdict {
  if (j.demandSince == null || j.now - j.demandSince < j.windowMs) return 'on-pace'
  const recent = j.source.recent(j.now)
  if (recent * 1000 / j.windowMs >= j.minBytesPerSec) return 'on-pace'
  const others = Math.max(0, j.download.recent(j.now) - recent)
  const shownUp = j.holder && others / Math.max(1, j.otherSources) >= Math.max(2 * j.chunkBytes, 4 * recent)
  // A peer still downloading that has sent chunks is judged idle only after IDLE_JUDGEMENT_WINDOWS without one: under a capped
  // link its upload is shared by every downloader and chunks land whole, seconds apart, so a window without one from any peer is
  // the link's pace, not a liar's; dropping them all made the stall fallback read the whole blob from Walrus on every node.
  const quietSince = j.holder ? j.demandSince : Math.max(j.demandSince, j.lastDeliveryAt ?? 0)
  const blocked = others === 0 && j.now - quietSince >= IDLE_JUDGEMENT_WINDOWS * j.windowMs
  if (!shownUp && !blocked) return 'on-pace'
  return j.source.total === 0 ? 'silent' : 'slow'
}
