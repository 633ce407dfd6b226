package main

import (
	"io"
	"os"
)

// maxInput bounds what the CLI reads from standard input.
const maxInput = 64 << 20

func readAllStdin() ([]byte, error) { return io.ReadAll(io.LimitReader(os.Stdin, maxInput)) }
