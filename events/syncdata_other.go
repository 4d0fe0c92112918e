//go:build !linux && !darwin

package events

import "os"

// syncData makes a file's written bytes durable. On Windows f.Sync is
// FlushFileBuffers, which also flushes the drive's cache.
func syncData(f *os.File) error { return f.Sync() }
