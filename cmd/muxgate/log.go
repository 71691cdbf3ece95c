package main

import (
	"fmt"
	"io"
	"os"

	"github.com/rs/zerolog"
)

func parseLevel(s string) (zerolog.Level, error) {
	switch s {
	case "debug", "info", "warn", "error":
		return zerolog.ParseLevel(s)
	}
	return zerolog.NoLevel, fmt.Errorf("-log-level must be debug, info, warn or error, not %q", s)
}

// newLogger writes the process log to stderr: JSON, or console lines when asked or when stderr
// is a terminal.
func newLogger(o *options) zerolog.Logger {
	level, _ := parseLevel(o.logLevel)
	var w io.Writer = os.Stderr
	if o.logFormat == "console" || (o.logFormat == "" && isTerminal(os.Stderr)) {
		w = zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: "15:04:05.000"}
	}
	return zerolog.New(w).Level(level).With().Timestamp().Logger()
}

// newAccessLog opens the access log: standard output for -, nothing for off, else a file
// appended to. The returned closer closes the file, if any.
func newAccessLog(path string) (zerolog.Logger, io.Closer, error) {
	switch path {
	case "off":
		return zerolog.Logger{}, io.NopCloser(nil), nil
	case "-", "":
		return zerolog.New(os.Stdout).With().Timestamp().Logger(), io.NopCloser(nil), nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return zerolog.Logger{}, nil, fmt.Errorf("-access-log: %w", err)
	}
	return zerolog.New(f).With().Timestamp().Logger(), f, nil
}

func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
