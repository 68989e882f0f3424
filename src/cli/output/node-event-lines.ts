import type { NodeEvent } from '../../node-events.js'
import { formatBytes, formatPercent, formatSpeed, shortId } from './units.js'

/** One line of plain words for an event of the node's feed. */
export function describeEvent (event: NodeEvent): string {
  switch (event.type) {
    case 'peer:joined': return `peer joined ${event.peerId}`
    case 'peer:left': return `peer left ${event.peerId}`
    case 'download:started': return `download started ${shortId(event.blobId)}: ${formatBytes(event.size)} in ${event.chunks} chunks${event.held > 0 ? `, ${event.held} already held` : ''}`
    case 'download:finished': {
      const fetched = event.bytesFromPeers + event.bytesFromWalrus
      return `download finished ${shortId(event.blobId)}: ${formatBytes(event.size)} in ${(event.ms / 1000).toFixed(1)} s at ${formatSpeed(fetched, event.ms)}, ` +
        `${formatPercent(event.bytesFromPeers, fetched)} from ${event.peers} peer${event.peers === 1 ? '' : 's'}, ${formatPercent(event.bytesFromWalrus, fetched)} from Walrus`
    }
    case 'download:stopped': return `download stopped without the blob ${shortId(event.blobId)}: it failed or the node is stopping (fetching it again resumes it)`
    case 'cache:removed': return `cache dropped ${shortId(event.blobId)} (${event.reason})`
    case 'model:loaded': return `model loaded ${shortId(event.blobId)}`
    case 'bundle:anchored': return `proof bundle anchored ${shortId(event.bundleBlobId)}: ${event.receipts} receipt${event.receipts === 1 ? '' : 's'}`
    case 'bundle:refused': return `Walrus refused a proof bundle of ${event.receipts} receipts (${event.status} ${event.reason})${event.setAside ? ': its receipt is set aside' : ': retrying in smaller bundles'}`
    case 'storage:renewed': return `storage renewed ${shortId(event.blobId)}: end epoch ${event.fromEpoch} -> ${event.toEpoch}${event.cost != null ? ` for ${event.cost} FROST` : ''}`
    case 'storage:warning': return event.message
    case 'funds:blocked': return `no funds: proof bundles, anchors and storage renewals wait until ${event.address} is funded (${event.error})`
    case 'proofs:failed': return `sealing proofs failed, retrying: ${event.error}`
  }
}
