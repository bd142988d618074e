// Package layout holds no code: its test checks that every package
// imports only what docs/design.md's package map allows, so the layering
// the design describes stays true.
package layout
