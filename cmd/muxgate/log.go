package main

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rs/zerolog"
)

func parseLevel(s string) (zerolog.Level, error) {
	switch s {
	case "debug", "info", "warn", "error":
		return zerolog.ParseLevel(s)
	}
	return zerolog.NoLevel, fmt.Errorf("-log-level must be debug, info, warn or error, not %q", s)
}

// logTimeFormat is the time of the process log's and the access log's lines: RFC 3339 with
// milliseconds. zerolog's default, whole seconds, left the console format's milliseconds at .000
// and could not order the lines of one second.
const logTimeFormat = "2006-01-02T15:04:05.000Z07:00"

// newLogger writes the process log to stderr: JSON, or console lines when asked or when stderr
// is a terminal. It sets the time format of every logger (zerolog.TimeFieldFormat).
func newLogger(o *options) zerolog.Logger {
	zerolog.TimeFieldFormat = logTimeFormat
	level, _ := parseLevel(o.logLevel)
	var w io.Writer = os.Stderr
	if o.logFormat == "console" || (o.logFormat == "" && isTerminal(os.Stderr)) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}
	}
	// The process ID tells apart the lines of an old and a new process during an upgrade.
	return zerolog.New(w).Level(level).With().Timestamp().Int("pid", os.Getpid()).Logger()
}

// newAccessLog opens the access log: standard output for -, nothing for off, else a file
// appended to, which SIGUSR1 reopens. With flush above 0, lines are buffered (bufferedLog) and a
// failed write is reported to log. The returned closer writes out what is buffered and closes
// the file, if any.
func newAccessLog(path string, flush time.Duration, log zerolog.Logger) (zerolog.Logger, io.Closer, error) {
	var w io.Writer = os.Stdout
	var file io.Closer = io.NopCloser(nil)
	var reopen *logFile
	switch path {
	case "off":
		reopenOnUSR1(nil, log)
		return zerolog.Logger{}, file, nil
	case "-", "":
	default:
		f, err := openLogFile(path)
		if err != nil {
			return zerolog.Logger{}, nil, fmt.Errorf("-access-log: %w", err)
		}
		w, file, reopen = f, f, f
	}
	reopenOnUSR1(reopen, log)
	if flush == 0 {
		return zerolog.New(w).With().Timestamp().Logger(), file, nil
	}
	b := newBufferedLog(w, flush, writeErrors(log))
	closer := closerFunc(func() error {
		b.Close()
		return file.Close()
	})
	return zerolog.New(b).With().Timestamp().Logger(), closer, nil
}

// writeErrors reports each failed access-log write to log, once until the error changes.
// bufferedLog calls it with its lock held, one call at a time.
func writeErrors(log zerolog.Logger) func(error) {
	var last string
	return func(err error) {
		if err.Error() != last {
			last = err.Error()
			log.Error().Err(err).Msg("access log: write failed, its lines are lost")
		}
	}
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
