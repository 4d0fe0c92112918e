// Package window is Release Desk's desktop window (Wails v2): the same UI
// and API handler as `serve`, with live updates as Wails events. Only the
// desktop build tags pull in Wails and GTK; without them Run refuses, so
// tests and vet need no GTK.
//
//   - Run opens the window and returns when it closes; Built says whether
//     this binary has one; HasDisplay whether one could be shown.
//   - The page asks for a desktop notification with the Wails event
//     NotifyEventName (title, body); the window shows it through the
//     desktop's notification service (beeep), off the UI thread.
package window
