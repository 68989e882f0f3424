import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'

export const NETWORKS = ['devnet', 'testnet', 'mainnet'] as const
export type Network = typeof NETWORKS[number]

const profileSchema = z.object({
  network: z.enum(NETWORKS),
  walrus: z.object({
    publisher: z.url({ protocol: /^https?$/ }).optional(),
    aggregator: z.url({ protocol: /^https?$/ }),
    nShards: z.number().int().min(1).max(65535)
  }).strict(),
  sui: z.object({
    rpc: z.url({ protocol: /^https?$/ }),
    walrusPackage: z.object({
      systemObjectId: z.string().regex(/^0x[0-9a-f]{64}$/),
      stakingPoolId: z.string().regex(/^0x[0-9a-f]{64}$/),
      exchangeIds: z.array(z.string().regex(/^0x[0-9a-f]{64}$/)).optional()
    }).strict()
  }).strict().optional()
}).strict()

export type Profile = z.infer<typeof profileSchema>

/** Reads `config/NAME.json` shipped with herd: public endpoints as defaults that flags override. */
export async function loadProfile (network: Network): Promise<Profile> {
  const path = fileURLToPath(new URL(`../../../config/${network}.json`, import.meta.url))
  const parsed = profileSchema.safeParse(JSON.parse(await readFile(path, 'utf8')))
  if (!parsed.success) throw new Error(`${path} is not a valid herd profile: ${z.prettifyError(parsed.error)}`)
  return parsed.data
}
