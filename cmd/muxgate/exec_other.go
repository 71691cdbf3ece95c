//go:build !unix

package main

import "errors"

// execAgain cannot execute the program in place here.
func execAgain() error { return errors.New("executing again: not supported on this system") }
