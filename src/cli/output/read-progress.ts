import { Presets, SingleBar } from 'cli-progress'
import type { WalrusReadProgress } from '../../walrus/types.js'

export interface ReadProgressBar {
  update: (event: WalrusReadProgress) => void
  stop: () => void
}

const MIB = 1024 * 1024

/**
 * A bar on stderr for a read from Walrus, fed by the client's `walrus:read`
 * events; undefined when stderr is not a terminal (a script's stderr gets no
 * bar to parse around) or the user asked for quiet.
 */
export function readProgressBar (quiet: boolean, stream: NodeJS.WriteStream = process.stderr): ReadProgressBar | undefined {
  if (quiet || stream.isTTY !== true) return undefined
  const bar = new SingleBar({ format: 'walrus {bar} {percentage}% | {read}/{size} MiB', stream, hideCursor: true }, Presets.shades_classic)
  let started = false
  return {
    update: event => {
      // An aggregator that announces no length gives total 0: the bar then follows the bytes alone.
      const total = Math.max(event.total, event.bytes, 1)
      const values = { read: (event.bytes / MIB).toFixed(1), size: event.total > 0 ? (event.total / MIB).toFixed(1) : '?' }
      if (!started) {
        started = true
        bar.start(total, event.bytes, values)
        return
      }
      bar.setTotal(total)
      bar.update(event.bytes, values)
    },
    stop: () => {
      if (!started) return
      started = false
      bar.stop()
    }
  }
}
