import { logger } from '@libp2p/logger'

const log = logger('herd:mesh:peer-scores')

export const BAD_CHUNK_PENALTY = -10
export const FAILED_REQUEST_PENALTY = -1
/** At or below this score a peer is not asked for blobs until the ban ends. */
export const BAN_THRESHOLD = -20
export const BAN_MS = 10 * 60_000

export interface PeerScore {
  peerId: string
  score: number
  badChunks: number
  failures: number
  bannedUntil?: number
  lastReason?: string
}

/**
 * How far herd trusts each peer as a source of chunks. A bad chunk costs a lot
 * (it was a lie or a broken disk), a failed request a little (peers come and go).
 */
export class PeerScores {
  private readonly scores = new Map<string, PeerScore>()
  private readonly now: () => number

  constructor (init: { now?: () => number } = {}) {
    this.now = init.now ?? Date.now
  }

  private entry (peerId: string): PeerScore {
    let score = this.scores.get(peerId)
    if (score == null) {
      score = { peerId, score: 0, badChunks: 0, failures: 0 }
      this.scores.set(peerId, score)
    }
    return score
  }

  badChunk (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.badChunks++
    this.add(score, BAD_CHUNK_PENALTY, reason)
  }

  failure (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.failures++
    this.add(score, FAILED_REQUEST_PENALTY, reason)
  }

  private add (score: PeerScore, delta: number, reason: string): void {
    score.score += delta
    score.lastReason = reason
    if (score.score <= BAN_THRESHOLD && !this.isBanned(score.peerId)) {
      score.bannedUntil = this.now() + BAN_MS
      log('banned %s for %d ms: %s', score.peerId, BAN_MS, reason)
    }
  }

  isBanned (peerId: string): boolean {
    const until = this.scores.get(peerId)?.bannedUntil
    return until != null && until > this.now()
  }

  score (peerId: string): number {
    return this.scores.get(peerId)?.score ?? 0
  }

  /** Peers with a score below zero, worst first. */
  penalized (): PeerScore[] {
    return [...this.scores.values()].filter(s => s.score < 0).sort((a, b) => a.score - b.score).map(s => ({ ...s }))
  }
}
