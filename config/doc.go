// Package config is a worker's settings: Config, with every setting's
// default, YAML key, EDDY_* variable and flag, and the one table that
// drives them all (defaults, the YAML file, the environment, flags, the
// checks of a Config built in code, and the README's reference).
//
// Settings resolve in increasing precedence: defaults, a YAML file (named
// by --config FILE or EDDY_CONFIG), EDDY_* environment variables, flags.
// A program that calls App.Run builds a Config in code: zero fields take
// their defaults. runtime.Config is this Config; the machinery is
// internal/settings.
package config
