//go:build !windows

package cli

// AttachConsole does nothing off Windows: a process started from a
// terminal has it already (see console_windows.go).
func AttachConsole() {}
