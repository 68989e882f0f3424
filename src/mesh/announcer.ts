import { TopicValidatorResult, type GossipSub, type Message, type SubscriptionChangeData } from '@libp2p/gossipsub'
import type { PeerId } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { BlobId } from '../blob/blob-id.js'
import { decodeAnnouncement, digestOf, encodeAnnouncement } from './announcement-codec.js'
import { AnnouncementOrder } from './announcement-order.js'
import { CACHE_TOPIC, DIGEST_INTERVAL_MS, MAX_ANNOUNCED_IDS } from './constants.js'
import { GossipDelay } from './gossip-delay.js'
import { PeerScores } from './peer-scores.js'
import { SubscriberDigestPace } from './subscriber-digest-pace.js'
import type { PeerLoad, ProviderIndex } from './provider-index.js'

const log = logger('herd:mesh:announcer')

/** Changes are gathered for this long and sent as one announcement. */
const BATCH_DELAY_MS = 25
/** How long per-blob announcement order is remembered: far longer than gossip keeps a message late. */
const ORDER_WINDOW_MS = 120_000

export interface AnnouncerComponents {
  pubsub: GossipSub
  peerId: PeerId
  providers: ProviderIndex
  /** Every complete blob the node holds, for the digest. */
  heldBlobIds: () => string[]
  load: () => PeerLoad
  /** Rejected messages score their signer down; a peer past the bound is not believed. Its own scores when absent. */
  scores?: PeerScores
  /** This node's listen addresses, without its peer ID, announced so that peers not connected to it can dial it. */
  ownAddresses?: () => Multiaddr[]
  /** What a believed peer announced of its own addresses, taken only from an announcement newer than the last taken (announced-addresses.ts). */
  learnAddresses?: (peer: PeerId, addresses: Multiaddr[]) => void
}

export interface AnnouncerInit {
  digestIntervalMs?: number
}

export interface AnnouncerStats {
  published: number
  received: number
  rejected: number
  /** Valid announcements from peers not believed (too many rejected messages or failed requests), not used. */
  ignored: number
}

/**
 * Tells the mesh what this node holds and is fetching, on `herd/cache/1`, and
 * feeds what other nodes say into the provider index. Gossipsub signs every
 * message with the publisher's key (StrictSign) and checks it on receipt; the
 * topic validator rejects anything malformed or oversized before it spreads.
 */
export class CacheAnnouncer {
  private readonly components: AnnouncerComponents
  private readonly digestIntervalMs: number
  private readonly order = new AnnouncementOrder({ windowMs: ORDER_WINDOW_MS })
  private seq = BigInt(Date.now()) * 1000n
  private pending = { added: new Set<BlobId>(), dropped: new Set<BlobId>(), fetching: new Set<BlobId>(), digest: false }
  /**
   * Blobs this node is downloading now and when each download began, announced again with every digest:
   * peers forget a provider entry after their TTL, and a download that
   * outlived it would no longer count among the Walrus readers, so every
   * other downloader would take its share as well (1.88x the blob from
   * Walrus in a loaded 8-node test).
   */
  private readonly downloading = new Map<BlobId, number>()
  private readonly delay = new GossipDelay()
  private flushTimer?: NodeJS.Timeout
  private digestTimer?: NodeJS.Timeout
  private readonly subscriberDigests = new SubscriberDigestPace()
  /** A subscriber's digest put off by the spacing. */
  private subscriberDigestTimer?: NodeJS.Timeout
  private flushing: Promise<void> = Promise.resolve()
  private started = false
  private readonly scores: PeerScores
  readonly stats: AnnouncerStats = { published: 0, received: 0, rejected: 0, ignored: 0 }

  constructor (components: AnnouncerComponents, init: AnnouncerInit = {}) {
    this.components = components
    this.scores = components.scores ?? new PeerScores()
    this.digestIntervalMs = init.digestIntervalMs ?? DIGEST_INTERVAL_MS
    this.onMessage = this.onMessage.bind(this)
    this.onSubscriptionChange = this.onSubscriptionChange.bind(this)
    this.validate = this.validate.bind(this)
  }

  start (): void {
    if (this.started) return
    this.started = true
    const { pubsub } = this.components
    pubsub.topicValidators.set(CACHE_TOPIC, this.validate)
    pubsub.addEventListener('message', this.onMessage)
    pubsub.addEventListener('subscription-change', this.onSubscriptionChange)
    pubsub.subscribe(CACHE_TOPIC)
    this.digestTimer = setInterval(() => {
      this.components.providers.prune()
      this.order.prune()
      this.scores.prune()
      this.pending.digest = true
      for (const blobId of this.downloading.keys()) this.pending.fetching.add(blobId)
      this.schedule()
    }, this.digestIntervalMs)
    this.digestTimer.unref()
    this.pending.digest = true
    this.schedule()
  }

  /**
   * Stops announcing and applying announcements. The subscription and its
   * validator stay until libp2p stops: unsubscribing would PRUNE our mesh
   * peers with a 10 s backoff, and a node restarted within it (same peer ID)
   * would have its GRAFTs refused, be scored down and be kept out of their
   * meshes for a minute. Closing the connections tells them we left, with no
   * backoff.
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    clearInterval(this.digestTimer)
    clearTimeout(this.flushTimer)
    clearTimeout(this.subscriberDigestTimer)
    this.subscriberDigestTimer = undefined
    await this.flushing
    const { pubsub } = this.components
    pubsub.removeEventListener('message', this.onMessage)
    pubsub.removeEventListener('subscription-change', this.onSubscriptionChange)
  }

  added (blobId: BlobId): void {
    this.downloading.delete(blobId)
    this.pending.dropped.delete(blobId)
    this.pending.fetching.delete(blobId)
    this.pending.added.add(blobId)
    this.schedule()
  }

  dropped (blobId: BlobId): void {
    this.downloading.delete(blobId)
    this.pending.added.delete(blobId)
    this.pending.fetching.delete(blobId)
    this.pending.dropped.add(blobId)
    this.schedule()
  }

  /** `since`: when the download began, which ranks this node among the blob's Walrus readers (provider-selection.ts). */
  fetching (blobId: BlobId, since = Date.now()): void {
    // A retry right after a failure: peers must hear it is fetching again, not that it dropped the blob.
    this.pending.dropped.delete(blobId)
    this.downloading.set(blobId, since)
    this.pending.fetching.add(blobId)
    this.schedule()
  }

  /** Whether this node's gossip says it is fetching the blob now. */
  isFetching (blobId: BlobId): boolean {
    return this.downloading.has(blobId)
  }

  private schedule (): void {
    if (!this.started || this.flushTimer != null) return
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined
      this.flushing = this.flushing.then(async () => { await this.flush() })
    }, BATCH_DELAY_MS)
  }

  private take (set: Set<BlobId>): BlobId[] {
    const out = [...set].slice(0, MAX_ANNOUNCED_IDS)
    for (const id of out) set.delete(id)
    return out
  }

  private async flush (): Promise<void> {
    if (!this.started) return
    const added = this.take(this.pending.added)
    const dropped = this.take(this.pending.dropped)
    const fetching = this.take(this.pending.fetching)
    const digest = this.pending.digest ? digestOf(this.components.heldBlobIds()) : undefined
    if (this.pending.digest) this.subscriberDigests.sent(Date.now())
    this.pending.digest = false
    this.seq += 1n
    const time = Date.now()
    const fetchingSince = fetching.map(id => Math.min(this.downloading.get(id) ?? time, time))
    const addresses = this.components.ownAddresses?.() ?? []
    const data = encodeAnnouncement({ seq: this.seq, time, added, dropped, fetching, fetchingSince, load: this.components.load(), addresses, ...(digest != null ? { digest } : {}) })
    try {
      await this.components.pubsub.publish(CACHE_TOPIC, data)
      this.stats.published++
    } catch (err) {
      log.error('publishing an announcement failed - %e', err)
    }
    if (this.pending.added.size + this.pending.dropped.size + this.pending.fetching.size > 0) this.schedule()
  }

  private validate (_from: PeerId, message: Message): TopicValidatorResult {
    if (message.type !== 'signed') return TopicValidatorResult.Reject
    try {
      decodeAnnouncement(message.data)
      return TopicValidatorResult.Accept
    } catch (err) {
      this.stats.rejected++
      // Gossipsub scores down the peer that relayed it; the signer made it, and herd scores the signer.
      this.scores.rejectedMessage(message.from.toString(), `rejected announcement: ${(err as Error).message}`)
      log('rejected an announcement from %p - %e', message.from, err)
      return TopicValidatorResult.Reject
    }
  }

  private onMessage (event: CustomEvent<Message>): void {
    const message = event.detail
    if (message.topic !== CACHE_TOPIC || message.type !== 'signed') return
    const from = message.from.toString()
    if (from === this.components.peerId.toString()) return
    const announcement = decodeAnnouncement(message.data)
    this.stats.received++
    if (!this.scores.believes(from)) {
      this.stats.ignored++
      return
    }
    this.delay.observe(from, Date.now() - announcement.time)
    const { providers } = this.components
    const { seq } = announcement
    announcement.fetching.forEach((id, i) => { if (this.order.blob(from, id, seq)) providers.set(from, id, 'fetching', announcement.fetchingSince?.[i]) })
    for (const id of announcement.added) if (this.order.blob(from, id, seq)) providers.set(from, id, 'holder')
    for (const id of announcement.dropped) if (this.order.blob(from, id, seq)) providers.stopped(from, id)
    if (announcement.digest != null && this.order.digest(from, seq)) providers.setDigest(from, announcement.digest.filter, announcement.digest.count)
    if (announcement.load != null && this.order.load(from, seq)) providers.setLoad(from, announcement.load)
    if (announcement.addresses != null && this.order.addresses(from, seq)) this.components.learnAddresses?.(message.from, announcement.addresses)
  }

  /** A peer that just joined the topic learns what we hold now, not at the next digest (paced: SubscriberDigestPace). */
  private onSubscriptionChange (event: CustomEvent<SubscriptionChangeData>): void {
    if (!event.detail.subscriptions.some(s => s.topic === CACHE_TOPIC && s.subscribe)) return
    if (this.subscriberDigestTimer != null) return
    const delay = this.subscriberDigests.delayFor(Date.now(), this.components.heldBlobIds().length > 0)
    if (delay === 'skip') return
    const send = (): void => {
      this.subscriberDigestTimer = undefined
      this.pending.digest = true
      this.schedule()
    }
    if (delay === 0) {
      send()
      return
    }
    this.subscriberDigestTimer = setTimeout(send, delay)
    this.subscriberDigestTimer.unref()
  }

  /**
   * How late announcements arrive (from their send time to here), following
   * the slow ones: on a loaded machine gossip sits in queues for seconds. The
   * lower median across signers (GossipDelay). Undefined before any arrived.
   */
  gossipDelayMs (): number | undefined {
    return this.delay.current()
  }

  forgetPeer (peerId: string): void {
    this.order.forget(peerId)
    this.delay.forget(peerId)
    this.components.providers.forgetPeer(peerId)
  }
}
