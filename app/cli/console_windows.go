package cli

import (
	"os"

	"golang.org/x/sys/windows"
)

// AttachConsole gives the command line back its terminal on Windows. The
// binary is built for the GUI subsystem (-H windowsgui), so that a
// double-click opens the window without a console beside it; started from
// cmd or PowerShell, it then has no console of its own, and what it
// writes would be lost. Here it takes its parent's console, if there is
// one, for the standard streams the parent did not give it already (a
// redirect to a file or a pipe is kept as it is). Call it first in main.
func AttachConsole() {
	if stdValid(windows.STD_OUTPUT_HANDLE) && stdValid(windows.STD_ERROR_HANDLE) {
		return
	}
	attach := windows.NewLazySystemDLL("kernel32.dll").NewProc("AttachConsole")
	const attachParentProcess = ^uintptr(0) // ATTACH_PARENT_PROCESS, (DWORD)-1
	if ok, _, _ := attach.Call(attachParentProcess); ok == 0 {
		return // double-clicked: the window alone
	}
	if out, err := os.OpenFile("CONOUT$", os.O_WRONLY, 0); err == nil {
		if !stdValid(windows.STD_OUTPUT_HANDLE) {
			os.Stdout = out
		}
		if !stdValid(windows.STD_ERROR_HANDLE) {
			os.Stderr = out
		}
	}
	if !stdValid(windows.STD_INPUT_HANDLE) {
		if in, err := os.OpenFile("CONIN$", os.O_RDONLY, 0); err == nil {
			os.Stdin = in
		}
	}
}

// stdValid says whether the standard handle n leads somewhere.
func stdValid(n uint32) bool {
	h, err := windows.GetStdHandle(n)
	if err != nil || h == 0 || h == windows.InvalidHandle {
		return false
	}
	t, err := windows.GetFileType(h)
	return err == nil && t != windows.FILE_TYPE_UNKNOWN
}
