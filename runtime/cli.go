package runtime

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// Main runs the app's command line: the subcommand named by os.Args[1]
// (worker, broker, produce, consume, topics). SIGINT and SIGTERM stop it
// gracefully; a second signal kills it. Main does not return: it exits 0 on
// success, 1 on failure and 2 on a usage error.
func Main(app *App) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default so a second one kills.
	context.AfterFunc(ctx, stop)
	code := runCLI(ctx, app, os.Args[1:], cliIO{in: os.Stdin, out: os.Stdout, err: os.Stderr, environ: os.Environ()})
	stop()
	os.Exit(code)
}

// cliIO is what a subcommand reads and writes, passed in so tests run the
// CLI in-process.
type cliIO struct {
	in      io.Reader
	out     io.Writer
	err     io.Writer
	environ []string
}

// command is one subcommand of an app binary.
type command struct {
	name    string
	summary string
	run     func(ctx context.Context, app *App, args []string, io cliIO) error
}

func commands() []command {
	return []command{
		{"worker", "run the app as a worker of its consumer group", cmdWorker},
		{"broker", "run a standalone embedded Kafka-protocol broker for development", cmdBroker},
		{"produce", "produce key<TAB>value lines from stdin to a topic", cmdProduce},
		{"consume", "print a topic's records as key<TAB>value lines", cmdConsume},
		{"topics", "create the app's topics (topics create) or list the cluster's (topics list)", cmdTopics},
	}
}

// errUsage marks an error as a usage error (exit code 2).
var errUsage = errors.New("usage")

// runCLI runs one subcommand and returns the process exit code.
func runCLI(ctx context.Context, app *App, args []string, io cliIO) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(app, io.err)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range app.allCommands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, app, args[1:], io)
		switch {
		case err == nil || errors.Is(err, flag.ErrHelp):
			return 0
		case errors.Is(err, errUsage):
			fmt.Fprintf(io.err, "%s %s: %v\n", app.name, c.name, err)
			return 2
		default:
			fmt.Fprintf(io.err, "%s %s: %v\n", app.name, c.name, err)
			return 1
		}
	}
	fmt.Fprintf(io.err, "%s: unknown command %q\n", app.name, args[0])
	usage(app, io.err)
	return 2
}

func usage(app *App, w io.Writer) {
	fmt.Fprintf(w, "usage: %s <command> [flags]\n\ncommands:\n", binaryName())
	for _, c := range app.allCommands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "\nRun '%s <command> -h' for a command's flags. App: %s.\n", binaryName(), app.name)
}

// newFlagSet returns a flag set for a subcommand that reports to io.err.
func newFlagSet(name string, io cliIO) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.err)
	return fs
}

// parseConfig parses a subcommand's flags and resolves its Config.
func parseConfig(fs *flag.FlagSet, app *App, args []string, io cliIO) (Config, error) {
	l := bindConfig(fs)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 && fs.Name() != "topics" {
		return Config{}, fmt.Errorf("%w: unexpected arguments %q", errUsage, fs.Args())
	}
	return l.load(app.name, io.environ)
}

func cmdWorker(ctx context.Context, app *App, args []string, io cliIO) error {
	cfg, err := parseConfig(newFlagSet("worker", io), app, args, io)
	if err != nil {
		return err
	}
	logger := app.logger
	if logger == nil {
		logger = newLogger(io.err, cfg)
	}
	return app.run(ctx, cfg, logger)
}

// newLogger is the default logger: cfg.LogFormat lines at cfg.LogLevel.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// allCommands is the built-in subcommands followed by the app's own.
func (a *App) allCommands() []command {
	cs := commands()
	for _, c := range a.commands {
		run := c.run
		cs = append(cs, command{name: c.name, summary: c.summary,
			run: func(ctx context.Context, _ *App, args []string, _ cliIO) error { return run(ctx, args) }})
	}
	return cs
}
