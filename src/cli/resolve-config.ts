import { join, resolve } from 'node:path'
import { NETWORKS, NodeConfigError, parseNodeConfig, readConfigFile, type Network, type NodeConfig } from '../node-config.js'
import { herdHome } from './options.js'
import { loadProfile } from './profiles.js'

type Layer = Record<string, unknown>

/**
 * The HERD_* variables a node's config takes, each to the config path it sets.
 * A list variable is comma-separated.
 */
export const CONFIG_ENV: Record<string, { path: string[], list?: boolean }> = {
  HERD_DATA_DIR: { path: ['dataDir'] },
  HERD_BOOTSTRAP: { path: ['bootstrap'], list: true },
  HERD_WALRUS: { path: ['walrus'] },
  HERD_AGGREGATOR: { path: ['walrus', 'aggregator'], list: true },
  HERD_PUBLISHER: { path: ['walrus', 'publisher'] },
  HERD_UPLOAD_RELAY: { path: ['walrus', 'uploadRelay', 'host'] },
  HERD_LEDGER: { path: ['ledger'] },
  HERD_SUI_URL: { path: ['sui', 'url'] },
  HERD_SUI_GRAPHQL_URL: { path: ['sui', 'graphqlUrl'] },
  HERD_TRUSTED_PUBLISHERS: { path: ['registry', 'trustedPublishers'], list: true },
  HERD_API_TOKEN: { path: ['api', 'token'] }
}

export interface ConfigSources {
  /** `--network`; else $HERD_NETWORK; else the config file's `network`; else devnet. */
  network?: string
  /** `--config`; else $HERD_CONFIG. */
  configFile?: string
  env?: NodeJS.ProcessEnv
  /** What the command's flags set, shaped as config. */
  flags?: Layer
  /** Under the profile, on the devnet only: where a command finds a `herd devnet` (a node embeds its own instead). */
  devnetDefaults?: Layer
}

const isObject = (value: unknown): value is Layer => value != null && typeof value === 'object' && !Array.isArray(value)

/** Objects merge key by key; anything else (arrays too) is replaced by the later layer. */
export function mergeLayers (...layers: Layer[]): Layer {
  const out: Layer = {}
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      if (value === undefined) continue
      out[key] = isObject(value) && isObject(out[key]) ? mergeLayers(out[key], value) : value
    }
  }
  return out
}

function setPath (layer: Layer, path: string[], value: unknown): void {
  let at = layer
  for (const key of path.slice(0, -1)) {
    if (!isObject(at[key])) at[key] = {}
    at = at[key] as Layer
  }
  at[path.at(-1)!] = value
}

/** The layer the HERD_* variables make; HERD_WALRUS is the devnet's one URL for reads and writes alike. */
export function envLayer (env: NodeJS.ProcessEnv): Layer {
  const layer: Layer = {}
  for (const [name, { path, list }] of Object.entries(CONFIG_ENV)) {
    const value = env[name]
    if (value == null || value === '') continue
    if (name === 'HERD_WALRUS') setPath(layer, path, { aggregator: value, publisher: value })
    else setPath(layer, path, list === true ? value.split(',').map(v => v.trim()).filter(v => v !== '') : value)
  }
  return layer
}

export function parseNetwork (value: unknown, where: string): Network {
  if (typeof value !== 'string' || !(NETWORKS as readonly string[]).includes(value)) {
    throw new NodeConfigError(`${where}: network must be one of ${NETWORKS.join(', ')}, not ${JSON.stringify(value)}`)
  }
  return value as Network
}

/**
 * The config a command runs with: built-in defaults < the network's profile
 * < the config file < HERD_* variables < flags. Validated whole, so a bad
 * field is refused by name before anything starts.
 */
export async function resolveConfig (sources: ConfigSources = {}): Promise<NodeConfig> {
  const env = sources.env ?? process.env
  // An empty variable is an unset one, as the shell's `HERD_CONFIG= herd …` means.
  const configFile = sources.configFile ?? (env.HERD_CONFIG !== '' ? env.HERD_CONFIG : undefined)
  const file = configFile != null ? await readConfigFile(resolve(configFile)) : {}
  const where = configFile ?? 'config'
  const network = sources.network != null
    ? parseNetwork(sources.network, '--network')
    : env.HERD_NETWORK != null && env.HERD_NETWORK !== ''
      ? parseNetwork(env.HERD_NETWORK, 'HERD_NETWORK')
      : file.network != null ? parseNetwork(file.network, where) : 'devnet'
  const defaults = { dataDir: join(herdHome(), 'node') }
  const devnet = network === 'devnet' ? sources.devnetDefaults ?? {} : {}
  const merged = mergeLayers(defaults, devnet, await loadProfile(network), file, envLayer(env), sources.flags ?? {}, { network })
  if (typeof merged.dataDir === 'string') merged.dataDir = resolve(merged.dataDir)
  return parseNodeConfig(merged, where)
}

/** Key names whose values are never printed. */
const SECRET_KEY = /key|secret|token|password|credential/i

/**
 * The config with its secrets hidden: fields named like keys or tokens, and the
 * password and query of every URL (where a provider's API token usually sits).
 */
export function redactConfig (value: unknown, key = ''): unknown {
  if (typeof value === 'string') {
    if (SECRET_KEY.test(key)) return '[redacted]'
    if (/^https?:\/\//.test(value)) {
      try {
        const url = new URL(value)
        if (url.password !== '' || url.username !== '' || url.search !== '') {
          if (url.username !== '') url.username = 'redacted'
          if (url.password !== '') url.password = 'redacted'
          if (url.search !== '') url.search = '?redacted'
          return url.toString()
        }
      } catch {}
    }
    return value
  }
  if (Array.isArray(value)) return value.map(item => redactConfig(item, key))
  if (isObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactConfig(v, k)]))
  return value
}
