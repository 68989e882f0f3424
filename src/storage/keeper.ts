import { setTimeout as sleep } from 'node:timers/promises'
import { logger } from '@libp2p/logger'
import type { BlobId } from '../blob/blob-id.js'
import type { WalrusStore } from '../walrus/types.js'
import {
  DEFAULT_BUNDLE_RETENTION_MS, DEFAULT_CHECK_INTERVAL_MS, DEFAULT_EXTEND_EPOCHS, DEFAULT_MAX_SPEND_PER_EPOCH_FROST, DEFAULT_REGISTRY_SYNC_MS,
  DEFAULT_RENEW_WITHIN_EPOCHS, MAX_EPOCHS_AHEAD, MAX_LISTED, MAX_RENEWALS_PER_CHECK, RETRY_BASE_MS, RETRY_MAX_MS
} from './constants.js'
import { BLOB_KINDS, type BlobKind, type StorageTracker, type TrackedBlob } from './tracker.js'

const log = logger('herd:storage:keeper')

/** A model the node's own address registered: it and its chunk hashes are the node's to keep. */
export interface OwnModel {
  blobId: BlobId
  size: number
  chunkHashesBlobId: BlobId
  name: string
  version: string
  blobObjectId?: string
}

export interface StorageKeeperComponents {
  tracker: StorageTracker
  walrus: Pick<WalrusStore, 'epoch' | 'lifetime' | 'extend'>
  /** The node's address: it can extend the blobs it owns. */
  address: string
  ownModels?: (options: { signal: AbortSignal }) => Promise<OwnModel[]>
  /** Blobs pinned in the cache now. */
  pinned?: () => Array<{ blobId: BlobId, size: number }>
  /**
   * What the registry says of a pinned blob: its chunk-hash blob, kept alive
   * with the pin, and its Blob object, by which Sui tells the lifetime of a
   * blob the node does not own.
   */
  registryEntry?: (blobId: BlobId, options: { signal: AbortSignal }) => Promise<{ chunkHashesBlobId?: BlobId, blobObjectId?: string } | undefined>
  /** Each failed extension (the funds monitor tells a want of WAL or SUI once). */
  onFailure?: (err: Error) => void
  /** Each extension paid. */
  onPaid?: () => void
  /** What the operator must hear of: a blob lost, one the node cannot extend, the spending ceiling reached (each told once). */
  onWarning?: (warning: StorageWarning) => void
}

export interface StorageWarning {
  kind: 'lost' | 'not-extendable' | 'ceiling'
  blobId?: BlobId
  message: string
}

export interface StorageKeeperInit {
  renewWithinEpochs?: number
  extendEpochs?: number
  bundleRetentionMs?: number
  maxSpendPerEpochFrost?: number
  checkIntervalMs?: number
  registrySyncMs?: number
}

export interface StorageStatus {
  epoch?: number
  tracked: number
  active: number
  /** Extensions made since the node started. */
  renewed: number
  /** Active blobs whose last renewal or lookup failed. */
  failing: number
  /** Active blobs ending in one epoch or less. */
  expiringSoon: number
  /** Blobs lost: their end epoch passed while the node was responsible for them. */
  expired: number
  /** Pinned blobs within the renewal window that the node cannot extend (another address owns them). */
  cannotExtend: number
  /** FROST spent on extensions this epoch, and the ceiling. */
  spentThisEpoch: number
  maxSpendPerEpoch: number
  ceilingReached: boolean
  lastError?: string
}

export interface ListedBlob {
  blobId: BlobId
  kind: string
  holds: string
  size?: number
  endEpoch?: number
  /** The epoch from which the keeper extends it; absent when it will not. */
  nextRenewal?: number
  state: TrackedBlob['state']
  owner?: string
  shared: boolean
  canExtend: boolean
  renewals: number
  lastError?: string
}

const isAbort = (err: unknown): boolean => (err as Error)?.name === 'AbortError'

/**
 * Keeps alive on Walrus what the node is responsible for: models it pushed
 * (and their chunk hashes), blobs pinned on it, its proof bundles until
 * their retention ends. Each check reads the epoch, learns new blobs'
 * lifetimes, reports blobs lost, and extends those within the renewal
 * window, soonest first, within a spending ceiling per epoch. An extension's
 * intent is written before it is sent and its result after: one cut by a
 * crash is resent with the same end epochs, and Walrus refuses it as stale
 * if it went through, so it is never paid twice.
 */
export class StorageKeeper {
  private readonly components: StorageKeeperComponents
  readonly renewWithinEpochs: number
  readonly extendEpochs: number
  readonly bundleRetentionMs: number
  readonly maxSpendPerEpochFrost: number
  private readonly checkIntervalMs: number
  private readonly registrySyncMs: number
  private controller?: AbortController
  private loop?: Promise<void>
  private checking?: Promise<void>
  private epoch?: number
  private renewed = 0
  private lastError?: string
  private lastRegistrySync = -Infinity
  private readonly retryAt = new Map<string, { at: number, failures: number }>()
  private readonly warned = new Map<string, number>()
  /** The epoch in which each blob's lifetime was last read again to see whether someone else extended it. */
  private readonly rechecked = new Map<string, number>()
  private ceilingToldFor?: number

  constructor (components: StorageKeeperComponents, init: StorageKeeperInit = {}) {
    this.components = components
    this.renewWithinEpochs = init.renewWithinEpochs ?? DEFAULT_RENEW_WITHIN_EPOCHS
    this.extendEpochs = Math.min(init.extendEpochs ?? DEFAULT_EXTEND_EPOCHS, MAX_EPOCHS_AHEAD)
    this.bundleRetentionMs = init.bundleRetentionMs ?? DEFAULT_BUNDLE_RETENTION_MS
    this.maxSpendPerEpochFrost = init.maxSpendPerEpochFrost ?? DEFAULT_MAX_SPEND_PER_EPOCH_FROST
    this.checkIntervalMs = init.checkIntervalMs ?? DEFAULT_CHECK_INTERVAL_MS
    this.registrySyncMs = init.registrySyncMs ?? DEFAULT_REGISTRY_SYNC_MS
  }

  start (): void {
    if (this.controller != null) return
    const controller = new AbortController()
    this.controller = controller
    this.loop = (async () => {
      while (!controller.signal.aborted) {
        await this.check({ signal: controller.signal })
        await sleep(this.checkIntervalMs, undefined, { signal: controller.signal }).catch(() => {})
      }
    })()
  }

  async stop (): Promise<void> {
    this.controller?.abort()
    await this.loop
    this.controller = undefined
    this.loop = undefined
  }

  /**
   * Starts tracking a blob the node just wrote or took on, or adds a reason
   * to keep one already tracked. A bundle is kept for the retention from now.
   */
  async track (blobId: BlobId, kind: BlobKind, info: { holds: string, size?: number, objectId?: string, endEpoch?: number, owner?: string, shared?: boolean, pinOf?: BlobId }): Promise<void> {
    const known = this.components.tracker.get(blobId)
    if (known != null && known.kinds.includes(kind) && known.state !== 'stopped') {
      // Tracked already: only a better account of what it holds is news (a bundle's root, once it is anchored).
      const holds = info.holds.slice(0, 300)
      if (known.holds !== holds) await this.components.tracker.put({ ...known, holds })
      return
    }
    const blob: TrackedBlob = known != null
      ? { ...known, kinds: BLOB_KINDS.filter(k => k === kind || known.kinds.includes(k)), state: known.state === 'expired' ? 'expired' : 'active' }
      : { blobId, kinds: [kind], holds: info.holds.slice(0, 300), shared: info.shared ?? false, state: 'active', trackedAt: Date.now(), renewals: 0 }
    if (known == null || known.kinds.length === 0) blob.holds = info.holds.slice(0, 300)
    if (info.size != null) blob.size = info.size
    if (info.objectId != null) blob.objectId = info.objectId
    if (info.endEpoch != null && (blob.endEpoch == null || info.endEpoch > blob.endEpoch)) blob.endEpoch = info.endEpoch
    if (info.owner != null) blob.owner = info.owner
    if (info.pinOf != null) blob.pinOf = info.pinOf
    if (kind === 'bundle') blob.retainUntil = Math.max(blob.retainUntil ?? 0, Date.now() + this.bundleRetentionMs)
    await this.components.tracker.put(blob)
  }

  /** One pass: sources, lifetimes, losses, renewals. Never throws; failures are recorded and retried later. */
  async check (options: { signal: AbortSignal }): Promise<void> {
    this.checking ??= this.runCheck(options.signal).finally(() => { this.checking = undefined })
    return this.checking
  }

  private async runCheck (signal: AbortSignal): Promise<void> {
    const { walrus } = this.components
    try {
      if (walrus.epoch == null) throw new Error('this Walrus store cannot say the epoch')
      this.epoch = (await walrus.epoch({ signal })).epoch
    } catch (err) {
      if (!isAbort(err)) this.fail('reading the Walrus epoch', err as Error)
      return
    }
    try {
      await this.syncSources(signal)
      const epoch = this.epoch
      let renewals = 0
      const due = this.components.tracker.all()
        .filter(b => b.state === 'active')
        .sort((a, b) => (a.endEpoch ?? -1) - (b.endEpoch ?? -1))
      for (const blob of due) {
        if (signal.aborted) return
        const retry = this.retryAt.get(blob.blobId)
        if (retry != null && retry.at > Date.now()) continue
        if (await this.settle(blob, epoch, signal)) continue
        if (renewals >= MAX_RENEWALS_PER_CHECK) continue
        if (await this.renew(this.components.tracker.get(blob.blobId) ?? blob, epoch, signal)) renewals++
      }
    } catch (err) {
      if (!isAbort(err)) this.fail('checking tracked blobs', err as Error)
    }
  }

  /** Pins and the registry's own models join the tracked blobs; unpinned blobs lose their pin. */
  private async syncSources (signal: AbortSignal): Promise<void> {
    const { tracker, pinned, ownModels, registryEntry } = this.components
    if (pinned != null) {
      const now = new Map(pinned().map(p => [p.blobId as string, p]))
      for (const p of now.values()) {
        if (tracker.get(p.blobId)?.kinds.includes('pin') === true) continue
        const entry = await registryEntry?.(p.blobId, { signal }).catch(() => undefined)
        await this.track(p.blobId, 'pin', { holds: 'a blob pinned on this node', size: p.size, ...(entry?.blobObjectId != null ? { objectId: entry.blobObjectId } : {}) })
        if (entry?.chunkHashesBlobId != null) await this.track(entry.chunkHashesBlobId, 'pin', { holds: `the chunk hashes of pinned blob ${p.blobId}`, pinOf: p.blobId })
      }
      for (const blob of tracker.all()) {
        if (!blob.kinds.includes('pin') || now.has(blob.blobId) || (blob.pinOf != null && now.has(blob.pinOf))) continue
        await this.drop(blob, 'pin', blob.pinOf != null ? `blob ${blob.pinOf} was unpinned` : 'unpinned')
      }
    }
    if (ownModels != null && Date.now() - this.lastRegistrySync >= this.registrySyncMs) {
      try {
        for (const model of await ownModels({ signal })) {
          await this.track(model.blobId, 'model', { holds: `model ${model.name}@${model.version}`, size: model.size, ...(model.blobObjectId != null ? { objectId: model.blobObjectId } : {}) })
          await this.track(model.chunkHashesBlobId, 'chunk-hashes', { holds: `the chunk hashes of model ${model.name}@${model.version}` })
        }
        this.lastRegistrySync = Date.now()
      } catch (err) {
        if (isAbort(err)) throw err
        this.fail('reading the registry for the node\'s own models', err as Error)
      }
    }
  }

  private async drop (blob: TrackedBlob, kind: BlobKind, why: string): Promise<void> {
    const kinds = blob.kinds.filter(k => k !== kind)
    const stopped = kinds.length === 0 && blob.state === 'active'
    const { pinOf, ...rest } = blob
    await this.components.tracker.put({ ...(kind === 'pin' ? rest : blob), kinds, ...(stopped ? { state: 'stopped' as const } : {}) })
    if (stopped) log('no longer renewing blob %s (%s): %s; it stays on Walrus until epoch %s', blob.blobId, blob.holds, why, blob.endEpoch ?? '?')
  }

  /** Learns the lifetime, retires a bundle past retention, reports a loss Walrus confirms; true when nothing is left to do for the blob now. */
  private async settle (blob: TrackedBlob, epoch: number, signal: AbortSignal): Promise<boolean> {
    const { tracker, walrus } = this.components
    if (blob.retainUntil != null && blob.retainUntil <= Date.now() && blob.kinds.includes('bundle')) {
      await this.drop(blob, 'bundle', 'its retention ended')
      if (tracker.get(blob.blobId)?.state !== 'active') return true
      blob = tracker.get(blob.blobId) ?? blob
    }
    const unknown = blob.endEpoch == null || blob.size == null || (blob.owner == null && !blob.shared)
    // The record's end epoch may be behind: a blob's owner (anyone, for a shared blob) can extend it without this node.
    // So Walrus is asked again before a blob is reported lost, and once an epoch for one the node warns of and cannot extend.
    const behind = blob.endEpoch != null && (blob.endEpoch <= epoch || (!this.canExtend(blob) && blob.endEpoch - epoch <= this.renewWithinEpochs && this.rechecked.get(blob.blobId) !== epoch))
    if ((unknown || behind) && walrus.lifetime != null) {
      if (behind) this.rechecked.set(blob.blobId, epoch)
      try {
        const life = await walrus.lifetime(blob.blobId, { signal, ...(blob.objectId != null ? { objectId: blob.objectId } : {}) })
        if (life == null && unknown) {
          await this.failed(blob, new Error(`Walrus does not know blob ${blob.blobId}`))
          return true
        }
        if (life != null) {
          const { lastError: _, ...rest } = blob
          blob = { ...rest, size: life.size, endEpoch: Math.max(life.endEpoch, blob.endEpoch ?? 0), shared: life.shared, ...(life.owner != null ? { owner: life.owner } : {}), ...(life.objectId != null ? { objectId: life.objectId } : {}) }
          await tracker.put(blob)
          this.retryAt.delete(blob.blobId)
        }
      } catch (err) {
        if (isAbort(err)) throw err
        // Not reported lost on the record's word alone: retried until Walrus answers.
        await this.failed(blob, err as Error)
        return true
      }
    }
    if (blob.endEpoch == null) return true
    if (blob.endEpoch <= epoch) {
      await tracker.put({ ...blob, state: 'expired' })
      log.error('LOST: blob %s expired at epoch %d (now %d) and Walrus no longer serves it: it held %s', blob.blobId, blob.endEpoch, epoch, blob.holds)
      this.components.onWarning?.({ kind: 'lost', blobId: blob.blobId, message: `LOST: blob ${blob.blobId} expired at epoch ${blob.endEpoch} (now ${epoch}) and Walrus no longer serves it: it held ${blob.holds}` })
      return true
    }
    return false
  }

  /**
   * Epochs a write of a blob this node will keep should buy: past the renewal
   * window. A blob bought for fewer would be due for renewal the moment it is
   * written, and with short epochs it could end before the first check ran.
   */
  epochsToBuy (requested: number): number {
    return Math.max(requested, this.renewWithinEpochs + 1)
  }

  /** Extends a blob within the renewal window, or warns when it cannot; true when an extension was tried. */
  private async renew (blob: TrackedBlob, epoch: number, signal: AbortSignal): Promise<boolean> {
    const { tracker, walrus } = this.components
    if (blob.endEpoch == null) return false
    if (blob.intent == null && blob.endEpoch - epoch > this.renewWithinEpochs) return false
    if (!this.canExtend(blob)) {
      if (this.warned.get(blob.blobId) !== blob.endEpoch) {
        this.warned.set(blob.blobId, blob.endEpoch)
        log.error('blob %s (%s) ends at epoch %d and this node cannot extend it: %s owns it; ask the owner, or push it again as shared', blob.blobId, blob.holds, blob.endEpoch, blob.owner ?? 'its publisher')
        this.components.onWarning?.({ kind: 'not-extendable', blobId: blob.blobId, message: `blob ${blob.blobId} (${blob.holds}) ends at epoch ${blob.endEpoch} and this node cannot extend it: ${blob.owner ?? 'its publisher'} owns it; ask the owner, or push it again as shared` })
      }
      return false
    }
    if (walrus.extend == null) return false
    if (blob.intent == null && tracker.spent(epoch) >= this.maxSpendPerEpochFrost) {
      if (this.ceilingToldFor !== epoch) {
        this.ceilingToldFor = epoch
        log.error('spending ceiling reached: %d FROST spent on extensions in epoch %d (ceiling %d); renewals wait for the next epoch', tracker.spent(epoch), epoch, this.maxSpendPerEpochFrost)
        this.components.onWarning?.({ kind: 'ceiling', message: `spending ceiling reached: ${tracker.spent(epoch)} FROST spent on extensions in epoch ${epoch} (ceiling ${this.maxSpendPerEpochFrost}); renewals wait for the next epoch` })
      }
      return false
    }
    const intent = blob.intent ?? { from: blob.endEpoch, to: epoch + this.extendEpochs, at: Date.now() }
    if (intent.to <= intent.from) return false
    if (blob.intent == null) {
      blob = { ...blob, intent }
      await tracker.put(blob)
    }
    const { intent: _, ...rest } = blob
    try {
      const result = await walrus.extend({ blobId: blob.blobId, currentEndEpoch: intent.from, endEpoch: intent.to, shared: blob.shared, ...(blob.objectId != null ? { objectId: blob.objectId } : {}), ...(blob.size != null ? { size: blob.size } : {}) }, { signal })
      const { lastError: __, ...done } = rest
      await tracker.paid({ ...done, endEpoch: result.endEpoch, renewals: blob.renewals + 1 }, epoch, result.cost ?? 0)
      this.renewed++
      this.retryAt.delete(blob.blobId)
      this.components.onPaid?.()
      log('extended blob %s (%s) from epoch %d to %d', blob.blobId, blob.holds, intent.from, result.endEpoch)
    } catch (err) {
      if (isAbort(err)) throw err
      const name = (err as Error).name
      if (name === 'StaleEndEpochError' || name === 'BlobExpiredError') {
        // Either an earlier try went through (its result lost to a crash) or the blob moved on: Walrus says which.
        const life = await walrus.lifetime?.(blob.blobId, { signal, ...(blob.objectId != null ? { objectId: blob.objectId } : {}) }).catch(() => undefined)
        if (life != null) {
          const { lastError: __, ...fresh } = rest
          await tracker.put({ ...fresh, endEpoch: life.endEpoch, ...(life.endEpoch >= intent.to ? { renewals: blob.renewals + 1 } : {}) })
          if (life.endEpoch >= intent.to) log('extension of blob %s to epoch %d had gone through already', blob.blobId, intent.to)
          return true
        }
      }
      if (name === 'NotBlobOwnerError') {
        // The record said the node could extend it: learn who owns it now, so it is warned about instead of retried.
        const life = await walrus.lifetime?.(blob.blobId, { signal, ...(blob.objectId != null ? { objectId: blob.objectId } : {}) }).catch(() => undefined)
        if (life != null) {
          const { owner: _, ...unowned } = rest
          await tracker.put({ ...unowned, shared: life.shared, ...(life.owner != null ? { owner: life.owner } : {}) })
        }
      }
      await this.failed(tracker.get(blob.blobId) ?? blob, err as Error)
    }
    return true
  }

  private canExtend (blob: TrackedBlob): boolean {
    return blob.shared || blob.owner === this.components.address
  }

  private async failed (blob: TrackedBlob, err: Error): Promise<void> {
    const previous = this.retryAt.get(blob.blobId)?.failures ?? 0
    const delay = Math.min(RETRY_BASE_MS * 2 ** previous, RETRY_MAX_MS)
    this.retryAt.set(blob.blobId, { at: Date.now() + delay, failures: previous + 1 })
    await this.components.tracker.put({ ...blob, lastError: `${err.name}: ${err.message}`.slice(0, 500) })
    this.fail(`renewing blob ${blob.blobId} (${blob.holds}), next try in ${Math.round(delay / 1000)} s`, err)
  }

  private fail (what: string, err: Error): void {
    this.lastError = `${what}: ${err.message}`.slice(0, 500)
    log('%s failed - %e', what, err)
    this.components.onFailure?.(err)
  }

  status (): StorageStatus {
    const blobs = this.components.tracker.all()
    const active = blobs.filter(b => b.state === 'active')
    const epoch = this.epoch
    const spent = epoch != null ? this.components.tracker.spent(epoch) : 0
    return {
      ...(epoch != null ? { epoch } : {}),
      tracked: blobs.length,
      active: active.length,
      renewed: this.renewed,
      failing: active.filter(b => b.lastError != null).length,
      expiringSoon: epoch == null ? 0 : active.filter(b => b.endEpoch != null && b.endEpoch - epoch <= 1).length,
      expired: blobs.filter(b => b.state === 'expired').length,
      cannotExtend: epoch == null ? 0 : active.filter(b => !this.canExtend(b) && b.endEpoch != null && b.endEpoch - epoch <= this.renewWithinEpochs).length,
      spentThisEpoch: spent,
      maxSpendPerEpoch: this.maxSpendPerEpochFrost,
      ceilingReached: spent >= this.maxSpendPerEpochFrost,
      ...(this.lastError != null ? { lastError: this.lastError } : {})
    }
  }

  list (): ListedBlob[] {
    return this.components.tracker.all().slice(0, MAX_LISTED).map(b => {
      const canExtend = this.canExtend(b)
      const listed: ListedBlob = { blobId: b.blobId, kind: b.kinds.join(',') || 'none', holds: b.holds, state: b.state, shared: b.shared, canExtend, renewals: b.renewals }
      if (b.size != null) listed.size = b.size
      if (b.endEpoch != null) listed.endEpoch = b.endEpoch
      if (b.owner != null) listed.owner = b.owner
      if (b.lastError != null) listed.lastError = b.lastError
      if (b.state === 'active' && canExtend && b.endEpoch != null) listed.nextRenewal = Math.max(b.endEpoch - this.renewWithinEpochs, 0)
      return listed
    })
  }
}
