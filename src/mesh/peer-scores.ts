import { logger } from '@libp2p/logger'

const log = logger('herd:mesh:peer-scores')

export const BAD_CHUNK_PENALTY = -10
export const FAILED_REQUEST_PENALTY = -1
/** A BUSY answer: an honest peer under load gives some, so each costs little. */
export const BUSY_PENALTY = -0.5
/** Asked for chunks and sent nothing for a whole pace window. */
export const SILENT_PENALTY = -4
/** Sent chunks, but so slowly that Walrus would have been quicker. */
export const SLOW_PENALTY = -2
/** A gossip message the topic validator rejected: it was signed by this peer, so it is this peer's junk. */
export const REJECTED_MESSAGE_PENALTY = -1
/**
 * Below this a peer is not believed: its announcements are ignored and it is
 * not used as a source, until decay lifts its score back. Eight rejected
 * messages in a row, two silent requests, one bad chunk are enough.
 */
export const DISTRUST_THRESHOLD = -8
/** At or below this score a peer is not asked for blobs until the ban ends. */
export const BAN_THRESHOLD = -20
export const BAN_MS = 10 * 60_000
/** A score halves back towards zero every minute, so an honest peer that had a bad spell recovers. */
export const SCORE_HALF_LIFE_MS = 60_000

export interface PeerScore {
  peerId: string
  score: number
  badChunks: number
  failures: number
  busy: number
  silent: number
  slow: number
  rejectedMessages: number
  bannedUntil?: number
  lastReason?: string
}

interface Entry extends PeerScore {
  /** When `score` was last decayed. */
  at: number
}

export interface PeerScoresInit {
  now?: () => number
  halfLifeMs?: number
}

/**
 * How far herd trusts each peer, as a source of chunks and of announcements.
 * A bad chunk costs a lot (it was a lie or a broken disk); silence, slowness,
 * BUSY and rejected gossip cost less; every score decays towards zero.
 */
export class PeerScores {
  private readonly scores = new Map<string, Entry>()
  private readonly now: () => number
  private readonly halfLifeMs: number

  constructor (init: PeerScoresInit = {}) {
    this.now = init.now ?? Date.now
    this.halfLifeMs = init.halfLifeMs ?? SCORE_HALF_LIFE_MS
  }

  private entry (peerId: string): Entry {
    let score = this.scores.get(peerId)
    if (score == null) {
      score = { peerId, score: 0, badChunks: 0, failures: 0, busy: 0, silent: 0, slow: 0, rejectedMessages: 0, at: this.now() }
      this.scores.set(peerId, score)
    }
    this.decay(score)
    return score
  }

  private decay (score: Entry): void {
    const now = this.now()
    if (now > score.at) score.score *= 0.5 ** ((now - score.at) / this.halfLifeMs)
    score.at = now
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

  busy (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.busy++
    this.add(score, BUSY_PENALTY, reason)
  }

  silent (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.silent++
    this.add(score, SILENT_PENALTY, reason)
  }

  slow (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.slow++
    this.add(score, SLOW_PENALTY, reason)
  }

  rejectedMessage (peerId: string, reason: string): void {
    const score = this.entry(peerId)
    score.rejectedMessages++
    this.add(score, REJECTED_MESSAGE_PENALTY, reason)
  }

  private add (score: Entry, delta: number, reason: string): void {
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

  /** Whether the peer's announcements are used and it is asked for chunks. */
  believes (peerId: string): boolean {
    return !this.isBanned(peerId) && this.score(peerId) > DISTRUST_THRESHOLD
  }

  score (peerId: string): number {
    const score = this.scores.get(peerId)
    if (score == null) return 0
    this.decay(score)
    return score.score
  }

  /** Peers with a score below zero, worst first. */
  penalized (): PeerScore[] {
    return [...this.scores.values()]
      .map(s => { this.decay(s); return s })
      .filter(s => s.score < 0)
      .sort((a, b) => a.score - b.score)
      .map(({ at: _at, ...s }) => s)
  }

  /** Forgets peers whose score has decayed to nothing and who are not banned, so the map does not grow with every peer ever seen. */
  prune (): void {
    for (const [peerId, score] of this.scores) {
      this.decay(score)
      if (Math.abs(score.score) < 0.01 && !this.isBanned(peerId)) this.scores.delete(peerId)
    }
  }
}
