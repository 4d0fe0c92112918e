package projections

import "errors"

var (
	// ErrMalformed marks an event whose data the fold could not read. The
	// event is skipped (its position still counts as applied): one bad
	// event must not stop a replay. Set counts them (Set.Skipped).
	ErrMalformed = errors.New("projections: malformed event data")
	// ErrCheckpointVersion: the checkpoint was written by another
	// ProjectionVersion; rebuild from the log.
	ErrCheckpointVersion = errors.New("projections: checkpoint of another projection version")
	// ErrCheckpointMismatch: the log's event at the checkpoint's position is
	// missing or has another hash (the log was replaced); rebuild.
	ErrCheckpointMismatch = errors.New("projections: checkpoint does not match the log")
	// ErrCheckpointCorrupt: the checkpoint cannot be read (truncated,
	// damaged, not a checkpoint); rebuild.
	ErrCheckpointCorrupt = errors.New("projections: checkpoint unreadable")
)
