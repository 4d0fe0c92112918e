// Package events owns Release Desk's single source of truth: an append-only,
// hash-chained event log stored on Badger, or on PostgreSQL for a team's
// server. It knows nothing of releases,
// users or hosts: the vocabulary (events/catalog) gives meaning to the
// events it keeps.
//
//   - Envelope is one stored event: global position, stream and version,
//     type and schema, time, actor, correlation ids, JSON data, and the hash
//     chain (PrevHash, Hash).
//   - Store is the durable log on disk: Append with an expected stream
//     version and group commit, ReadStream, ReadAll, Subscribe, Stats.
//   - StreamHead gives a stream's version and last hash without reading the
//     stream (one index seek in the Store): what a caller that decides and
//     then appends at the expected version needs. Every Reader has it.
//   - PgStore is the same log on PostgreSQL (OpenPostgres): the tables are
//     created and migrated by the store, each append locks the head row so
//     positions stay gap-free across processes, and LISTEN/NOTIFY (with a
//     poll behind it) brings another instance's commits to this one's
//     subscriptions. The conformance suite runs on Store, PgStore and
//     MemStore alike; package pgtest runs a real PostgreSQL for tests.
//   - MemStore is the same log in memory, used by tests and to serve an
//     exported archive read-only (OpenArchive).
//   - Verify walks a log and names the first position where the chain breaks.
//   - Copy moves a whole log, as stored, into an empty Store or PgStore (an
//     Importer), verifying the chain as it reads: the target ends complete
//     or empty.
//   - ExportJSONL and ExportCSV write the log for offline review; Formatters
//     fill the CSV's summary column per event type.
//   - Upcasters lift old event schemas one step at a time on read.
package events
