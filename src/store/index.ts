/** The store layer's public surface (docs/PROTOCOL.md §10). The app imports from here only. */
export {
  InvalidStoreValueError,
  NameTakenError,
  StoreClosedError,
  StoreError,
  StoreExistsError,
  StoreLockedError,
  StoreNotFoundError,
  StoreVersionError,
  TamperedRecordError,
  WrongPassphraseError
} from './errors.js'
export { createLevelStore, LevelStore, openLevelStore, storeDirectory } from './level.js'
export { createMemoryBackend, type MemoryBackend, MemoryStore, openMemoryStore } from './memory.js'
export { SCHEMA_VERSION } from './migrations.js'
export { type Argon2idParams, DEFAULT_ARGON2, TEST_ARGON2 } from '../crypto/atrest.js'
export type * from './types.js'
