import { bcs } from '@mysten/sui/bcs'
import type { SuiGraphQLClient } from '@mysten/sui/graphql'
import { logger } from '@libp2p/logger'
import { blobIdFromU256, type BlobId } from '../../blob/blob-id.js'
import { RetryableLedgerError } from '../errors.js'
import type { AnchorEntry, ModelEntry } from '../types.js'
import { validateAnchorInput, validateModelInput } from '../validation.js'
import { ATTR } from './attributes.js'

const log = logger('herd:chain:sui:registry')

/** GraphQL's default and maximum page size on Sui's public service. */
export const REGISTRY_PAGE = 50
/** Pages read per owner: 10,000 Blob objects, far past any registry herd expects; beyond it entries are left unread, and logged. */
export const MAX_REGISTRY_PAGES = 200
const MAX_ATTRIBUTES = 64
const MAX_ATTRIBUTE_CHARS = 16 * 1024

/** The name of the dynamic field Walrus keeps a Blob's metadata under: `b"metadata"` as a BCS `vector<u8>`. */
export const METADATA_FIELD_NAME = { type: 'vector<u8>', bcs: bcs.vector(bcs.u8()).serialize([...new TextEncoder().encode('metadata')]).toBase64() }

/**
 * One page of an owner's Blob objects with their metadata field and the
 * transaction that last wrote them, in one request: the GraphQL service's
 * index does the listing that would otherwise take one RPC per object.
 */
export const REGISTRY_QUERY = `query herdRegistry($owner: SuiAddress!, $type: String!, $first: Int!, $after: String, $field: DynamicFieldName!) {
  address(address: $owner) {
    objects(first: $first, after: $after, filter: { type: $type }) {
      pageInfo { hasNextPage endCursor }
      nodes {
        address
        version
        contents { json }
        previousTransaction { digest effects { timestamp checkpoint { sequenceNumber } } }
        dynamicField(name: $field) { value { ... on MoveValue { json } } }
      }
    }
  }
}`

export interface BlobView {
  objectId: string
  blobId: BlobId
  owner: string
  attributes: Record<string, string>
  version: string
  txId: string
  checkpoint: number
  time: number
}

interface RegistryNode {
  address?: string
  version?: number | string
  contents?: { json?: { blob_id?: string } } | null
  previousTransaction?: { digest?: string, effects?: { timestamp?: string | null, checkpoint?: { sequenceNumber?: number | string } | null } | null } | null
  dynamicField?: { value?: { json?: unknown } | null } | null
}

interface RegistryPage {
  address?: { objects?: { pageInfo?: { hasNextPage?: boolean, endCursor?: string | null }, nodes?: RegistryNode[] } } | null
}

/** The herd attributes of a Blob's metadata JSON (`{ metadata: { contents: [{ key, value }] } }`), or undefined if it has none. */
export function parseMetadata (json: unknown): Record<string, string> | undefined {
  const contents = (json as { metadata?: { contents?: unknown } } | undefined)?.metadata?.contents
  if (!Array.isArray(contents) || contents.length > MAX_ATTRIBUTES) return undefined
  const out: Record<string, string> = {}
  for (const entry of contents) {
    const { key, value } = (entry ?? {}) as { key?: unknown, value?: unknown }
    if (typeof key !== 'string' || typeof value !== 'string' || key.length > MAX_ATTRIBUTE_CHARS || value.length > MAX_ATTRIBUTE_CHARS) return undefined
    out[key] = value
  }
  return out[ATTR.kind] != null ? out : undefined
}

/** Every Blob object of `owner` that carries herd attributes, through the GraphQL index. */
export async function listOwnerBlobs (graphql: SuiGraphQLClient, owner: string, blobType: string, signal?: AbortSignal): Promise<BlobView[]> {
  const views: BlobView[] = []
  for await (const node of ownerBlobNodes(graphql, owner, blobType, signal)) {
    const view = toView(node, owner)
    if (view != null) views.push(view)
  }
  return views
}

/**
 * The object ID of a Blob object of `owner` holding `blobId`, with or without
 * attributes (a bundle's Blob before its anchor), or undefined when the index
 * shows none: a write whose reply named no object (the publisher's
 * alreadyCertified, a batch resumed after a restart) is found this way.
 */
export async function findOwnedBlob (graphql: SuiGraphQLClient, owner: string, blobType: string, blobId: BlobId, signal?: AbortSignal): Promise<string | undefined> {
  for await (const node of ownerBlobNodes(graphql, owner, blobType, signal)) {
    if (typeof node.address === 'string' && blobIdOf(node) === blobId) return node.address
  }
  return undefined
}

async function * ownerBlobNodes (graphql: SuiGraphQLClient, owner: string, blobType: string, signal?: AbortSignal): AsyncGenerator<RegistryNode> {
  let after: string | null = null
  for (let page = 0; ; page++) {
    if (page >= MAX_REGISTRY_PAGES) {
      log.error('owner %s has more than %d pages of Blob objects: the rest are not read', owner, MAX_REGISTRY_PAGES)
      return
    }
    let result: Awaited<ReturnType<SuiGraphQLClient['query']>>
    try {
      result = await graphql.query({ query: REGISTRY_QUERY, variables: { owner, type: blobType, first: REGISTRY_PAGE, after, field: METADATA_FIELD_NAME }, ...(signal != null ? { signal } : {}) })
    } catch (err) {
      if ((err as Error).name === 'AbortError' || signal?.aborted === true) throw err
      throw new RetryableLedgerError(`Sui GraphQL: listing the Blob objects of ${owner}: ${(err as Error).message}`, { cause: err })
    }
    if (result.errors != null && result.errors.length > 0) {
      throw new RetryableLedgerError(`Sui GraphQL: listing the Blob objects of ${owner}: ${result.errors.map(e => e.message).join('; ').slice(0, 500)}`)
    }
    const objects = (result.data as RegistryPage | undefined)?.address?.objects
    yield * objects?.nodes ?? []
    if (objects?.pageInfo?.hasNextPage !== true || objects.pageInfo.endCursor == null) return
    after = objects.pageInfo.endCursor
  }
}

function blobIdOf (node: RegistryNode): BlobId | undefined {
  try {
    return blobIdFromU256(String(node.contents?.json?.blob_id))
  } catch {
    log('Blob object %s has no readable blob_id: skipped', node.address)
    return undefined
  }
}

function toView (node: RegistryNode, owner: string): BlobView | undefined {
  const attributes = parseMetadata(node.dynamicField?.value?.json)
  if (attributes == null || typeof node.address !== 'string') return undefined
  const blobId = blobIdOf(node)
  if (blobId == null) return undefined
  const effects = node.previousTransaction?.effects
  const time = effects?.timestamp != null ? Date.parse(effects.timestamp) : NaN
  return {
    objectId: node.address,
    blobId,
    owner,
    attributes,
    version: String(node.version ?? '0'),
    txId: node.previousTransaction?.digest ?? '',
    checkpoint: Number(effects?.checkpoint?.sequenceNumber ?? 0),
    time: Number.isFinite(time) ? time : 0
  }
}

/** A registry entry read back from a Blob's attributes, checked as strictly as a new registration; undefined if it does not pass. */
export function toModel (b: BlobView): ModelEntry | undefined {
  const a = b.attributes
  if (a[ATTR.kind] !== 'model') return undefined
  try {
    const valid = validateModelInput({
      name: a[ATTR.name],
      version: a[ATTR.version],
      blobId: b.blobId,
      size: Number(a[ATTR.size]),
      chunkSize: Number(a[ATTR.chunkSize]),
      chunkRoot: a[ATTR.chunkRoot],
      chunkHashesBlobId: a[ATTR.chunkHashes],
      format: a[ATTR.format],
      inputs: JSON.parse(a[ATTR.inputs] ?? '[]'),
      outputs: JSON.parse(a[ATTR.outputs] ?? '[]'),
      blobObjectId: b.objectId
    })
    return { ...valid, registeredBy: b.owner, txId: b.txId, height: b.checkpoint, time: b.time }
  } catch (err) {
    log('Blob object %s carries a model entry that does not validate: %e', b.objectId, err)
    return undefined
  }
}

export function toAnchor (b: BlobView, ledger: string): AnchorEntry | undefined {
  const a = b.attributes
  if (a[ATTR.kind] !== 'anchor') return undefined
  try {
    const valid = validateAnchorInput({ root: a[ATTR.root], count: Number(a[ATTR.count]), bundleBlobId: b.blobId, bundleObjectId: b.objectId })
    return { ...valid, ledger, txId: b.txId, height: b.checkpoint, time: b.time, address: b.owner }
  } catch (err) {
    log('Blob object %s carries an anchor that does not validate: %e', b.objectId, err)
    return undefined
  }
}
