// Command avow is the attestation service and its tools.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/avowhq/avow/errs"
)

// exitError carries a process exit code through cobra when the command has
// already written its output (for example a JSON result with "result": "...").
type exitError struct{ code int }

func (e exitError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// commands holds the constructors of the top-level command groups; each
// group's file appends its own in an init function, so groups stay independent.
var commands []func() *cobra.Command

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "avow",
		Short:         "avow is a self-hosted attestation service for Intel SGX enclaves, TDX VMs and AMD SEV-SNP VMs",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	for _, add := range commands {
		root.AddCommand(add())
	}
	withUsageLines(root)
	return root
}

// withUsageLines wraps the argument check of c and every command under it:
// a wrong number of arguments names the command and prints its usage line,
// not only cobra's "accepts 1 arg(s), received 0".
func withUsageLines(c *cobra.Command) {
	if check := c.Args; check != nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return fmt.Errorf("%s: %w\nusage: %s", strings.TrimPrefix(cmd.CommandPath(), cmd.Root().Name()+" "), err, cmd.UseLine())
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		withUsageLines(sub)
	}
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes the CLI and returns the process exit code: the code a command
// chose through exitError, or 2 for usage errors and unreadable input.
func run(args []string, stdout, stderr *os.File) int {
	root := newRootCmd()
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	fmt.Fprintln(stderr, "avow:", errs.Text(err))
	return 2
}
