import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface CacheAnnouncement {
  seq: bigint
  time: bigint
  added: Uint8Array<ArrayBuffer>[]
  dropped: Uint8Array<ArrayBuffer>[]
  fetching: Uint8Array<ArrayBuffer>[]
  digest?: CacheDigest
  load?: NodeLoad
  fetchingSince: bigint[]
  addresses: Uint8Array<ArrayBuffer>[]
}

export namespace CacheAnnouncement {
  let _codec: Codec<CacheAnnouncement>

  export const codec = (): Codec<CacheAnnouncement> => {
    if (_codec == null) {
      _codec = message<CacheAnnouncement>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.seq != null && obj.seq !== 0n)) {
          w.uint32(8)
          w.uint64(obj.seq)
        }

        if ((obj.time != null && obj.time !== 0n)) {
          w.uint32(16)
          w.uint64(obj.time)
        }

        if (obj.added != null && obj.added.length > 0) {
          for (const value of obj.added) {
            w.uint32(26)
            w.bytes(value)
          }
        }

        if (obj.dropped != null && obj.dropped.length > 0) {
          for (const value of obj.dropped) {
            w.uint32(34)
            w.bytes(value)
          }
        }

        if (obj.fetching != null && obj.fetching.length > 0) {
          for (const value of obj.fetching) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (obj.digest != null) {
          w.uint32(50)
          CacheDigest.codec().encode(obj.digest, w)
        }

        if (obj.load != null) {
          w.uint32(58)
          NodeLoad.codec().encode(obj.load, w)
        }

        if (obj.fetchingSince != null && obj.fetchingSince.length > 0) {
          for (const value of obj.fetchingSince) {
            w.uint32(64)
            w.uint64(value)
          }
        }

        if (obj.addresses != null && obj.addresses.length > 0) {
          for (const value of obj.addresses) {
            w.uint32(74)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          seq: 0n,
          time: 0n,
          added: [],
          dropped: [],
          fetching: [],
          fetchingSince: [],
          addresses: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.seq = reader.uint64()
              break
            }
            case 2: {
              obj.time = reader.uint64()
              break
            }
            case 3: {
              if (opts.limits?.added != null && obj.added.length === opts.limits.added) {
                throw new MaxLengthError('Decode error - repeated field "added" had too many elements')
              }

              obj.added.push(reader.bytes())
              break
            }
            case 4: {
              if (opts.limits?.dropped != null && obj.dropped.length === opts.limits.dropped) {
                throw new MaxLengthError('Decode error - repeated field "dropped" had too many elements')
              }

              obj.dropped.push(reader.bytes())
              break
            }
            case 5: {
              if (opts.limits?.fetching != null && obj.fetching.length === opts.limits.fetching) {
                throw new MaxLengthError('Decode error - repeated field "fetching" had too many elements')
              }

              obj.fetching.push(reader.bytes())
              break
            }
            case 6: {
              obj.digest = CacheDigest.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.digest
              })
              break
            }
            case 7: {
              obj.load = NodeLoad.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.load
              })
              break
            }
            case 8: {
              if (opts.limits?.fetchingSince != null && obj.fetchingSince.length === opts.limits.fetchingSince) {
                throw new MaxLengthError('Decode error - repeated field "fetchingSince" had too many elements')
              }

              obj.fetchingSince.push(reader.uint64())
              break
            }
            case 9: {
              if (opts.limits?.addresses != null && obj.addresses.length === opts.limits.addresses) {
                throw new MaxLengthError('Decode error - repeated field "addresses" had too many elements')
              }

              obj.addresses.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          added: 0,
          dropped: 0,
          fetching: 0,
          fetchingSince: 0,
          addresses: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.seq`,
                value: reader.uint64()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.time`,
                value: reader.uint64()
              }
              break
            }
            case 3: {
              if (opts.limits?.added != null && obj.added === opts.limits.added) {
                throw new MaxLengthError('Streaming decode error - repeated field "added" had too many elements')
              }

              yield {
                field: `${prefix}.added[]`,
                index: obj.added,
                value: reader.bytes()
              }

              obj.added++

              break
            }
            case 4: {
              if (opts.limits?.dropped != null && obj.dropped === opts.limits.dropped) {
                throw new MaxLengthError('Streaming decode error - repeated field "dropped" had too many elements')
              }

              yield {
                field: `${prefix}.dropped[]`,
                index: obj.dropped,
                value: reader.bytes()
              }

              obj.dropped++

              break
            }
            case 5: {
              if (opts.limits?.fetching != null && obj.fetching === opts.limits.fetching) {
                throw new MaxLengthError('Streaming decode error - repeated field "fetching" had too many elements')
              }

              yield {
                field: `${prefix}.fetching[]`,
                index: obj.fetching,
                value: reader.bytes()
              }

              obj.fetching++

              break
            }
            case 6: {
              yield * CacheDigest.codec().stream(reader, reader.uint32(), `${prefix}.digest`, {
                limits: opts.limits?.digest
              })

              break
            }
            case 7: {
              yield * NodeLoad.codec().stream(reader, reader.uint32(), `${prefix}.load`, {
                limits: opts.limits?.load
              })

              break
            }
            case 8: {
              if (opts.limits?.fetchingSince != null && obj.fetchingSince === opts.limits.fetchingSince) {
                throw new MaxLengthError('Streaming decode error - repeated field "fetchingSince" had too many elements')
              }

              yield {
                field: `${prefix}.fetchingSince[]`,
                index: obj.fetchingSince,
                value: reader.uint64()
              }

              obj.fetchingSince++

              break
            }
            case 9: {
              if (opts.limits?.addresses != null && obj.addresses === opts.limits.addresses) {
                throw new MaxLengthError('Streaming decode error - repeated field "addresses" had too many elements')
              }

              yield {
                field: `${prefix}.addresses[]`,
                index: obj.addresses,
                value: reader.bytes()
              }

              obj.addresses++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CacheAnnouncementSeqFieldEvent {
    field: '$.seq'
    value: bigint
  }

  export interface CacheAnnouncementTimeFieldEvent {
    field: '$.time'
    value: bigint
  }

  export interface CacheAnnouncementAddedFieldEvent {
    field: '$.added[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CacheAnnouncementDroppedFieldEvent {
    field: '$.dropped[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CacheAnnouncementFetchingFieldEvent {
    field: '$.fetching[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CacheAnnouncementDigestCountFieldEvent {
    field: '$.digest.count'
    value: number
  }

  export interface CacheAnnouncementDigestBitsFieldEvent {
    field: '$.digest.bits'
    value: number
  }

  export interface CacheAnnouncementDigestHashesFieldEvent {
    field: '$.digest.hashes'
    value: number
  }

  export interface CacheAnnouncementDigestFilterFieldEvent {
    field: '$.digest.filter'
    value: Uint8Array<ArrayBuffer>
  }

  export interface CacheAnnouncementLoadDownloadsFieldEvent {
    field: '$.load.downloads'
    value: number
  }

  export interface CacheAnnouncementLoadUploadsFieldEvent {
    field: '$.load.uploads'
    value: number
  }

  export interface CacheAnnouncementLoadInferQueueFieldEvent {
    field: '$.load.inferQueue'
    value: number
  }

  export interface CacheAnnouncementLoadSessionsWarmFieldEvent {
    field: '$.load.sessionsWarm'
    value: number
  }

  export interface CacheAnnouncementLoadWarmFieldEvent {
    field: '$.load.warm[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface CacheAnnouncementFetchingSinceFieldEvent {
    field: '$.fetchingSince[]'
    index: number
    value: bigint
  }

  export interface CacheAnnouncementAddressesFieldEvent {
    field: '$.addresses[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CacheAnnouncement>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CacheAnnouncement.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CacheAnnouncement>): CacheAnnouncement {
    return decodeMessage(buf, CacheAnnouncement.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CacheAnnouncement>): Generator<CacheAnnouncementSeqFieldEvent | CacheAnnouncementTimeFieldEvent | CacheAnnouncementAddedFieldEvent | CacheAnnouncementDroppedFieldEvent | CacheAnnouncementFetchingFieldEvent | CacheAnnouncementDigestCountFieldEvent | CacheAnnouncementDigestBitsFieldEvent | CacheAnnouncementDigestHashesFieldEvent | CacheAnnouncementDigestFilterFieldEvent | CacheAnnouncementLoadDownloadsFieldEvent | CacheAnnouncementLoadUploadsFieldEvent | CacheAnnouncementLoadInferQueueFieldEvent | CacheAnnouncementLoadSessionsWarmFieldEvent | CacheAnnouncementLoadWarmFieldEvent | CacheAnnouncementFetchingSinceFieldEvent | CacheAnnouncementAddressesFieldEvent> {
    return streamMessage(buf, CacheAnnouncement.codec(), opts)
  }
}

export interface CacheDigest {
  count: number
  bits: number
  hashes: number
  filter: Uint8Array<ArrayBuffer>
}

export namespace CacheDigest {
  let _codec: Codec<CacheDigest>

  export const codec = (): Codec<CacheDigest> => {
    if (_codec == null) {
      _codec = message<CacheDigest>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.count != null && obj.count !== 0)) {
          w.uint32(8)
          w.uint32(obj.count)
        }

        if ((obj.bits != null && obj.bits !== 0)) {
          w.uint32(16)
          w.uint32(obj.bits)
        }

        if ((obj.hashes != null && obj.hashes !== 0)) {
          w.uint32(24)
          w.uint32(obj.hashes)
        }

        if ((obj.filter != null && obj.filter.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.filter)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          count: 0,
          bits: 0,
          hashes: 0,
          filter: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.count = reader.uint32()
              break
            }
            case 2: {
              obj.bits = reader.uint32()
              break
            }
            case 3: {
              obj.hashes = reader.uint32()
              break
            }
            case 4: {
              obj.filter = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.count`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.bits`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.hashes`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.filter`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CacheDigestCountFieldEvent {
    field: '$.count'
    value: number
  }

  export interface CacheDigestBitsFieldEvent {
    field: '$.bits'
    value: number
  }

  export interface CacheDigestHashesFieldEvent {
    field: '$.hashes'
    value: number
  }

  export interface CacheDigestFilterFieldEvent {
    field: '$.filter'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<CacheDigest>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, CacheDigest.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CacheDigest>): CacheDigest {
    return decodeMessage(buf, CacheDigest.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<CacheDigest>): Generator<CacheDigestCountFieldEvent | CacheDigestBitsFieldEvent | CacheDigestHashesFieldEvent | CacheDigestFilterFieldEvent> {
    return streamMessage(buf, CacheDigest.codec(), opts)
  }
}

export interface NodeLoad {
  downloads: number
  uploads: number
  inferQueue: number
  sessionsWarm: number
  warm: Uint8Array<ArrayBuffer>[]
}

export namespace NodeLoad {
  let _codec: Codec<NodeLoad>

  export const codec = (): Codec<NodeLoad> => {
    if (_codec == null) {
      _codec = message<NodeLoad>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.downloads != null && obj.downloads !== 0)) {
          w.uint32(8)
          w.uint32(obj.downloads)
        }

        if ((obj.uploads != null && obj.uploads !== 0)) {
          w.uint32(16)
          w.uint32(obj.uploads)
        }

        if ((obj.inferQueue != null && obj.inferQueue !== 0)) {
          w.uint32(24)
          w.uint32(obj.inferQueue)
        }

        if ((obj.sessionsWarm != null && obj.sessionsWarm !== 0)) {
          w.uint32(32)
          w.uint32(obj.sessionsWarm)
        }

        if (obj.warm != null && obj.warm.length > 0) {
          for (const value of obj.warm) {
            w.uint32(42)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          downloads: 0,
          uploads: 0,
          inferQueue: 0,
          sessionsWarm: 0,
          warm: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.downloads = reader.uint32()
              break
            }
            case 2: {
              obj.uploads = reader.uint32()
              break
            }
            case 3: {
              obj.inferQueue = reader.uint32()
              break
            }
            case 4: {
              obj.sessionsWarm = reader.uint32()
              break
            }
            case 5: {
              if (opts.limits?.warm != null && obj.warm.length === opts.limits.warm) {
                throw new MaxLengthError('Decode error - repeated field "warm" had too many elements')
              }

              obj.warm.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          warm: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.downloads`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.uploads`,
                value: reader.uint32()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.inferQueue`,
                value: reader.uint32()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.sessionsWarm`,
                value: reader.uint32()
              }
              break
            }
            case 5: {
              if (opts.limits?.warm != null && obj.warm === opts.limits.warm) {
                throw new MaxLengthError('Streaming decode error - repeated field "warm" had too many elements')
              }

              yield {
                field: `${prefix}.warm[]`,
                index: obj.warm,
                value: reader.bytes()
              }

              obj.warm++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface NodeLoadDownloadsFieldEvent {
    field: '$.downloads'
    value: number
  }

  export interface NodeLoadUploadsFieldEvent {
    field: '$.uploads'
    value: number
  }

  export interface NodeLoadInferQueueFieldEvent {
    field: '$.inferQueue'
    value: number
  }

  export interface NodeLoadSessionsWarmFieldEvent {
    field: '$.sessionsWarm'
    value: number
  }

  export interface NodeLoadWarmFieldEvent {
    field: '$.warm[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<NodeLoad>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, NodeLoad.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NodeLoad>): NodeLoad {
    return decodeMessage(buf, NodeLoad.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<NodeLoad>): Generator<NodeLoadDownloadsFieldEvent | NodeLoadUploadsFieldEvent | NodeLoadInferQueueFieldEvent | NodeLoadSessionsWarmFieldEvent | NodeLoadWarmFieldEvent> {
    return streamMessage(buf, NodeLoad.codec(), opts)
  }
}
