package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

//go:generate go run . docs config -o ../../docs/configuration.md

func init() { commands = append(commands, newDocsCmd) }

func newDocsCmd(*globals) *cobra.Command {
	cmd := &cobra.Command{Use: "docs", Short: "Generate reference documentation from the commands themselves", Hidden: true}
	var out string
	config := &cobra.Command{
		Use:   "config",
		Short: "Write the configuration reference (docs/configuration.md): every command, flag, default and env var",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			// Defaults must not depend on where the generator runs: flags
			// read their defaults from ACCRUE_* variables when the command
			// tree is built, so it is built again without them.
			for _, kv := range os.Environ() {
				if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "ACCRUE_") {
					os.Unsetenv(k)
				}
			}
			var b bytes.Buffer
			writeConfigReference(&b, newRoot())
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(b.Bytes())
				return err
			}
			return os.WriteFile(out, b.Bytes(), 0o644)
		},
	}
	config.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	cmd.AddCommand(config)
	return cmd
}

// envInUsage finds the environment variables a flag's usage names.
var envInUsage = regexp.MustCompile(`\bACCRUE_[A-Z0-9_]+\b`)

// machineDefault is the default of a flag computed from the machine,
// written as what it stands for: flags whose usage says their default is
// "the processors Go may use" (runtime.GOMAXPROCS).
func machineDefault(f *pflag.Flag) (string, bool) {
	if strings.Contains(f.Usage, "the processors Go may use") && f.DefValue == strconv.Itoa(runtime.GOMAXPROCS(0)) {
		return "the number of CPUs Go may use", true
	}
	return "", false
}

// visible are the commands the reference documents: the ones users run.
func visible(c *cobra.Command) bool {
	return !c.Hidden && c.Name() != "help" && c.Name() != "completion"
}

// writeConfigReference writes the Markdown reference of root's command
// tree: the environment variables, the global flags, then each command
// with its flags, defaults, env vars and an example.
func writeConfigReference(w io.Writer, root *cobra.Command) {
	var cmds []*cobra.Command
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, s := range c.Commands() {
			if visible(s) {
				if s.Runnable() {
					cmds = append(cmds, s)
				}
				walk(s)
			}
		}
	}
	walk(root)
	sort.Slice(cmds, func(i, j int) bool { return cmds[i].CommandPath() < cmds[j].CommandPath() })

	fmt.Fprint(w, `# Configuration reference

<!-- Generated from the commands' own flags by 'go generate ./cmd/accrue'
     (accrue docs config); edit the flags in cmd/accrue, not this file.
     A test fails when this file is stale. -->

Every setting of accrue is a flag of the command that uses it. Some flags
also read an environment variable (their default comes from it when it is
set), and secrets are read only from the environment or from files, never
from flags. Durations are Go durations (`+"`1s`, `15m`, `9600h`"+`); lists are
comma separated; flags shown as repeatable are given once per value.

Long-running commands (stages, sinks, servers) log one line when they
start with their version, commit, build time and every flag's effective
value, secrets redacted.

## Environment variables

| variable | flag | commands |
| --- | --- | --- |
`)
	type envUse struct {
		flags map[string]bool
		cmds  []string
	}
	env := map[string]*envUse{}
	note := func(name, flag, cmd string) {
		u := env[name]
		if u == nil {
			u = &envUse{flags: map[string]bool{}}
			env[name] = u
		}
		if flag != "" {
			u.flags["--"+flag] = true
		}
		if len(u.cmds) == 0 || u.cmds[len(u.cmds)-1] != cmd {
			u.cmds = append(u.cmds, cmd)
		}
	}
	for _, c := range append([]*cobra.Command{root}, cmds...) {
		path := strings.TrimPrefix(c.CommandPath(), "accrue ")
		if c == root {
			path = "every command"
		}
		fs := c.LocalFlags()
		if c == root {
			fs = c.PersistentFlags()
		}
		fs.VisitAll(func(f *pflag.Flag) {
			for _, v := range envInUsage.FindAllString(f.Usage, -1) {
				note(v, f.Name, path)
			}
		})
		for _, v := range envInUsage.FindAllString(c.Long, -1) {
			note(v, "", path)
		}
	}
	names := make([]string, 0, len(env))
	for n := range env {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		u := env[n]
		flags := make([]string, 0, len(u.flags))
		for f := range u.flags {
			flags = append(flags, "`"+f+"`")
		}
		sort.Strings(flags)
		flag := strings.Join(flags, ", ")
		if flag == "" {
			flag = "(none: read from the environment only)"
		}
		cs := u.cmds
		if len(cs) > 6 {
			cs = append(cs[:6:6], fmt.Sprintf("and %d more", len(u.cmds)-6))
		}
		fmt.Fprintf(w, "| `%s` | %s | %s |\n", n, flag, strings.Join(cs, ", "))
	}
	fmt.Fprint(w, "\nAn environment file for a deployment (as deploy/k8s/config.yaml sets it):\n\n```sh\n"+
		"ACCRUE_KAFKA_BROKERS=kafka-0:9092,kafka-1:9092,kafka-2:9092\n"+
		"ACCRUE_CLICKHOUSE_ADDR=clickhouse:9000\n"+
		"ACCRUE_CLICKHOUSE_PASSWORD_FILE=/run/secrets/clickhouse-password\n"+
		"ACCRUE_ADMIN_ADDR=:9464\n"+
		"ACCRUE_LOG_LEVEL=info\n```\n")

	fmt.Fprint(w, "\n## Global flags\n\nEvery command takes these.\n\n")
	writeFlags(w, root.PersistentFlags())

	fmt.Fprint(w, "\n## Commands\n\n")
	for _, c := range cmds {
		fmt.Fprintf(w, "- [`%s`](#%s)\n", c.CommandPath(), anchor(c.CommandPath()))
	}
	for _, c := range cmds {
		fmt.Fprintf(w, "\n### %s\n\n%s.\n\n", c.CommandPath(), escapeCell(strings.TrimSuffix(c.Short, ".")))
		if longRunning(c) {
			fmt.Fprint(w, "Runs until stopped (SIGINT or SIGTERM); logs its build and configuration when it starts.\n\n")
		}
		if c.LocalFlags().HasAvailableFlags() {
			writeFlags(w, c.LocalFlags())
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "Example:\n\n```sh\n%s\n```\n", example(c))
	}
}

// anchor is the GitHub heading anchor of a heading's text.
func anchor(s string) string {
	return strings.ReplaceAll(strings.ToLower(s), " ", "-")
}

func writeFlags(w io.Writer, fs *pflag.FlagSet) {
	fmt.Fprint(w, "| flag | default | env | description |\n| --- | --- | --- | --- |\n")
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Hidden || f.Name == "help" {
			return
		}
		name := "`--" + f.Name + "`"
		if f.Shorthand != "" {
			name = "`-" + f.Shorthand + "`, " + name
		}
		varname, usage := pflag.UnquoteUsage(f)
		if strings.HasSuffix(f.Value.Type(), "Array") {
			usage += " (repeatable)"
		}
		def := "`" + f.DefValue + "`"
		if f.DefValue == "" || f.DefValue == "[]" {
			def = "none"
		}
		if text, ok := machineDefault(f); ok {
			def = text
		}
		envs := envInUsage.FindAllString(usage, -1)
		envCol := ""
		for i, e := range envs {
			if i > 0 {
				envCol += ", "
			}
			envCol += "`" + e + "`"
		}
		if varname != "" && f.Value.Type() != "bool" {
			name += " " + varname
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s |\n", name, def, envCol, escapeCell(usage))
	})
}

// escapeCell makes s safe in a Markdown table cell: pipes escaped, no
// line breaks, and <name> not taken for HTML.
func escapeCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}

// examples are the reference's example of each command without an Example
// of its own: typical invocations, checked by a test to parse with the
// binary's flags.
var examples = map[string]string{
	"accrue certificate verify": "ACCRUE_CERTIFICATE_KEY=... accrue certificate verify K7QF-2M9X-PLAT --certificates /var/lib/accrue/certificates",
	"accrue clickhouse migrate": "accrue clickhouse migrate --clickhouse-addr clickhouse:9000 --database accrue",
	"accrue connector run":      "accrue connector run --config connectors/examples/crm-opportunities.yaml --gate connectors/examples/gatekeepers/gate.yaml --input connectors/examples/crm-opportunities.ndjson --out /tmp/crm",
	"accrue contest validate":   "accrue contest validate contests/*.yaml",
	"accrue demo":               "accrue demo --duration 30s",
	"accrue dlq export":         "accrue dlq export --topic sales.rejected --reason invalid_amount -o fix.jsonl",
	"accrue dlq replay":         "accrue dlq replay --topic sales.rejected --reason unknown_rep --dry-run",
	"accrue import":             "accrue import --source raw.pos=pos.yaml --gate gate.yaml export-2026-11.csv",
	"accrue payouts export":     "accrue payouts export --period 2026-11 --format csv -o payouts-2026-11.csv",
	"accrue program list":       "accrue program list",
	"accrue program publish":    "accrue program publish docs/programs/ae-commission.yaml",
	"accrue program show":       "accrue program show ae-commission --version 3",
	"accrue program validate":   "accrue program validate docs/programs/*.yaml",
	"accrue recompute":          "accrue recompute --program ae-commission --from 2026-07",
	"accrue ref load":           "accrue ref load --kind reps reps.jsonl",
	"accrue serve":              "ACCRUE_INGEST_TOKENS=... accrue serve --source raw.crm=crm.yaml --gate gate.yaml --addr :8080",
	"accrue serve-wallet":       "ACCRUE_WALLET_TOKENS=... accrue serve-wallet --addr :8081",
	"accrue simulate":           "accrue simulate --program docs/programs/ae-commission.yaml --reps reps.jsonl --events sales.jsonl",
	"accrue sink clickhouse":    "accrue sink clickhouse --clickhouse-addr clickhouse:9000 --batch-rows 50000 --batch-interval 1s",
	"accrue sink webhook":       "ACCRUE_WEBHOOK_SECRET=... accrue sink webhook --url https://payouts.example.com/hooks/accrue --topics payouts.payable",
	"accrue stage accrue":       "accrue stage accrue --parallelism 2 --retention 9600h",
	"accrue stage contest":      "accrue stage contest --contest contests/q4-race.yaml",
	"accrue stage count":        "accrue stage count --input in --output out",
	"accrue stage dedupe":       "accrue stage dedupe --gate gate.yaml",
	"accrue stage deliver":      "accrue stage deliver --config deploy/templates/delivery.yaml --certificates /var/lib/accrue/certificates",
	"accrue stage ingest":       "accrue stage ingest --source raw.crm=crm.yaml --source raw.pos=pos.yaml --gate gate.yaml",
	"accrue stage leaderboard":  "accrue stage leaderboard --top-n 10 --rank-by measure",
	"accrue stage link":         "accrue stage link --gate gate.yaml --park-deadline 24h",
	"accrue stage wallet":       "ACCRUE_WALLET_KEY=... accrue stage wallet --transfer-fee EUR=0.50 --policy ae-commission=period_close",
	"accrue topics create":      "accrue topics create --partitions 12 --replication-factor 3",
	"accrue topics list":        "accrue topics list",
	"accrue version":            "accrue version",
}

// example is the command's own example, else the one of examples, else
// its synopsis.
func example(c *cobra.Command) string {
	if c.Example != "" {
		lines := strings.Split(c.Example, "\n")
		for i, l := range lines {
			lines[i] = strings.TrimSpace(l)
		}
		return strings.Join(lines, "\n")
	}
	if e, ok := examples[c.CommandPath()]; ok {
		return e
	}
	return c.UseLine()
}
