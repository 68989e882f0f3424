/**
 * Pings every connection to learn its round trip and to abort a dead one, as
 * libp2p's own connection monitor does, but never aborts a connection that is
 * carrying blob transfers.
 *
 * Why: on a link the chunks fill (a capped uplink, a queue in front of it),
 * a ping waits behind megabytes of them and comes back after libp2p's
 * timeout; libp2p then aborts the connection and every stream on it, and the
 * download re-reads those chunks elsewhere (Walrus, at 8 nodes more than
 * twice the blob: docs/swarm.md). A blob stream has its own idle timeout
 * (BLOB_STREAM_IDLE_TIMEOUT_MS), which ends it when its peer goes silent, so
 * a dead peer is still found: once its transfers have timed out, the next
 * failed ping aborts the connection.
 */
import type { AbortOptions, ComponentLogger, Connection, Logger, Startable } from '@libp2p/interface'
import { AdaptiveTimeout, byteStream, repeatingTask, type RepeatingTask } from '@libp2p/utils'
import { equals } from 'uint8arrays/equals'
import { BLOB_PROTOCOL } from './constants.js'

/** libp2p's ping protocol, so peers that are not herd nodes answer too. */
export const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_BYTES = 32
/** As libp2p's monitor: an idle connection costs one small stream every 10 s. */
export const DEFAULT_PING_INTERVAL_MS = 10_000

/** A ping came back with other bytes than were sent. */
export class PingMismatchError extends Error {
  override readonly name = 'PingMismatchError'
}

export interface ConnectionMonitorComponents {
  connectionManager: { getConnections: () => Connection[] }
  logger: ComponentLogger
}

export interface ConnectionMonitorInit {
  pingIntervalMs?: number
  /** Bounds of the ping timeout, which adapts to the pings measured (libp2p's AdaptiveTimeout: 5 s to 60 s by default). */
  minTimeoutMs?: number
  maxTimeoutMs?: number
}

/** A connection with a blob stream open is judged by that stream's idle timeout, not by a ping queued behind its chunks. */
export function carriesBlobTransfer (connection: Connection): boolean {
  return connection.streams.some(stream => stream.protocol === BLOB_PROTOCOL && stream.status === 'open')
}

export class HerdConnectionMonitor implements Startable {
  private readonly components: ConnectionMonitorComponents
  private readonly log: Logger
  private readonly intervalMs: number
  private readonly timeout: AdaptiveTimeout
  private task?: RepeatingTask
  private readonly pings = new Set<Promise<void>>()
  /** Connections aborted after a failed ping, for the logs and the tests. */
  aborted = 0
  /** Failed pings not acted on because the connection was carrying blob transfers. */
  spared = 0

  constructor (components: ConnectionMonitorComponents, init: ConnectionMonitorInit = {}) {
    this.components = components
    this.log = components.logger.forComponent('herd:mesh:connection-monitor')
    this.intervalMs = init.pingIntervalMs ?? DEFAULT_PING_INTERVAL_MS
    this.timeout = new AdaptiveTimeout({
      ...(init.minTimeoutMs != null ? { minTimeout: init.minTimeoutMs } : {}),
      ...(init.maxTimeoutMs != null ? { maxTimeout: init.maxTimeoutMs } : {})
    })
  }

  readonly [Symbol.toStringTag] = '@herd/connection-monitor'

  start (): void {
    if (this.task != null) return
    this.task = repeatingTask(async (options) => { await this.pingAll(options) }, this.intervalMs)
    this.task.start()
  }

  async stop (): Promise<void> {
    this.task?.stop()
    this.task = undefined
    await Promise.allSettled([...this.pings])
  }

  private async pingAll (options?: AbortOptions): Promise<void> {
    const all = this.components.connectionManager.getConnections()
      .filter(connection => connection.status === 'open')
      .map(async connection => { await this.check(connection, options) })
    await Promise.allSettled(all)
  }

  /** Pings one connection; on a failure, aborts it unless it carried blob transfers when the ping began or when it failed. */
  async check (connection: Connection, options?: AbortOptions): Promise<void> {
    const busyAtStart = carriesBlobTransfer(connection)
    const ping = this.ping(connection, options).catch((err: Error) => {
      if (options?.signal?.aborted === true || connection.status !== 'open') return
      // A peer without the ping protocol answered the negotiation: it is alive.
      if (err.name === 'UnsupportedProtocolError') return
      if (busyAtStart || carriesBlobTransfer(connection)) {
        this.spared++
        this.log('ping to %p failed while it carries blob transfers, kept - %e', connection.remotePeer, err)
        return
      }
      this.aborted++
      this.log.error('aborting connection to %p after a failed ping - %e', connection.remotePeer, err)
      connection.abort(err)
    })
    this.pings.add(ping)
    try {
      await ping
    } finally {
      this.pings.delete(ping)
    }
  }

  private async ping (connection: Connection, options?: AbortOptions): Promise<void> {
    const signal = this.timeout.getTimeoutSignal(options?.signal != null ? { signal: options.signal } : {})
    const stream = await connection.newStream(PING_PROTOCOL, { signal, runOnLimitedConnection: true }).catch((err: Error) => {
      this.timeout.cleanUp(signal)
      throw err
    })
    try {
      const bytes = byteStream(stream)
      const sent = crypto.getRandomValues(new Uint8Array(PING_BYTES))
      const started = Date.now()
      const [, echoed] = await Promise.all([bytes.write(sent, { signal }), bytes.read({ bytes: PING_BYTES, signal })])
      connection.rtt = Date.now() - started
      if (!equals(echoed.subarray(), sent)) throw new PingMismatchError(`${connection.remotePeer.toString()} echoed other bytes than the ping sent`)
      await stream.close({ signal })
    } catch (err) {
      stream.abort(err as Error)
      throw err
    } finally {
      this.timeout.cleanUp(signal)
    }
  }
}

export function herdConnectionMonitor (init: ConnectionMonitorInit = {}): (components: ConnectionMonitorComponents) => HerdConnectionMonitor {
  return (components) => new HerdConnectionMonitor(components, init)
}
