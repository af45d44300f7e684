// What bench/e2e.mjs and its child nodes (bench/e2e-node.mjs) share: the messages of both sides and how raw
// gossipsub runs on a node.

export const TEXT_BYTES = 200
/** Sotto's text for message `seq` (8 digits), TEXT_BYTES long. */
export const textOf = (seq) => `bench ${String(seq).padStart(8, '0')} `.padEnd(TEXT_BYTES, 'x')
/** The message number in a text of textOf, or -1. */
export const seqOf = (text) => (text.startsWith('bench ') ? Number(text.slice(6, 14)) : -1)

export const RAW_TOPIC = 'bench-raw-gossipsub'
/** A raw gossipsub payload of `bytes` bytes carrying `seq` (u32) and 60 random bytes. */
export function rawPayload(seq, bytes) {
  const b = new Uint8Array(bytes)
  globalThis.crypto.getRandomValues(b.subarray(4, 64))
  new DataView(b.buffer).setUint32(0, seq)
  return b
}
/** The message number in a raw payload. */
export const rawSeqOf = (data) => new DataView(data.buffer, data.byteOffset).getUint32(0)

/**
 * Raw gossipsub on `node` (a bare one, or a sotto user's): subscribes RAW_TOPIC and lets its messages through the
 * node's topic validator untouched (sotto's ignores topics it has no route for); sotto's own topics keep sotto's
 * validator. Sotto's message listener gets RAW_TOPIC's messages too and drops them at once (no route).
 * `onDelivery(seq)` is called for each RAW_TOPIC message the node delivers.
 */
export function joinRaw(node, onDelivery) {
  const own = node.getTopicValidator()
  if (own !== undefined) node.setTopicValidator((topic, data) => (topic === RAW_TOPIC ? 'accept' : own(topic, data)))
  node.subscribe(RAW_TOPIC)
  return node.on('message', (m) => {
    if (m.topic === RAW_TOPIC) onDelivery(rawSeqOf(m.data))
  })
}
