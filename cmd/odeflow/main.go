package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// version is recorded in the model files the command writes.
const version = "0.1.0-dev"

// Exit statuses.
const (
	exitOK          = 0
	exitError       = 1   // a runtime or data error
	exitUsage       = 2   // a usage error: unknown command or flag, missing or conflicting flags
	exitInterrupted = 130 // training stopped by SIGINT or SIGTERM after writing the best model so far
)

// command is one subcommand.
type command struct {
	name    string
	summary string
	// run parses args and does the work; stdout receives results and
	// help, stderr progress.
	run func(ctx context.Context, env *env, args []string) error
}

// env holds the command's streams.
type env struct {
	stdout, stderr io.Writer
	// tty reports whether stderr is a terminal (progress is shown).
	tty bool
}

var commands []*command

func init() {
	commands = []*command{
		{"data", "write a built-in 2-D toy data set to a .npy file", runData},
		{"train", "train a flow on a .npy file and write a model file", runTrain},
		{"logprob", "log-density of every row of a .npy file", runLogProb},
		{"sample", "draw samples from a model", runSample},
		{"encode", "map data to the base space (forward transform)", runEncode},
		{"decode", "map base points to data space (inverse transform)", runDecode},
		{"plot", "picture of a 2-D model: data, samples, density, trajectories", runPlot},
		{"info", "describe a model file", runInfo},
		{"demo", "train a small CNF on a toy set; write samples and a picture", runDemo},
	}
}

// usageError is an error in the command line (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{fmt.Sprintf(format, args...)}
}

// interrupted is the error of a training run stopped by a signal after
// the model was written (exit status 130).
type interrupted struct{ msg string }

func (e *interrupted) Error() string { return e.msg }

func main() {
	isTTY := false
	if fi, err := os.Stderr.Stat(); err == nil && fi.Mode()&os.ModeCharDevice != 0 {
		isTTY = true
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, &env{stdout: os.Stdout, stderr: os.Stderr, tty: isTTY}, os.Args[1:])
	stop()
	os.Exit(code)
}

// run executes the command line args (without the program name) and
// returns the exit status.
func run(ctx context.Context, e *env, args []string) int {
	if len(args) == 0 {
		mainUsage(e.stderr)
		return exitUsage
	}
	name := args[0]
	switch name {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && name == "help" {
			if c := lookup(args[1]); c != nil {
				return finish(e, c.name, c.run(ctx, e, []string{"--help"}))
			}
		}
		mainUsage(e.stdout)
		return exitOK
	case "-version", "--version", "version":
		fmt.Fprintln(e.stdout, "odeflow", version)
		return exitOK
	}
	c := lookup(name)
	if c == nil {
		fmt.Fprintf(e.stderr, "odeflow: unknown command %q (run 'odeflow --help' for the list)\n", name)
		return exitUsage
	}
	return finish(e, c.name, protect(func() error { return c.run(ctx, e, args[1:]) }))
}

// protect runs f and turns a panic, which would be a bug in odeflow, into
// an error, so that the command still ends with one line on stderr.
func protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("internal error (please report it): %v", r)
		}
	}()
	return f()
}

// finish prints err as one line and maps it to an exit status.
func finish(e *env, name string, err error) int {
	if err == nil || errors.Is(err, errHelp) {
		return exitOK
	}
	msg := strings.Join(strings.Fields(strings.ReplaceAll(err.Error(), "\n", "; ")), " ")
	var ue *usageError
	var ie *interrupted
	code := exitError
	switch {
	case errors.As(err, &ue):
		msg += fmt.Sprintf(" (see 'odeflow %s --help')", name)
		code = exitUsage
	case errors.As(err, &ie):
		code = exitInterrupted
	}
	fmt.Fprintf(e.stderr, "odeflow %s: %s\n", name, msg)
	return code
}

func lookup(name string) *command {
	for _, c := range commands {
		if c.name == name {
			return c
		}
	}
	return nil
}

func mainUsage(w io.Writer) {
	fmt.Fprint(w, `odeflow trains and uses normalizing flows (continuous and discrete) on NumPy .npy files.

Usage:
	odeflow <command> [flags]

Commands:
`)
	for _, c := range commands {
		fmt.Fprintf(w, "\t%-8s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
Run 'odeflow <command> --help' for the flags of a command.
Exit status: 0 success, 1 runtime or data error, 2 usage error,
130 training interrupted (the best model so far was written).
`)
}

// flags is a command's flag set with its help text.
type flags struct {
	*flag.FlagSet
	usage string // synopsis and description, printed before the flag list
}

// newFlags returns a flag set for a command whose help text is usage
// followed by the flag list.
func newFlags(name, usage string) *flags {
	fs := flag.NewFlagSet("odeflow "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	return &flags{fs, usage}
}

// errHelp is returned by parse after printing the help text.
var errHelp = errors.New("help")

// parse parses args; --help prints the help text to stdout and returns
// errHelp. Positional arguments are a usage error.
func parse(e *env, fs *flags, args []string) error {
	err := fs.Parse(args)
	if errors.Is(err, flag.ErrHelp) {
		printHelp(e.stdout, fs)
		return errHelp
	}
	if err != nil {
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q (flags take the form --name value)", fs.Arg(0))
	}
	return nil
}

func printHelp(w io.Writer, fs *flags) {
	fmt.Fprint(w, strings.TrimSpace(fs.usage))
	fmt.Fprint(w, "\n\nFlags:\n")
	var lines []string
	fs.VisitAll(func(f *flag.Flag) {
		typ, help := flag.UnquoteUsage(f)
		head := "  --" + f.Name
		if typ != "" {
			head += " " + typ
		}
		def := ""
		if f.DefValue != "" && f.DefValue != "0" && f.DefValue != "false" {
			def = fmt.Sprintf(" (default %s)", f.DefValue)
		}
		lines = append(lines, fmt.Sprintf("%s\n    \t%s%s", head, help, def))
	})
	sort.Strings(lines)
	fmt.Fprintln(w, strings.Join(lines, "\n"))
}

// visited returns the names of the flags set on the command line.
func visited(fs *flags) map[string]bool {
	m := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { m[f.Name] = true })
	return m
}

// required checks that the named string flags are not empty.
func required(fs *flags, names ...string) error {
	for _, n := range names {
		if fs.Lookup(n).Value.String() == "" {
			return usagef("--%s is required", n)
		}
	}
	return nil
}
