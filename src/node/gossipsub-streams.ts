/**
 * Keeps gossipsub's per-peer streams alive across duplicate connections (PROTOCOL.md 14.10).
 *
 * Two nodes that dial each other at the same moment hold two connections; gossipsub 17 keeps one outbound
 * and one inbound stream per peer, on whichever connection identify reported first. When that connection
 * closes while the other stays open, libp2p reports no disconnect (the peer is still connected), so
 * gossipsub's topology never calls `onConnect` again: a closed outbound stream is dropped and never opened
 * again (nothing is sent to the peer, its publish reports 0 recipients), and an inbound stream that ends in
 * an error (an aborted connection) makes gossipsub remove the peer with its subscriptions and mesh places.
 * The peer then stays cut off from gossip until a new connection is made. This module re-attaches such a
 * peer on one of its remaining connections, through gossipsub's own `onPeerConnected` (the topology
 * callback): the peer is re-added if it was removed (its score is kept: gossipsub retains it for an hour),
 * a new outbound stream is opened, and gossipsub sends the node's subscriptions on it; the remote side
 * answers a new inbound stream by opening its own outbound stream if it lacks one, which carries its
 * subscriptions back.
 */
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'
import { logger } from '@libp2p/logger'

const log = logger('sotto:node:gossipsub-streams')

/** The parts of `@libp2p/gossipsub` 17.1's GossipSub class used here (its fields are public in JS). */
interface GossipsubInternals {
  isStarted(): boolean
  readonly peers: Map<string, PeerId>
  readonly streamsOutbound: Map<string, { rawStream: Stream }>
  onPeerConnected(peerId: PeerId, connection: Connection): void
  handlePeerReadStreamError(err: unknown, peerId: PeerId): void
}

function internalsOf(pubsub: unknown): GossipsubInternals {
  const g = pubsub as Partial<GossipsubInternals> | undefined
  if (
    g == null ||
    typeof g.isStarted !== 'function' ||
    !(g.peers instanceof Map) ||
    !(g.streamsOutbound instanceof Map) ||
    typeof g.onPeerConnected !== 'function' ||
    typeof g.handlePeerReadStreamError !== 'function'
  ) {
    // Fail when the node is built rather than run without the repair if gossipsub's shape changes.
    throw new Error('gossipsub: internals for stream repair not found (expected @libp2p/gossipsub 17)')
  }
  return g as GossipsubInternals
}

/** Whether gossipsub can send to a peer now, and when that may have changed. */
export interface GossipsubStreams {
  /** True when gossipsub holds an open, writable outbound stream to the peer (it sends nothing without one). */
  canSend(peerId: string): boolean
  /** Calls `listener` each time gossipsub attaches an outbound stream to a peer; returns its removal. */
  onOutboundStream(listener: (peerId: string) => void): () => void
}

function writable(out: { rawStream: Stream } | undefined): boolean {
  return out != null && out.rawStream.status === 'open' && out.rawStream.writeStatus === 'writable'
}

/**
 * Re-attaches gossipsub to a peer's remaining connection whenever one of its connections closes (or its
 * inbound gossipsub stream fails) while another connection to it stays open. Call once, before start.
 *
 * Also reports when gossipsub opens an outbound stream to a peer. A peer's subscriptions arrive on the
 * stream the peer opened, while this node's own stream to it is opened separately (one peer at a time):
 * a peer can be known as subscribed to a topic before anything can be sent to it.
 */
export function keepGossipsubStreams(libp2p: Libp2p<{ pubsub: unknown }>): GossipsubStreams {
  const pubsub = internalsOf(libp2p.services.pubsub)
  const pending = new Set<string>()
  const listeners = new Set<(peerId: string) => void>()

  // Gossipsub emits no event when it attaches an outbound stream: observe the map it keeps them in.
  const outbound = pubsub.streamsOutbound
  const setOutbound = outbound.set.bind(outbound)
  outbound.set = (id, stream) => {
    setOutbound(id, stream)
    for (const listener of [...listeners]) {
      try {
        listener(id)
      } catch (err) {
        log.error('outbound stream listener threw: %e', err)
      }
    }
    return outbound
  }

  const reattach = (peerId: PeerId): void => {
    const id = peerId.toString()
    if (pending.has(id)) return
    pending.add(id)
    // After gossipsub's own handlers for the closed streams have run (they drop the dead streams).
    setTimeout(() => {
      pending.delete(id)
      if (!pubsub.isStarted()) return
      const open = libp2p.getConnections(peerId).find((c) => c.status === 'open' && c.limits == null)
      if (open == null) return // gone: the topology's onDisconnect covers it
      const out = pubsub.streamsOutbound.get(id)
      const outOk = writable(out)
      if (pubsub.peers.has(id) && outOk) return
      if (out != null && !outOk) pubsub.streamsOutbound.delete(id) // its close event is still to come
      log('re-attaching gossipsub to %p on its remaining connection %s', peerId, open.id)
      pubsub.onPeerConnected(peerId, open)
    }, 0)
  }

  libp2p.addEventListener('connection:close', (e) => {
    const peerId = e.detail.remotePeer
    if (pubsub.peers.has(peerId.toString())) reattach(peerId)
  })
  const onReadError = pubsub.handlePeerReadStreamError.bind(pubsub)
  pubsub.handlePeerReadStreamError = (err, peerId) => {
    onReadError(err, peerId) // removes the peer, as gossipsub does
    reattach(peerId) // and brings it back if it is still connected
  }

  return {
    canSend: (peerId) => writable(pubsub.streamsOutbound.get(peerId)),
    onOutboundStream: (listener) => {
      listeners.add(listener)
      return () => listeners.delete(listener)
    }
  }
}
