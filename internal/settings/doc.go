// Package settings resolves a configuration struct from layered sources:
// defaults, a YAML file, environment variables and command-line flags, in
// increasing precedence. It is generic over the struct: the caller hands it
// a Table, one Setting per field, and that one table drives every layer,
// the flag usage, the validation of values set in code, and the Markdown
// reference. Adding a setting is adding an entry to the table.
//
// Errors name where a bad value came from (the file and key, the variable,
// the flag) and what was expected, and suggest the nearest known name for
// a misspelt key or variable. Every problem found is reported at once.
//
// The package knows nothing of Eddy's settings: package runtime owns its
// Config and the table that describes it.
package settings
