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
	"strings"
	"syscall"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/eddy-streams/eddy/config"
	"github.com/eddy-streams/eddy/internal/cli"
	"github.com/eddy-streams/eddy/internal/conn"
)

// Main runs the app's command line: the subcommand named by os.Args[1]
// (worker, broker, produce, consume, topics, and the app's own). SIGINT and
// SIGTERM stop it gracefully; a second signal kills it. Main does not
// return: it exits 0 on success, 1 on failure and 2 on a usage error.
func Main(app *App) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// After the first signal, restore the default so a second one kills.
	context.AfterFunc(ctx, stop)
	code := runCLI(ctx, app, os.Args[1:], cli.IO{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Environ: os.Environ()})
	stop()
	os.Exit(code)
}

// runCLI runs one subcommand and returns the process exit code.
func runCLI(ctx context.Context, app *App, args []string, io cli.IO) int {
	return cli.Run(ctx, app.name, app.commandTable(), args, io)
}

// commandTable is the worker, the tools, then the app's own commands.
func (a *App) commandTable() []cli.Command {
	tools := cli.Env{App: a.name, Topics: a.Topics(), Sources: a.SourceTopics(), Declared: a.declaredTopics(), Patterns: a.Patterns(), Parse: a.parseCluster}
	cmds := append([]cli.Command{{Name: "worker", Summary: "run the app as a worker of its consumer group", Run: a.cmdWorker}},
		tools.Commands()...)
	for _, c := range a.commands {
		run := c.run
		cmds = append(cmds, cli.Command{Name: c.name, Summary: c.summary,
			Run: func(ctx context.Context, args []string, _ cli.IO) error { return run(ctx, args) }})
	}
	return cmds
}

// builtinCommand reports whether name is a subcommand every binary has.
func builtinCommand(name string) bool {
	if name == "worker" {
		return true
	}
	for _, c := range (cli.Env{}).Commands() {
		if c.Name == name {
			return true
		}
	}
	return false
}

// keepFor returns which settings the command's flags cover, nil for all
// (the worker): a tool's -h lists only the flags of the settings it
// reads. Patterns with a trailing "." cover the keys below them.
func keepFor(command string) func(key string) bool {
	if command == "worker" {
		return nil
	}
	// Every tool that talks to a cluster connects as the worker does.
	connect := []string{"brokers", "client_id", "connect_timeout", "security_protocol", "tls.", "sasl.", "log_level", "log_format"}
	var patterns []string
	switch command {
	case "broker":
		patterns = []string{"topics.", "log_level", "log_format"}
	case "produce":
		patterns = append(connect, "producer.")
	case "topics":
		patterns = append(connect, "topics.")
	case "lag":
		patterns = append(connect, "group")
	default:
		patterns = connect
	}
	return func(key string) bool {
		for _, p := range patterns {
			if key == p || strings.HasSuffix(p, ".") && strings.HasPrefix(key, p) {
				return true
			}
		}
		return false
	}
}

// parseConfig parses a subcommand's flags and resolves its Config.
func (a *App) parseConfig(fs *flag.FlagSet, args, environ []string) (Config, error) {
	l := config.Bind(fs, a.name, keepFor(fs.Name()))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, err
		}
		return Config{}, fmt.Errorf("%w: %v", cli.ErrUsage, err)
	}
	return l.Load(environ)
}

// parseCluster resolves the settings the tools need.
func (a *App) parseCluster(fs *flag.FlagSet, args, environ []string) (cli.Cluster, error) {
	cfg, err := a.parseConfig(fs, args, environ)
	if err != nil {
		return cli.Cluster{}, err
	}
	produce, err := producer(cfg).Options()
	if err != nil {
		return cli.Cluster{}, fmt.Errorf("runtime: %w", err)
	}
	sec, err := cfg.Security()
	if err != nil {
		return cli.Cluster{}, err
	}
	var warnings []string
	if sec.Insecure() {
		warnings = append(warnings, conn.InsecureWarning)
	}
	return cli.Cluster{
		Producer:       produce,
		Brokers:        cfg.Brokers,
		Client:         append([]kgo.Opt{kgo.ClientID(cfg.ClientID)}, sec.Options()...),
		Explain:        sec.Explain,
		Warnings:       warnings,
		Partitions:     cfg.TopicPartitions,
		Replication:    cfg.TopicReplication,
		Group:          cfg.Group,
		ConnectTimeout: cfg.ConnectTimeout,
	}, nil
}

func (a *App) cmdWorker(ctx context.Context, args []string, io cli.IO) error {
	fs := cli.NewFlagSet("worker", io)
	cfg, err := a.parseConfig(fs, args, io.Environ)
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %q", cli.ErrUsage, fs.Args())
	}
	logger := a.logger
	if logger == nil {
		logger = newLogger(io.Err, cfg)
	}
	return a.run(ctx, cfg, logger)
}

// newLogger is the default logger: cfg.LogFormat lines at cfg.LogLevel.
func newLogger(w io.Writer, cfg Config) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
