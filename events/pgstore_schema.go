package events

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// The PostgreSQL store's schema, created and migrated by the app itself:
// rd_schema holds the version the tables are at, and each step below
// takes the tables from one version to the next. Every table is named
// rd_*, so the log can share a database with other things.
//
// rd_events holds the envelopes as the Badger store holds them: the data
// in its canonical bytes (bytea: the hash covers those bytes exactly), the
// time as Unix nanoseconds (a timestamptz keeps microseconds, which would
// change the canonical bytes). rd_head is one row, the end of the log and
// its counts: every append locks it, which orders appends from every
// process into one gap-free sequence of positions.
var pgMigrations = []string{
	// 1: the log.
	`CREATE TABLE rd_events (
		position       bigint PRIMARY KEY,
		stream         text    NOT NULL,
		version        bigint  NOT NULL,
		type           text    NOT NULL,
		schema         integer NOT NULL,
		time_ns        bigint  NOT NULL,
		actor          text    NOT NULL,
		correlation_id text    NOT NULL,
		causation_id   text    NOT NULL,
		data           bytea   NOT NULL,
		prev_hash      text    NOT NULL,
		hash           text    NOT NULL,
		UNIQUE (stream, version)
	);
	CREATE TABLE rd_head (
		id            integer PRIMARY KEY CHECK (id = 1),
		position      bigint NOT NULL,
		hash          text   NOT NULL,
		last_time_ns  bigint NOT NULL,
		first_time_ns bigint NOT NULL,
		event_count   bigint NOT NULL,
		bytes         bigint NOT NULL,
		streams       bigint NOT NULL
	);
	INSERT INTO rd_head VALUES (1, 0, '` + GenesisHash + `', 0, 0, 0, 0, 0);`,
	// 2: what a server keeps beside the log (pgstore_state.go).
	`CREATE TABLE rd_state (
		name    text PRIMARY KEY,
		value   bytea,
		updated timestamptz NOT NULL DEFAULT now()
	);`,
	// 3: leases: which instance holds a piece of work (pgstore_lease.go);
	// and the state's values kept uncompressed: the read models' checkpoint
	// is tens of MB read at every start, where unpacking cost more than
	// the bytes it saved.
	`CREATE TABLE rd_leases (
		name    text PRIMARY KEY,
		holder  text        NOT NULL,
		expires timestamptz NOT NULL
	);
	ALTER TABLE rd_state ALTER COLUMN value SET STORAGE EXTERNAL;`,
}

// PgSchemaVersion is the schema this program writes.
var PgSchemaVersion = len(pgMigrations)

// ErrSchemaNewer is a database migrated by a newer Release Desk: this one
// would misread it.
var ErrSchemaNewer = errors.New("events: the database's schema is newer than this program's")

// pgMigrateLock keys the advisory lock two instances starting at once
// migrate under: one migrates, the other then finds it done.
const pgMigrateLock = 0x52444d49 // "RDMI"

// migrate brings the tables to PgSchemaVersion, in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return pgError("begin the schema's migration", err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, pgMigrateLock); err != nil {
		return pgError("lock the schema", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS rd_schema (version integer NOT NULL)`); err != nil {
		return pgError("create rd_schema", err)
	}
	var version int
	err = tx.QueryRow(ctx, `SELECT version FROM rd_schema`).Scan(&version)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		if _, err := tx.Exec(ctx, `INSERT INTO rd_schema VALUES (0)`); err != nil {
			return pgError("create rd_schema", err)
		}
	case err != nil:
		return pgError("read the schema's version", err)
	}
	if version > PgSchemaVersion {
		return fmt.Errorf("%w: it is at version %d, this program knows up to %d: run a newer Release Desk", ErrSchemaNewer, version, PgSchemaVersion)
	}
	for v := version; v < PgSchemaVersion; v++ {
		if _, err := tx.Exec(ctx, pgMigrations[v]); err != nil {
			return pgError(fmt.Sprintf("migrate the schema to version %d", v+1), err)
		}
	}
	if _, err := tx.Exec(ctx, `UPDATE rd_schema SET version = $1`, PgSchemaVersion); err != nil {
		return pgError("record the schema's version", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return pgError("commit the schema's migration", err)
	}
	return nil
}

// pgError says what the store was doing when PostgreSQL refused, with the
// reason an operator can act on (no rights, no database) named first.
func pgError(doing string, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		switch pe.Code {
		case "42501": // insufficient_privilege
			return fmt.Errorf("events: %s: the database user may not do this (%s): grant it CREATE and the use of the database's tables: %w", doing, pe.Message, err)
		case "3D000": // invalid_catalog_name
			return fmt.Errorf("events: %s: no such database (%s): create it first: %w", doing, pe.Message, err)
		case "28P01", "28000": // invalid_password, invalid_authorization_specification
			return fmt.Errorf("events: %s: PostgreSQL refused the login (%s): %w", doing, pe.Message, err)
		}
	}
	return fmt.Errorf("events: %s: %w", doing, err)
}
