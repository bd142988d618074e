package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// IO is what a subcommand reads and writes, passed in so that tests run
// the command line in-process.
type IO struct {
	In      io.Reader
	Out     io.Writer
	Err     io.Writer
	Environ []string // "KEY=VALUE", as os.Environ returns them
}

// Command is one subcommand of a binary.
type Command struct {
	Name    string
	Summary string
	// Run runs the subcommand with the arguments after its name. An error
	// wrapping ErrUsage exits 2, flag.ErrHelp 0, any other error 1.
	Run func(ctx context.Context, args []string, io IO) error
}

// ErrUsage marks an error as a usage error (exit code 2).
var ErrUsage = errors.New("usage")

// UsageErrorf returns a usage error saying what was wrong with the command
// line and how to fix it.
func UsageErrorf(format string, args ...any) error {
	return fmt.Errorf("cli: %w: %s", ErrUsage, fmt.Sprintf(format, args...))
}

// Run runs the subcommand named by args[0] and returns the process exit
// code: 0 on success, 1 on failure, 2 on a usage error. app names the app
// in messages.
func Run(ctx context.Context, app string, cmds []Command, args []string, io IO) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(app, cmds, io.Err)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range cmds {
		if c.Name != args[0] {
			continue
		}
		err := c.Run(ctx, args[1:], io)
		switch {
		case err == nil || errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, ErrUsage):
			fmt.Fprintf(io.Err, "%s %s: %v\n", app, c.Name, err)
			return 2
		default:
			fmt.Fprintf(io.Err, "%s %s: %v\n", app, c.Name, err)
			return 1
		}
	}
	fmt.Fprintf(io.Err, "%s: unknown command %q\n", app, args[0])
	usage(app, cmds, io.Err)
	return 2
}

func usage(app string, cmds []Command, w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", Binary())
	for _, c := range cmds {
		fmt.Fprintf(w, "  %-8s %s\n", c.Name, c.Summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags. App: %s.\n", Binary(), app)
}

// NewFlagSet returns a flag set for a subcommand that reports to io.Err.
func NewFlagSet(name string, io IO) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Err)
	return fs
}

// SetUsage makes fs's -h output start with the subcommand's synopsis and
// what it does.
func SetUsage(fs *flag.FlagSet, synopsis, about string) {
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: %s %s\n\n%s\n\nflags:\n", Binary(), synopsis, about)
		fs.PrintDefaults()
	}
}

// Binary is the name the binary was run as, for messages that tell the
// user what to run.
func Binary() string {
	if len(os.Args) == 0 {
		return "<app>"
	}
	return filepath.Base(os.Args[0])
}
