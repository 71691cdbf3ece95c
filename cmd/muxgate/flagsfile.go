package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
)

// readFlagsFile reads the flags of -flags-file: one per line, "-name value" or "-name" alone
// (a bool), blank lines and lines that begin with # left out. The value is the rest of the
// line, spaces and all, less those around it. It returns them as arguments ("-name=value"),
// which the command line's follow. The file names no -flags-file of its own.
func readFlagsFile(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("-flags-file: %w", err)
	}
	args, err := flagsFromLines(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("-flags-file %s: %w", path, err)
	}
	return args, nil
}

// flagsFromLines is readFlagsFile's reading of the file's content.
func flagsFromLines(r io.Reader) ([]string, error) {
	var args []string
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		arg := line // -name, or -name=value
		if i := strings.IndexFunc(line, unicode.IsSpace); i >= 0 && !strings.Contains(line[:i], "=") {
			arg = line[:i] + "=" + strings.TrimSpace(line[i+1:])
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-"), "=")
		if arg[0] != '-' || name == "" || strings.HasPrefix(name, "-") {
			return nil, fmt.Errorf("line %d: %q is not -name or -name value", n, line)
		}
		if name == "flags-file" {
			return nil, fmt.Errorf("line %d: a -flags-file in a flags file", n)
		}
		args = append(args, arg)
	}
	return args, sc.Err()
}
