import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { NodeConfigError, profileSchema, type Network } from '../node-config.js'

export { NETWORKS, type Network } from '../node-config.js'

/**
 * The Walrus package objects come from the SDK that talks to them, so a
 * profile cannot drift from it; the SDK is loaded only for the networks that
 * have them (the devnet never needs it).
 */
async function walrusPackageOf (network: Network): Promise<{ systemObjectId: string, stakingPoolId: string, exchangeIds?: string[] } | undefined> {
  if (network !== 'testnet' && network !== 'mainnet') return undefined
  const { MAINNET_WALRUS_PACKAGE_CONFIG, TESTNET_WALRUS_PACKAGE_CONFIG } = await import('@mysten/walrus')
  return network === 'testnet' ? TESTNET_WALRUS_PACKAGE_CONFIG : MAINNET_WALRUS_PACKAGE_CONFIG
}

export function profilePath (network: Network): string {
  return fileURLToPath(new URL(`../../../config/${network}.json`, import.meta.url))
}

/**
 * `config/NAME.json` shipped with herd, as a partial node config checked by
 * the node config's own schema; the Walrus package objects of testnet and
 * mainnet are filled in from `@mysten/walrus`. Returned as written (defaults
 * not applied), to be layered under the config file, HERD_* and flags.
 */
export async function loadProfile (network: Network): Promise<Record<string, unknown>> {
  const path = profilePath(network)
  let raw: unknown
  try {
    raw = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new NodeConfigError(`cannot read the ${network} profile ${path}: ${(err as Error).message}`)
  }
  if (raw == null || typeof raw !== 'object' || Array.isArray(raw)) throw new NodeConfigError(`profile ${path} must hold a JSON object`)
  const profile = { ...raw as Record<string, unknown> }
  if (profile.network !== network) throw new NodeConfigError(`profile ${path} is for network ${String(profile.network)}, not ${network}`)
  const walrusPackage = await walrusPackageOf(network)
  if (walrusPackage != null && profile.sui != null && typeof profile.sui === 'object') {
    profile.sui = { walrusPackage: { ...walrusPackage, ...(walrusPackage.exchangeIds != null ? { exchangeIds: [...walrusPackage.exchangeIds] } : {}) }, ...profile.sui }
  }
  const checked = profileSchema.safeParse(profile)
  if (!checked.success) {
    const problems = checked.error.issues.map(issue => `${issue.path.join('.') || '(root)'}: ${issue.message}`)
    throw new NodeConfigError(`profile ${path} is not valid: ${problems.join('; ')}`)
  }
  return profile
}
