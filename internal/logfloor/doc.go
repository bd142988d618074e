// Package logfloor raises the least level a slog handler passes on, so a
// noisy source (a library's own logging) can share the app's logger
// without its info lines.
package logfloor
