// The inference benchmark's devnet (local Walrus and ledger) in a child process of its own, as production's Walrus and Sui are elsewhere: in the holder's process its Walrus encoded the holder's receipt bundles and its GC marked their heap, and that CPU counted as the holder's.
import type { PublishedModel, PublishOptions } from '../../harness/in-process-mesh.js'
import type { OriginStats } from '../../src/walrus/local/server.js'
import { ChildClient } from '../child-ipc.js'

/** What the parent asks; each request carries an `id` that its answer repeats. */
export type DevnetRequest =
  | { op: 'start', dir: string }
  | { op: 'publishFile', path: string, options: PublishOptions }
  | { op: 'cpu' }
  | { op: 'walrusStats' }
  | { op: 'blockBytes', height: number }
  | { op: 'stop' }

const CHILD_SCRIPT = new URL('./devnet-child.js', import.meta.url)
/** A start or a publish of a model of a few MB: a minute is ample on a loaded machine. */
const REQUEST_MS = 120_000

/** The devnet's addresses, as node configs take them (`quickNodeConfig`). */
export class DevnetProcess {
  private readonly child = new ChildClient<DevnetRequest>(CHILD_SCRIPT, 'devnet process', REQUEST_MS)
  walrus = { url: '' }
  ledgerUrl = ''

  async start (dir: string): Promise<void> {
    const urls = await this.child.ask<{ walrus: string, ledger: string }>({ op: 'start', dir })
    this.walrus = { url: urls.walrus }
    this.ledgerUrl = urls.ledger
  }

  async publishFile (path: string, options: PublishOptions = {}): Promise<PublishedModel> {
    return this.child.ask<PublishedModel>({ op: 'publishFile', path, options })
  }

  /** The CPU the devnet's process has used so far, in seconds: what the holder's receipt bundles cost Walrus and the ledger. */
  async cpuSeconds (): Promise<number> {
    return this.child.ask<number>({ op: 'cpu' })
  }

  /** The local Walrus's counters: uploads, bytes uploaded and stored. */
  async walrusStats (): Promise<OriginStats> {
    return this.child.ask<OriginStats>({ op: 'walrusStats' })
  }

  /** The size of the ledger block at `height`, as its store keeps it on disk. */
  async blockBytes (height: number): Promise<number> {
    return this.child.ask<number>({ op: 'blockBytes', height })
  }

  async stop (): Promise<void> {
    await this.child.stop()
  }
}
