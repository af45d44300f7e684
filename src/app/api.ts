/**
 * The contract between the user-facing layer (src/cli: commands, daemon, JSON-RPC, chat screen) and the
 * use cases (src/app). The daemon holds one `SottoApi`; every CLI command is one method call over the
 * local socket. All values are JSON-serialisable so that they cross the socket unchanged.
 */

/** Delivery state of a message, as the sender sees it (received messages are 'received' or 'read'). */
export type MessageStatus = 'queued' | 'sent' | 'delivered' | 'read' | 'received' | 'failed'

/** One message as shown to the user (`sotto read --json` prints exactly these fields, one per line). */
export interface MessageView {
  /** Message id: lowercase hex, stable across nodes (the same id on sender and recipients). */
  id: string
  /** Conversation: a contact's name for 1:1, `#name` for a community. */
  conversation: string
  /** Sender: 'me', a contact's name, or for unknown community members a short fingerprint. */
  from: string
  text: string
  /** Sender's timestamp (ms since epoch). */
  sentAt: number
  /** When this node stored it (ms since epoch). */
  receivedAt: number
  status: MessageStatus
}

/** A contact as listed. */
export interface ContactView {
  name: string
  /** Short fingerprint of the identity key (hex). */
  fingerprint: string
  /** 'request': someone who wrote to us but was not added; 'accepted': a contact. */
  state: 'request' | 'accepted'
  verified: boolean
  /** True when the contact's identity key changed and the user has not accepted the new one yet. */
  identityChanged: boolean
  peerId?: string
}

/** Result of `contact verify`. */
export interface VerifyView {
  name: string
  /** 60 digits in 12 groups of 5, separated by spaces. */
  safetyNumber: string
  verified: boolean
  identityChanged: boolean
}

/** A community as listed. */
export interface CommunityView {
  name: string
  /** Opaque topic id (hex); what a relay is told to serve. */
  topicId: string
  epoch: number
  role: 'admin' | 'member'
  members: number
}

/** A member of a community, as seen by this node. */
export interface MemberView {
  name: string
  fingerprint: string
  role: 'admin' | 'member'
  lastSeen?: number
}

/** Sync progress for the status display. */
export interface SyncProgress {
  envelopesToFetch: number
  envelopesFetched: number
  bytesToFetch: number
  bytesFetched: number
}

/** `sotto status --json`. */
export interface StatusView {
  peerId: string
  addresses: string[]
  peers: number
  topics: number
  outbox: number
  sync: SyncProgress
  relays: string[]
}

/** `sotto id --json`. */
export interface IdView {
  name: string
  invite: string
  peerId: string
  addresses: string[]
  /** This user's half of safety numbers: the 30-digit fingerprint of their own identity key. */
  safetyNumber: string
  fingerprint: string
}

/** The use cases the daemon exposes. Errors are thrown as `AppError` subclasses (src/app/errors.ts). */
export interface SottoApi {
  id(): Promise<IdView>
  status(): Promise<StatusView>

  contactAdd(invite: string, name?: string): Promise<ContactView>
  contactList(): Promise<ContactView[]>
  contactAccept(name: string): Promise<ContactView>
  contactVerify(name: string, confirm: boolean): Promise<VerifyView>
  contactRemove(name: string): Promise<void>

  /** `to` is a contact name or `#community`. Resolves once the message is stored and queued. */
  send(to: string, text: string): Promise<MessageView>
  /** History, oldest first; the last `limit` messages (default 50) of one conversation or of all. */
  read(to?: string, limit?: number): Promise<MessageView[]>
  /** Marks every received message of a conversation as read. */
  markRead(to: string): Promise<void>
  /**
   * Deletes this node's copy of a conversation's messages: all of them, or those stored more than `olderThanMs` ago.
   * Returns how many. Other people's copies are not touched, nor the ciphertext envelopes this node keeps for sync.
   */
  clear(to: string, olderThanMs?: number): Promise<number>
  /**
   * A conversation's retention on this node, in ms (0: everything is kept). With `ageMs`, sets it (0 turns it off):
   * from then on this node deletes the conversation's messages once they were stored longer ago than that (checked
   * at once, and every minute). Other people's copies are not touched. Returns the retention now in force.
   */
  retention(to: string, ageMs?: number): Promise<number>
  /** Calls `listener` for every message stored or whose status changed; returns an unsubscribe. */
  subscribe(listener: (message: MessageView) => void): () => void

  communityCreate(name: string): Promise<CommunityView>
  communityInvite(name: string): Promise<string>
  communityJoin(invite: string, name?: string): Promise<CommunityView>
  communityList(): Promise<CommunityView[]>
  communityMembers(name: string): Promise<MemberView[]>
  communityLeave(name: string): Promise<void>
  communityRotate(name: string, remove?: string): Promise<CommunityView>
  communityPromote(name: string, member: string): Promise<MemberView>

  relayUse(address: string): Promise<string[]>
}

/** Options to open a user's node (the daemon builds these from its flags and environment). */
export interface SottoOptions {
  /** Data directory. */
  home: string
  passphrase: string
  /** libp2p listen multiaddrs; default `/ip4/0.0.0.0/tcp/0`. */
  listen?: string[]
  /** Bootstrap multiaddrs (with /p2p/ peer id). */
  bootstrap?: string[]
  /** mDNS discovery on the LAN; default true. */
  mdns?: boolean
  /** Argon2id limits for the at-rest key (tests use the minimum; real use the default). */
  argon2?: { opsLimit: number; memLimit: number }
}

/** A running user node: the API plus lifecycle. Made by `openSotto` in src/app/index.ts. */
export interface SottoApp extends SottoApi {
  stop(): Promise<void>
}
