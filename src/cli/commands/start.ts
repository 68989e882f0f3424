import { join, resolve } from 'node:path'
import type { Command } from 'commander'
import { ApiServer } from '../../api/server.js'
import { HerdNode } from '../../node.js'
import { parseNodeConfig, readConfigFile } from '../../node-config.js'
import { byteSize, herdHome, httpUrl, integer, printJson } from '../options.js'
import { untilSignal } from '../signals.js'

interface StartOptions {
  config?: string
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  apiHost?: string
  apiPort?: number
  walrus?: string
  ledger?: string
  quota?: number
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function startCommand (program: Command): void {
  program.command('start')
    .description('run a herd node: cache, mesh, and the local HTTP API; prints {"event":"ready",…} when ready')
    .option('--config <file>', 'JSON config file (flags override it)')
    .option('--data-dir <dir>', 'node data dir: key, cache, embedded services (default $HERD_HOME/node)')
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default /ip4/127.0.0.1/tcp/0)', collect)
    .option('--bootstrap <multiaddr...>', 'peers to join through, each ending in /p2p/PEER_ID')
    .option('--api-host <host>', 'address of the HTTP API (default 127.0.0.1)')
    .option('--api-port <port>', 'port of the HTTP API; 0 picks a free one (default 31417)', integer('--api-port', 0, 65535))
    .option('--walrus <url>', 'Walrus aggregator and publisher (default: an embedded local Walrus in the data dir)', httpUrl)
    .option('--ledger <url>', 'ledger URL (default: an embedded local ledger in the data dir)', httpUrl)
    .option('--quota <size>', 'cache quota, such as 20GiB (default 20GiB)', byteSize('--quota'))
    .action(async (options: StartOptions) => {
      const file = options.config != null ? await readConfigFile(resolve(options.config)) : {}
      const fileApi = (file.api ?? {}) as Record<string, unknown>
      const fileCache = (file.cache ?? {}) as Record<string, unknown>
      const config = parseNodeConfig({
        ...file,
        dataDir: resolve(options.dataDir ?? (file.dataDir as string | undefined) ?? join(herdHome(), 'node')),
        ...(options.listen != null ? { listen: options.listen } : {}),
        ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
        ...(options.walrus != null ? { walrus: { aggregator: options.walrus, publisher: options.walrus } } : {}),
        ...(options.ledger != null ? { ledger: options.ledger } : {}),
        api: { ...fileApi, ...(options.apiHost != null ? { host: options.apiHost } : {}), ...(options.apiPort != null ? { port: options.apiPort } : {}) },
        cache: { ...fileCache, ...(options.quota != null ? { quotaBytes: options.quota } : {}) }
      }, options.config ?? 'config')
      // Listen before announcing: a signal sent right after the ready line must not find Node's default handler.
      const stopSignal = untilSignal()
      const node = new HerdNode(config)
      const api = new ApiServer({ node, host: config.api.host, port: config.api.port })
      try {
        await node.start()
        await api.start()
      } catch (err) {
        await api.stop()
        await node.stop()
        throw err
      }
      const status = node.status()
      printJson({
        event: 'ready',
        peerId: status.peerId,
        multiaddrs: status.multiaddrs,
        api: api.url,
        address: status.address,
        walrus: status.walrus.aggregator,
        ledger: status.ledger.url ?? status.ledger.kind,
        dataDir: config.dataDir
      })
      const signal = await stopSignal
      await api.stop()
      await node.stop()
      printJson({ event: 'stopped', signal })
    })
}
