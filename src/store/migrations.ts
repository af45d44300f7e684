/**
 * Schema versions of the store (docs/PROTOCOL.md §10.6). A migration upgrades `from` to `from + 1`; the
 * version records are rewritten in the same atomic batch as the migration's own writes.
 */
import type { Migration } from './types.js'

/** The schema version this code writes and reads. */
export const SCHEMA_VERSION = 1

/** Built-in migrations, one per older version (none yet: version 1 is the first). */
export const BUILTIN_MIGRATIONS: Migration[] = []
