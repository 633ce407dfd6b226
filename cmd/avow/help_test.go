package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// allCommands returns root and every command under it.
func allCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		out = append(out, allCommands(c)...)
	}
	return out
}

// emptyDefault: pflag prints "(default [])" for a slice or map flag whose
// default is an empty but non-nil value; such a default says nothing.
var emptyDefault = regexp.MustCompile(`\(default (\[\]|map\[\]|""|\{\})\)`)

// TestHelpDefaultsSaidOnce scans every command's help: no flag shows its
// default twice (a "(default ...)" in the usage string and pflag's own),
// none shows an empty default, and no usage string has a backquoted phrase
// (pflag takes it for the value's name: "--defect avow sim defects").
func TestHelpDefaultsSaidOnce(t *testing.T) {
	root := newRootCmd()
	for _, c := range allCommands(root) {
		help := c.UsageString()
		for _, line := range strings.Split(help, "\n") {
			if n := strings.Count(line, "(default"); n > 1 {
				t.Errorf("%s: a default is said %d times:\n%s", c.CommandPath(), n, line)
			}
			if emptyDefault.MatchString(line) {
				t.Errorf("%s: an empty default is shown:\n%s", c.CommandPath(), line)
			}
		}
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if name, _ := pflag.UnquoteUsage(f); strings.ContainsAny(name, " '") {
				t.Errorf("%s --%s: the usage has a backquoted phrase, which pflag prints as the value's name (--%s %s): %q", c.CommandPath(), f.Name, f.Name, name, f.Usage)
			}
		})
	}
}

// TestArgsUsageLine: every command that takes a fixed number of arguments
// says which command refused them and prints its usage line (it used to say
// only "accepts 1 arg(s), received 0").
func TestArgsUsageLine(t *testing.T) {
	checked := 0
	for _, c := range allCommands(newRootCmd()) {
		if c.Args == nil || c.HasSubCommands() {
			continue
		}
		path := strings.Fields(c.CommandPath())[1:]
		for _, n := range []int{0, 7} {
			args := make([]string, n)
			for i := range args {
				args[i] = "x"
			}
			if c.Args(c, args) == nil {
				continue
			}
			checked++
			code, out, errOut := runAvow(t, append(append([]string{}, path...), args...)...)
			want := "avow: " + strings.Join(path, " ") + ": "
			if code != 2 || !strings.HasPrefix(errOut, want) || !strings.Contains(errOut, "\nusage: "+c.UseLine()) { // UseLine adds [flags] once run
				t.Errorf("avow %s with %d arguments: exit %d\nstdout: %s\nstderr: %s\nwant %q ... usage: %s", strings.Join(path, " "), n, code, out, errOut, want, c.UseLine())
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d argument checks ran", checked)
	}
}
