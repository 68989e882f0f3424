import type { Connection, MultiaddrConnection } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import type { Multiaddr } from '@multiformats/multiaddr'

const log = logger('herd:mesh:connections-per-ip')

/** The IP of a TCP multiaddr, undefined for any other kind of address. */
export function ipOf (address: Multiaddr): string | undefined {
  const host = address.getComponents()[0]
  return host?.name === 'ip4' || host?.name === 'ip6' ? host.value : undefined
}

export interface PerIpLimitInit {
  /** Connections one IP may hold at once, in either direction. */
  max: number
  /** IPs with no limit (the single addresses of the mesh's `allow`). */
  exempt: Set<string>
  /** The node's open connections. */
  connections: () => Connection[]
}

/**
 * libp2p bounds the connections of the whole node (and how fast one host may
 * open them), not those of one IP: a single address could take every slot in
 * a minute and leave none for honest peers, since libp2p refuses new inbound
 * connections at the bound rather than prune for them. For the connection
 * gater's `denyInboundConnection`: true refuses the connection, before any
 * encryption.
 */
export function denyPastPerIpLimit (init: PerIpLimitInit): (maConn: MultiaddrConnection) => boolean {
  return maConn => {
    const ip = ipOf(maConn.remoteAddr)
    if (ip == null || init.exempt.has(ip)) return false
    let held = 0
    for (const connection of init.connections()) if (ipOf(connection.remoteAddr) === ip) held++
    if (held < init.max) return false
    log('refusing a connection from %s: it holds %d, the most one IP may', ip, held)
    return true
  }
}
