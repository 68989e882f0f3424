import { BlockList, isIP } from 'node:net'
import type { Command } from 'commander'
import { DEFAULT_API_HOST, DEFAULT_API_PORT } from '../../api/constants.js'
import { ApiServer } from '../../api/server.js'
import { HerdNode } from '../../node.js'
import { WARNING_EVENTS, type NodeEvent } from '../../node-events.js'
import { networkOptions, type NetworkOptions } from '../clients.js'
import { ApiTokenError, byteSize, httpUrl, integer, printJson, readTokenFile } from '../options.js'
import { logLevel, operatorLog, type LogLevel } from '../output/log.js'
import { describeEvent } from '../output/node-event-lines.js'
import { readySummary } from '../output/ready-summary.js'
import { resolveConfig } from '../resolve-config.js'
import { untilSignal } from '../signals.js'

interface StartOptions extends NetworkOptions {
  dataDir?: string
  listen?: string[]
  bootstrap?: string[]
  apiHost?: string
  apiPort?: number
  apiAllowedHost?: string[]
  apiToken?: string
  apiTokenFile?: string
  walrus?: string
  ledger?: string
  quota?: number
  json?: boolean
  logLevel: LogLevel
}

const LOOPBACK = new BlockList()
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4')
LOOPBACK.addAddress('::1', 'ipv6')

/** Whether an API host is reachable only from this machine: 127.0.0.0/8, ::1 or localhost. */
export function isLoopbackHost (host: string): boolean {
  if (host === 'localhost') return true
  const family = isIP(host)
  return family !== 0 && LOOPBACK.check(host, family === 4 ? 'ipv4' : 'ipv6')
}

const collect = (value: string, previous: string[] = []): string[] => [...previous, value]

export function startCommand (program: Command): void {
  networkOptions(program.command('start'))
    .description('run a herd node: cache, mesh, and the local HTTP API; prints {"event":"ready",…} when ready')
    .option('--data-dir <dir>', 'node data dir: key, cache, embedded services (default $HERD_DATA_DIR or $HERD_HOME/node)')
    .option('--listen <multiaddr>', 'libp2p listen address, repeatable (default /ip4/127.0.0.1/tcp/0)', collect)
    .option('--bootstrap <multiaddr...>', 'peers to join through, each ending in /p2p/PEER_ID')
    .option('--api-host <host>', `address of the HTTP API (default ${DEFAULT_API_HOST})`)
    .option('--api-port <port>', `port of the HTTP API; 0 picks a free one (default ${DEFAULT_API_PORT})`, integer('--api-port', 0, 65535))
    .option('--api-allowed-host <host>', 'a name the API is reached by besides its address and localhost (name or name:port), repeatable', collect)
    .option('--api-token <token>', 'require Authorization: Bearer TOKEN on every route but GET /health (or --api-token-file, $HERD_API_TOKEN, api.token)')
    .option('--api-token-file <file>', 'read the API token from a file, so it is not on the command line')
    .option('--walrus <url>', 'Walrus aggregator and publisher (default: the profile\'s; on the devnet an embedded local Walrus in the data dir)', httpUrl)
    .option('--ledger <url>', 'the devnet\'s ledger URL (default: an embedded local ledger in the data dir)', httpUrl)
    .option('--quota <size>', 'cache quota, such as 20GiB (default 20GiB)', byteSize('--quota'))
    .option('--json', 'JSON lines on stdout even on a terminal (the default when stdout is not one)')
    .option('--log-level <level>', 'trace, debug, info, warn, error or silent; debug also turns on herd\'s debug log (DEBUG=… picks libp2p\'s)', logLevel, 'info')
    .action(async (options: StartOptions) => {
      const json = options.json === true || process.stdout.isTTY !== true
      const log = operatorLog({ level: options.logLevel, json })
      if (options.apiToken != null && options.apiTokenFile != null) throw new ApiTokenError('give --api-token or --api-token-file, not both')
      const token = options.apiToken ?? (options.apiTokenFile != null ? await readTokenFile(options.apiTokenFile) : undefined)
      const config = await resolveConfig({
        ...(options.network != null ? { network: options.network } : {}),
        ...(options.config != null ? { configFile: options.config } : {}),
        flags: startFlags(options, token)
      })
      if (config.api.token == null && !isLoopbackHost(config.api.host)) {
        log.warn({ event: 'api:open', host: config.api.host }, `the API listens on ${config.api.host} without a token: anyone who reaches it can use it (--api-token-file)`)
      }
      // Listen before announcing: a signal sent right after the ready line must not find Node's default handler.
      const stopSignal = untilSignal()
      const node = new HerdNode(config)
      const api = new ApiServer({ node, ...config.api })
      node.events.addEventListener('event', event => { logEvent(log, event.detail) })
      try {
        await node.start()
        await api.start()
      } catch (err) {
        await api.stop()
        await node.stop()
        throw err
      }
      const status = node.status()
      const ready = {
        event: 'ready',
        peerId: status.peerId,
        multiaddrs: status.multiaddrs,
        api: api.url,
        address: status.address,
        network: config.network,
        walrus: status.walrus.aggregator,
        ledger: status.ledger.url ?? status.ledger.kind,
        dataDir: config.dataDir
      }
      // The ready line is a contract with scripts, the tests and the simulation: exactly this shape, whatever the log level.
      if (json) printJson(ready)
      else process.stdout.write(readySummary({ ...ready, apiToken: config.api.token != null, cacheBytes: status.cache.bytes, quotaBytes: status.cache.quotaBytes }))
      const signal = await stopSignal
      log.info({ event: 'stopping', signal }, `stopping (${signal})`)
      await api.stop()
      await node.stop()
      if (json) printJson({ event: 'stopped', signal })
      else process.stdout.write('stopped\n')
    })
}

function logEvent (log: ReturnType<typeof operatorLog>, event: NodeEvent): void {
  const { type, at: _at, ...fields } = event
  const record = { event: type, ...fields }
  if (WARNING_EVENTS.has(type)) log.warn(record, describeEvent(event))
  else log.info(record, describeEvent(event))
}

/** The flags as a config layer, over the profile, the config file and HERD_*. */
function startFlags (options: StartOptions, token: string | undefined): Record<string, unknown> {
  const api = {
    ...(options.apiHost != null ? { host: options.apiHost } : {}),
    ...(options.apiPort != null ? { port: options.apiPort } : {}),
    ...(options.apiAllowedHost != null ? { allowedHosts: options.apiAllowedHost } : {}),
    ...(token != null ? { token } : {})
  }
  return {
    ...(options.dataDir != null ? { dataDir: options.dataDir } : {}),
    ...(options.listen != null ? { listen: options.listen } : {}),
    ...(options.bootstrap != null ? { bootstrap: options.bootstrap } : {}),
    ...(options.walrus != null ? { walrus: { aggregator: options.walrus, publisher: options.walrus } } : {}),
    ...(options.ledger != null ? { ledger: options.ledger } : {}),
    ...(Object.keys(api).length > 0 ? { api } : {}),
    ...(options.quota != null ? { cache: { quotaBytes: options.quota } } : {})
  }
}
