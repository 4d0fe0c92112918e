package events

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"releasedesk/events/pgtest"
)

// TestPostgresRefusesWhatItCannotUse: a database the store cannot use is
// refused with the reason an operator acts on, and nothing is written.
func TestPostgresRefusesWhatItCannotUse(t *testing.T) {
	ctx := context.Background()
	srv := pgtest.Start(t)

	t.Run("unreachable", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		_, err = OpenPostgres(ctx, "postgres://rd:s3cret-pw@"+addr+"/rd?sslmode=disable&connect_timeout=3", Options{})
		if err == nil || !strings.Contains(err.Error(), "reach PostgreSQL at postgres://rd:xxxxx@"+addr) {
			t.Fatalf("got %v, want it to say it cannot reach the server, without the password", err)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Fatalf("the password is in the error: %v", err)
		}
	})

	t.Run("no such database", func(t *testing.T) {
		_, err := OpenPostgres(ctx, srv.URL("rd_missing"), Options{})
		if err == nil || !strings.Contains(err.Error(), "no such database") {
			t.Fatalf("got %v, want no such database", err)
		}
	})

	t.Run("no rights", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		role := fmt.Sprintf("rd_reader_%d", srv.Port)
		for _, sql := range []string{
			"DROP ROLE IF EXISTS " + role,
			"CREATE ROLE " + role + " LOGIN",
			"REVOKE CREATE ON SCHEMA public FROM PUBLIC",
		} {
			if err := srv.Exec(dsn, sql); err != nil {
				t.Fatal(err)
			}
		}
		asReader := strings.Replace(dsn, "postgres://postgres@", "postgres://"+role+"@", 1)
		_, err := OpenPostgres(ctx, asReader, Options{})
		if err == nil || !strings.Contains(err.Error(), "may not do this") || !strings.Contains(err.Error(), "grant") {
			t.Fatalf("got %v, want a refusal that names the missing right", err)
		}
	})

	t.Run("a newer schema", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		s, err := OpenPostgres(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		confAppend(t, s, "release/1", NoStream, confEvent("release.created", 1))
		s.Close()
		if err := srv.Exec(dsn, fmt.Sprintf("UPDATE rd_schema SET version = %d", PgSchemaVersion+1)); err != nil {
			t.Fatal(err)
		}
		_, err = OpenPostgres(ctx, dsn, Options{})
		if !errors.Is(err, ErrSchemaNewer) || !strings.Contains(err.Error(), "run a newer Release Desk") {
			t.Fatalf("got %v, want ErrSchemaNewer", err)
		}
		// Nothing was changed: the version is still the newer one.
		if err := srv.Exec(dsn, fmt.Sprintf("DO $$ BEGIN IF (SELECT version FROM rd_schema) <> %d THEN RAISE 'changed'; END IF; END $$", PgSchemaVersion+1)); err != nil {
			t.Fatalf("the refused open changed the schema's version: %v", err)
		}
	})

	t.Run("an older schema is migrated, its log kept", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		s, err := OpenPostgres(ctx, dsn, Options{})
		if err != nil {
			t.Fatal(err)
		}
		confAppend(t, s, "release/1", NoStream, confEvent("release.created", 1))
		s.Close()
		// The database as version 2 left it: no leases yet.
		if err := srv.Exec(dsn, "DROP TABLE rd_leases; UPDATE rd_schema SET version = 2"); err != nil {
			t.Fatal(err)
		}
		s, err = OpenPostgres(ctx, dsn, Options{})
		if err != nil {
			t.Fatalf("open of a version 2 database: %v", err)
		}
		defer s.Close()
		if ok, err := s.TakeLease(ctx, "deploy/d1", "me", time.Minute); err != nil || !ok {
			t.Fatalf("the migrated database's leases: %v %v", ok, err)
		}
		if envs, err := s.ReadStream(ctx, "release/1", 1); err != nil || len(envs) != 1 {
			t.Fatalf("the log after the migration: %d events, %v", len(envs), err)
		}
		if err := srv.Exec(dsn, fmt.Sprintf("DO $$ BEGIN IF (SELECT version FROM rd_schema) <> %d THEN RAISE 'not migrated'; END IF; END $$", PgSchemaVersion)); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("two instances migrating at once", func(t *testing.T) {
		dsn := srv.NewDatabase(t)
		errs := make(chan error, 4)
		for range 4 {
			go func() {
				s, err := OpenPostgres(ctx, dsn, Options{})
				if err == nil {
					s.Close()
				}
				errs <- err
			}()
		}
		for range 4 {
			if err := <-errs; err != nil {
				t.Fatalf("a concurrent first open failed: %v", err)
			}
		}
	})
}
