/** The networks herd runs on: the embedded or a `herd devnet`, and Sui's and Walrus's testnet and mainnet. */
export const NETWORKS = ['devnet', 'testnet', 'mainnet'] as const
export type Network = typeof NETWORKS[number]
