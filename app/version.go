package app

// Version is the product version, set at build time with
// -ldflags "-X releasedesk/app.Version=...".
var Version = "0.1.0-dev"
