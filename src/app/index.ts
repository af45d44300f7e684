/**
 * Opening a user's node: `initSotto` creates an identity and its store in a data directory, `openSotto`
 * unlocks the store, starts the libp2p node and returns the running app (src/app/api.ts); `changePassphrase`
 * rewraps the store's key under a new passphrase.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { DEFAULT_ARGON2 } from '../crypto/atrest.js'
import { IdentityKeyPair } from '../crypto/identity.js'
import { LocalPrekeys } from '../crypto/prekeys.js'
import { toHex } from '../crypto/primitives.js'
import { ownFingerprintDigits } from '../crypto/safety.js'
import { createSottoNode, generatePeerKey, peerIdOfKey, type SottoNode } from '../node/index.js'
import {
  createLevelStore,
  openLevelStore,
  type Store,
  StoreExistsError,
  StoreLockedError,
  StoreNotFoundError,
  storeDirectory,
  WrongPassphraseError
} from '../store/index.js'
import { sottoRecordTypes } from './dht-records.js'
import { RELAY_KEY_FILE } from './relay.js'
import type { IdView, SottoApp, SottoOptions } from './api.js'
import {
  AlreadyInitialisedError,
  BadPassphraseError,
  DataDirLockedError,
  NotInitialisedError,
  WrongPassphraseAppError
} from './errors.js'
import { Sotto, type SottoTimings } from './sotto.js'
import { checkName, shortFingerprint } from './views.js'

export * from './api.js'
export * from './errors.js'
export { DEFAULT_TIMINGS, Sotto, type SottoTimings } from './sotto.js'
export {
  DEFAULT_RELAY_QUOTAS,
  NotARelayHomeError,
  RelayConfigError,
  type RelayHandle,
  type RelayOptions,
  type RelayQuotas,
  type RelayStatus,
  type RelayTopicView,
  relayTopicName,
  runRelay
} from './relay.js'

/** Maps the store's opening errors to the app's user-facing ones. */
function mapOpenError(err: unknown, home: string): unknown {
  if (err instanceof StoreExistsError) return new AlreadyInitialisedError(home)
  if (err instanceof StoreNotFoundError) return new NotInitialisedError(home)
  if (err instanceof WrongPassphraseError) return new WrongPassphraseAppError()
  if (err instanceof StoreLockedError) return new DataDirLockedError(home)
  return err
}

/** Creates an identity, prekeys and a peer key in a new store in `options.home`. */
export async function initSotto(options: SottoOptions & { name?: string }): Promise<IdView> {
  const name = checkName(options.name ?? 'me', 'your')
  let store: Store
  try {
    store = await createLevelStore(storeDirectory(options.home), options.passphrase, { argon2: options.argon2 ?? DEFAULT_ARGON2 })
  } catch (err) {
    throw mapOpenError(err, options.home)
  }
  try {
    const identity = IdentityKeyPair.generate()
    const prekeys = LocalPrekeys.generate(identity, { oneTimeCount: 32 })
    const peerKey = await generatePeerKey()
    await store.batch().setIdentity(identity.serialize()).setPrekeys(prekeys.serialize()).setPeerKey(peerKey).setSettings({ name }).commit()
    const key = toHex(identity.publicKey.signingKey)
    return {
      name,
      invite: '',
      peerId: peerIdOfKey(peerKey),
      addresses: [],
      safetyNumber: ownFingerprintDigits(identity.publicKey.signingKey),
      fingerprint: shortFingerprint(key)
    }
  } finally {
    await store.close()
  }
}

/**
 * Changes the passphrase of the data directory in `options.home` (with no daemon running on it): opens the store with
 * `options.passphrase` and rewraps its database key under `newPassphrase` with Argon2id limits `options.argon2` (the
 * defaults unless given). One record changes, in one write (PROTOCOL.md §10.1): a crash leaves the old passphrase or
 * the new one working, never neither.
 */
export async function changePassphrase(options: SottoOptions & { newPassphrase: string }): Promise<void> {
  if (options.newPassphrase === '') throw new BadPassphraseError('the new passphrase must not be empty')
  // A relay's store sealed under the random key of its key file has no passphrase to change.
  if (existsSync(join(options.home, RELAY_KEY_FILE))) {
    throw new BadPassphraseError(`${options.home} is a relay's data directory, sealed under the key in ${RELAY_KEY_FILE}: it has no passphrase`)
  }
  let store: Store
  try {
    store = await openLevelStore(storeDirectory(options.home), options.passphrase, { argon2: options.argon2 })
  } catch (err) {
    throw mapOpenError(err, options.home)
  }
  try {
    await store.changePassphrase(options.newPassphrase, options.argon2 ?? DEFAULT_ARGON2)
  } finally {
    await store.close()
  }
}

/** Options of openSotto beyond the public ones (tests shorten timers). */
export interface OpenOptions extends SottoOptions {
  timings?: Partial<SottoTimings>
}

/** Unlocks the store in `options.home`, starts the node and returns the running app. */
export async function openSotto(options: OpenOptions): Promise<SottoApp & Sotto> {
  let store: Store
  try {
    store = await openLevelStore(storeDirectory(options.home), options.passphrase, { argon2: options.argon2 })
  } catch (err) {
    throw mapOpenError(err, options.home)
  }
  let node: SottoNode | undefined
  try {
    const identityBytes = await store.getIdentity()
    const prekeyBytes = await store.getPrekeys()
    if (identityBytes === undefined || prekeyBytes === undefined) throw new NotInitialisedError(options.home)
    const identity = IdentityKeyPair.deserialize(identityBytes)
    const prekeys = LocalPrekeys.deserialize(prekeyBytes)
    const settings = (await store.getSettings()) ?? {}
    const name = typeof settings['name'] === 'string' ? settings['name'] : 'me'
    node = await createSottoNode({
      peerKey: await store.getPeerKey(),
      listen: options.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      bootstrap: options.bootstrap ?? [],
      mdns: options.mdns ?? true,
      peerStorePath: join(options.home, 'peers'),
      records: sottoRecordTypes()
    })
    await node.start()
    const app = new Sotto({ home: options.home, store, node, identity, prekeys, name, timings: options.timings })
    await app.start()
    return app
  } catch (err) {
    await node?.stop().catch(() => undefined)
    await store.close().catch(() => undefined)
    throw err
  }
}
