import type { ConnectionEncrypter, SecureConnectionOptions, SecuredConnection, Stream, StreamMuxer, StreamMuxerFactory, Transport, Upgrader } from '@libp2p/interface'
import { logger } from '@libp2p/logger'
import { guardLengthPrefixes, type FramingOf } from './prefix-guard.js'

// libp2p's transport, encrypter and muxer, each wrapped so that every raw
// connection, encrypted connection and stream is guarded (prefix-guard.ts)
// from its first byte, whichever side opened it.

const log = logger('herd:mesh:prefix-guarded')

/** Past the protocol named, the bytes are the encrypter's or the muxer's own frames, which they bound. */
const ownFramingOf = (protocols: Set<string>): FramingOf => protocol => protocols.has(protocol) ? 'own' : undefined

function guard (stream: object, framingOf: FramingOf, what: string, protocol?: string): void {
  if (!guardLengthPrefixes(stream, framingOf, { what, ...(protocol != null ? { protocol } : {}) })) log.error('%s cannot be guarded: its class has no onData', what)
}

/** Guards every raw connection the transport accepts or dials, through its negotiation of an encrypter. */
function guardedTransport<C> (factory: (components: C) => Transport, encrypters: Set<string>): (components: C) => Transport {
  const framingOf = ownFramingOf(encrypters)
  const guardUpgrader = (upgrader: Upgrader): Upgrader => new Proxy(upgrader, {
    get (target, property) {
      if (property === 'upgradeInbound') {
        return async (...[maConn, options]: Parameters<Upgrader['upgradeInbound']>) => {
          guard(maConn, framingOf, 'an inbound connection')
          await target.upgradeInbound(maConn, options)
        }
      }
      if (property === 'upgradeOutbound') {
        return async (...[maConn, options]: Parameters<Upgrader['upgradeOutbound']>) => {
          guard(maConn, framingOf, 'an outbound connection')
          return target.upgradeOutbound(maConn, options)
        }
      }
      const value: unknown = Reflect.get(target, property)
      return typeof value === 'function' ? value.bind(target) : value
    }
  })
  return components => {
    const transport = factory(components)
    const createListener = transport.createListener.bind(transport)
    const dial = transport.dial.bind(transport)
    transport.createListener = options => createListener({ ...options, upgrader: guardUpgrader(options.upgrader) })
    transport.dial = async (address, options) => dial(address, { ...options, upgrader: guardUpgrader(options.upgrader) })
    return transport
  }
}

/** Guards every encrypted connection, through its negotiation of a muxer. */
function guardedEncrypter<C> (factory: (components: C) => ConnectionEncrypter, protocols: Set<string>, muxers: Set<string>): (components: C) => ConnectionEncrypter {
  const framingOf = ownFramingOf(muxers)
  return components => {
    const encrypter = factory(components)
    protocols.add(encrypter.protocol)
    const secureInbound = encrypter.secureInbound.bind(encrypter)
    const secureOutbound = encrypter.secureOutbound.bind(encrypter)
    // A muxer agreed in the handshake (Noise's extensions) or given by the transport is not negotiated: its frames come first.
    const negotiatesMuxer = (secured: SecuredConnection, options?: SecureConnectionOptions): boolean =>
      secured.streamMuxer == null && (options as { muxerFactory?: unknown } | undefined)?.muxerFactory == null
    encrypter.secureInbound = async (connection, options) => {
      const secured = await secureInbound(connection, options)
      if (negotiatesMuxer(secured, options)) guard(secured.connection, framingOf, 'an inbound encrypted connection')
      return secured
    }
    encrypter.secureOutbound = async (connection, options) => {
      const secured = await secureOutbound(connection, options)
      if (negotiatesMuxer(secured, options)) guard(secured.connection, framingOf, 'an outbound encrypted connection')
      return secured
    }
    return encrypter
  }
}

/**
 * Guards every stream of every connection, through its negotiation and then
 * the frames of the protocol negotiated where lpStream reads them. Inbound
 * streams are caught in the muxer's `onRemoteStream` (libp2p 3's
 * AbstractStreamMuxer), before the connection hears of them: a `stream`
 * listener of our own would stop the muxer keeping streams that come before
 * the connection listens.
 */
function guardedMuxer<C> (factory: (components: C) => StreamMuxerFactory, protocols: Set<string>, framing: StreamFraming): (components: C) => StreamMuxerFactory {
  return components => {
    const muxers = factory(components)
    protocols.add(muxers.protocol)
    const createStreamMuxer = muxers.createStreamMuxer.bind(muxers)
    muxers.createStreamMuxer = connection => {
      const muxer: StreamMuxer & { onRemoteStream?: (stream: Stream) => void } = createStreamMuxer(connection)
      const onRemoteStream = muxer.onRemoteStream
      if (typeof onRemoteStream !== 'function') {
        log.error('the %s muxer has no onRemoteStream: its inbound streams are not guarded', muxers.protocol)
      } else {
        muxer.onRemoteStream = stream => {
          guard(stream, framing.inbound, 'an inbound stream', stream.protocol)
          onRemoteStream.call(muxer, stream)
        }
      }
      const createStream = muxer.createStream.bind(muxer)
      muxer.createStream = async options => {
        const stream = await createStream(options)
        guard(stream, framing.outbound, 'an outbound stream', stream.protocol)
        return stream
      }
      return muxer
    }
    return muxers
  }
}

/** How the bytes of a stream's protocol are framed, by who opened the stream: what the other side names means a proposal inbound, an answer outbound. */
export interface StreamFraming {
  inbound: FramingOf
  outbound: FramingOf
}

export interface GuardedLayersInit<T, E, M> {
  transports: Array<(components: T) => Transport>
  connectionEncrypters: Array<(components: E) => ConnectionEncrypter>
  streamMuxers: Array<(components: M) => StreamMuxerFactory>
  streamFraming: StreamFraming
}

/** The layers of `init`, each guarded; the encrypters and muxers name themselves as they are built, before any connection. */
export function prefixGuarded<T, E, M> (init: GuardedLayersInit<T, E, M>): Omit<GuardedLayersInit<T, E, M>, 'streamFraming'> {
  const encrypters = new Set<string>()
  const muxers = new Set<string>()
  return {
    transports: init.transports.map(factory => guardedTransport(factory, encrypters)),
    connectionEncrypters: init.connectionEncrypters.map(factory => guardedEncrypter(factory, encrypters, muxers)),
    streamMuxers: init.streamMuxers.map(factory => guardedMuxer(factory, muxers, init.streamFraming))
  }
}
