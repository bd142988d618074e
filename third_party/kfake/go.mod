// Patched copy of github.com/twmb/franz-go/pkg/kfake
// v0.0.0-20260918054303-01f206a7e32c; see PATCHES.md. Changed here: the
// franz-go and kmsg requirements, raised to the versions whose APIs this
// kfake version calls (kversion's EachSupportedFeature is not in franz-go
// v1.21.7, so upstream's go.mod does not build on its own), and tidied
// without the test files this copy leaves out.

module github.com/twmb/franz-go/pkg/kfake

go 1.26.0

require (
	github.com/twmb/franz-go v1.22.2
	github.com/twmb/franz-go/pkg/kmsg v1.15.0
)

require (
	github.com/klauspost/compress v1.20.3 // indirect
	github.com/pierrec/lz4/v4 v4.1.33 // indirect
)
