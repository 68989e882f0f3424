import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { buildClientSchema, parse, validate, type GraphQLSchema, type IntrospectionQuery, type OperationDefinitionNode } from 'graphql'
import { normalizeSuiAddress } from '@mysten/sui/utils'
import type { SuiChain } from './sui-standin-chain.js'

/** One request as the GraphQL service received it. */
export interface GraphQLCall { operationName: string, query: string, variables: Record<string, any> }

/** `b"metadata"` as a BCS `vector<u8>` in base64: the name Walrus gives a Blob's metadata field. */
const METADATA_NAME_BCS = 'CG1ldGFkYXRh'

let schema: GraphQLSchema | undefined

/**
 * Sui's GraphQL schema as @mysten/sui ships it (the introspection its typed
 * queries are checked against), so a query the real service would refuse is
 * refused here too.
 */
export function suiGraphQLSchema (): GraphQLSchema {
  if (schema != null) return schema
  const require = createRequire(import.meta.url)
  const root = dirname(require.resolve('@mysten/sui/graphql'))
  const text = readFileSync(join(root, 'generated', 'tada-env.d.mts'), 'utf8')
  const start = text.indexOf('declare const introspection:') + 'declare const introspection:'.length
  const literal = text.slice(start, text.indexOf('//#endregion', start)).replace(/readonly /g, '').replace(/;(\s*\n)/g, ',$1').replace(/,\s*$/, '')
  // eslint-disable-next-line no-new-func -- the declaration file is an object literal in TypeScript's type syntax
  schema = buildClientSchema(new Function(`return (${literal})`)() as IntrospectionQuery)
  return schema
}

/**
 * Sui's GraphQL service in process, as the `fetch` of `SuiGraphQLClient`:
 * it validates each query against the schema, records it, and answers the
 * registry query (an owner's objects of a type, a page at a time, with the
 * Blob's JSON, its metadata dynamic field and the transaction that last
 * wrote it) from the shared chain state.
 */
export class SuiGraphQLStandIn {
  readonly calls: GraphQLCall[] = []
  readonly chain: SuiChain
  readonly fetch: typeof fetch

  constructor (chain: SuiChain) {
    this.chain = chain
    this.fetch = async (_url, init) => this.answer(JSON.parse(String(init?.body)))
  }

  private answer (body: { query: string, variables?: Record<string, any>, operationName?: string }): Response {
    const document = parse(body.query)
    const errors = validate(suiGraphQLSchema(), document)
    if (errors.length > 0) return Response.json({ errors: errors.map(e => ({ message: e.message })) })
    const operation = document.definitions.find((d): d is OperationDefinitionNode => d.kind === 'OperationDefinition')
    const call: GraphQLCall = { operationName: operation?.name?.value ?? '', query: body.query, variables: body.variables ?? {} }
    this.calls.push(call)
    if (call.operationName !== 'herdRegistry') return Response.json({ errors: [{ message: `the stand-in does not answer ${call.operationName}` }] })
    if (Number(call.variables.first) > 50) return Response.json({ errors: [{ message: 'Connection page size is too large: at most 50' }] })
    return Response.json({ data: this.registry(call.variables) })
  }

  private registry (variables: Record<string, any>): unknown {
    const owner = normalizeSuiAddress(variables.owner)
    const all = [...this.chain.objects.values()].filter(o => o.owner === owner && o.type === variables.type)
    const from = variables.after != null ? Number(Buffer.from(variables.after, 'base64').toString()) : 0
    const page = all.slice(from, from + Number(variables.first))
    const metadataAsked = variables.field?.type === 'vector<u8>' && variables.field?.bcs === METADATA_NAME_BCS
    return {
      address: {
        objects: {
          pageInfo: { hasNextPage: from + page.length < all.length, endCursor: page.length > 0 ? Buffer.from(String(from + page.length)).toString('base64') : null },
          nodes: page.map(o => {
            const tx = o.previousTransaction != null ? this.chain.transactions.get(o.previousTransaction) : undefined
            return {
              address: o.objectId,
              version: Number(o.version),
              contents: { json: o.json },
              previousTransaction: tx == null ? null : { digest: tx.digest, effects: { timestamp: new Date(tx.timestampMs).toISOString(), checkpoint: { sequenceNumber: Number(tx.checkpoint) } } },
              dynamicField: metadataAsked && o.attributes != null
                ? { value: { json: { metadata: { contents: [...o.attributes].map(([key, value]) => ({ key, value })) } } } }
                : null
            }
          })
        }
      }
    }
  }
}
