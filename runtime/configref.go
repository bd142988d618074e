package runtime

import (
	"fmt"
	"strings"
)

// configReference renders the settings table as Markdown for the README: one
// row per setting with its YAML key, environment variable, flag, default and
// description. It reads the same table the loader does, so it cannot drift
// from the code.
func configReference() string {
	var b strings.Builder
	b.WriteString("Settings resolve in this order, later ones winning: defaults, the YAML file named by " +
		"`--config FILE` or `" + envConfig + "`, `EDDY_*` environment variables (an empty one counts as unset), " +
		"command-line flags. Dotted keys such as `handler.max_attempts` are nested mappings in the file " +
		"(`handler: {max_attempts: 5}`).\n\n")
	b.WriteString("| key | env | flag | default | description |\n")
	b.WriteString("| --- | --- | --- | --- | --- |\n")
	for _, s := range configSettings() {
		key, env, flag := s.key, s.env, "--"+s.flag
		if s.kind == mapSetting {
			key += ".<name>"
			env += "<NAME>"
			flag += " " + s.arg
		}
		def := "(empty)"
		switch s.def {
		case "":
		case appNameDefault:
			def = s.def
		default:
			def = "`" + s.def + "`"
		}
		fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s | %s |\n", key, env, flag, def, markdownCell(s.doc))
	}
	return b.String()
}

// markdownCell escapes what would end a table cell early.
func markdownCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// flagUsage puts the argument name in back quotes, which flag.PrintDefaults
// shows after the flag name.
func flagUsage(s setting) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (`%s`", s.doc, s.arg)
	if s.kind == mapSetting {
		b.WriteString(", repeatable")
	}
	if s.def != "" {
		fmt.Fprintf(&b, "; default: %s", s.def)
	}
	env := s.env
	if s.kind == mapSetting {
		env += "<NAME>"
	}
	fmt.Fprintf(&b, "; env: %s)", env)
	return b.String()
}
