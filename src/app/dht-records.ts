/** The DHT record types every sotto node (user or relay) validates and selects (docs/PROTOCOL.md §13). */
import type { RecordType } from '../node/index.js'
import {
  PEER_RECORD_NAMESPACE,
  PREKEY_RECORD_NAMESPACE,
  selectPeerRecord,
  selectPrekeyRecord,
  validatePeerRecord,
  validatePrekeyRecord
} from '../protocol/index.js'

/** Prekey records (§13.1) and peer records (§13.13), by namespace, for `createSottoNode({ records })`. */
export function sottoRecordTypes(): Record<string, RecordType> {
  return {
    [PREKEY_RECORD_NAMESPACE]: {
      validate: (key, value) => {
        validatePrekeyRecord(key, value)
      },
      select: (key, values) => selectPrekeyRecord(key, values)
    },
    [PEER_RECORD_NAMESPACE]: {
      validate: (key, value) => {
        validatePeerRecord(key, value)
      },
      select: (key, values) => selectPeerRecord(key, values)
    }
  }
}
