package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/accrue/accrue/pipeline"
	"github.com/accrue/accrue/sinks/certificate"
	"github.com/accrue/accrue/transforms/accrue"
	"github.com/accrue/accrue/transforms/accrue/program"
	"github.com/accrue/accrue/transforms/contest"
	"github.com/accrue/accrue/transforms/nudge"
	"github.com/accrue/accrue/transforms/reference"
)

// newNudgeStageCmds are the stages downstream of the accrual stage:
// leaderboard, deliver and contest.
func newNudgeStageCmds(g *globals) []*cobra.Command {
	return []*cobra.Command{newLeaderboardStageCmd(g), newDeliverStageCmd(g), newContestStageCmd(g)}
}

// second is the config of a process's second stage: same brokers and
// metrics (labelled by stage), without the first's client hooks, which
// expect one client.
func second(cfg pipeline.Config, name string, inputs []string) pipeline.Config {
	cfg.Name, cfg.Inputs, cfg.SessionOpts = name, inputs, nil
	cfg.Group, cfg.Changelog, cfg.DeadLetter = "", "", ""
	return cfg
}

// runStages runs stages until ctx ends or one fails; a failure stops the
// others. Shutdown order: every stage ends its batch and leaves its group,
// then the caller stops what it started before (tables, admin server).
func runStages(ctx context.Context, runs ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(runs))
	for _, r := range runs {
		go func() {
			err := r(ctx)
			if err != nil {
				cancel()
			}
			errs <- err
		}()
	}
	var first error
	for range runs {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func newLeaderboardStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var input, byProgram, output, name, rankBy string
	var topN, within int
	var retention, tick time.Duration
	cmd := &cobra.Command{
		Use:   "leaderboard",
		Short: "Leaderboard nudges: rank changes per program and period, from attainment snapshots",
		Long: `Two stages in one process (docs/nudges.md, "Leaderboards"):

  <name>-rekey  stateless: copies every snapshot of --input (attainment, keyed
                by rep) to --by-program keyed by program_id|period, so that
                one partition holds a whole leaderboard;
  <name>        keyed by program_id|period: keeps every rep's standing, ranks
                by --rank-by (highest first; on a tie, who got there first),
                and emits to --output (nudges, keyed by rep):
                  leaderboard_top_n      a rep's first time within --top-n
                  leaderboard_overtaken  to each rep within --overtaken-within
                                         that another passed, naming them

Reps whose score is not positive are not ranked. Boards not updated for
--retention are forgotten. Dead letters: <name>-rekey.rejected and
<name>.rejected; state: <name>.changelog.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rb, err := nudge.ParseRankBy(rankBy)
			if err != nil {
				return usageError{err}
			}
			if topN < 1 || within < 0 || retention <= 0 || tick <= 0 {
				return usageError{errors.New("--top-n must be at least 1; --overtaken-within cannot be negative; --retention and --tick must be positive")}
			}
			reg := newRegistry()
			met := nudge.NewMetrics(reg)
			rkCfg := f.config(g, name+"-rekey", []string{input}, reg)
			rkCfg.Stateless = true
			lbCfg := second(rkCfg, name, []string{byProgram})
			lbCfg.Stateless, lbCfg.TickInterval = false, tick
			lb, err := nudge.NewLeaderboard(nudge.LeaderboardConfig{Output: output, TopN: topN, OvertakenWithin: within,
				RankBy: rb, Retention: retention, Metrics: met})
			if err != nil {
				return usageError{err}
			}
			rk, err := pipeline.NewStage[[]byte](rkCfg, pipeline.BytesCodec{}, &nudge.Rekey{Output: byProgram})
			if err != nil {
				return usageError{err}
			}
			st, err := pipeline.NewStage[nudge.Entry](lbCfg, nudge.EntryCodec{}, lb)
			if err != nil {
				return usageError{err}
			}
			stopAdmin, err := serveAdmin(f.adminAddr, reg, pipeline.ReadyCheck{Name: "stage " + rkCfg.Name, Ready: rk.Ready},
				pipeline.ReadyCheck{Name: "stage " + name, Ready: st.Ready})
			if err != nil {
				return err
			}
			defer stopAdmin()
			return runStages(cmd.Context(), rk.Run, st.Run)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&input, "input", nudge.TopicAttainment, "topic of attainment snapshots, keyed by rep")
	fl.StringVar(&byProgram, "by-program", nudge.TopicByProgram, "topic of snapshots keyed by program_id|period (output of the re-key, input of the board)")
	fl.StringVar(&output, "output", nudge.TopicNudges, "topic for leaderboard nudges, keyed by rep")
	fl.StringVar(&name, "name", "leaderboard", "stage name (the re-key stage is <name>-rekey)")
	fl.StringVar(&rankBy, "rank-by", string(nudge.ByMeasure), "what reps are ranked by: measure, attainment or earned")
	fl.IntVar(&topN, "top-n", 10, "size of the top: entering it nudges the rep")
	fl.IntVar(&within, "overtaken-within", 0, "reps ranked within this are told when overtaken (0: --top-n)")
	fl.DurationVar(&retention, "retention", 400*24*time.Hour, "forget a board not updated for this long")
	fl.DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often idle partitions are looked at (retention)")
	return cmd
}

// certificateKey reads the certificates' key from file, else from
// ACCRUE_CERTIFICATE_KEY; surrounding white space is not part of it.
func certificateKey(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, usageError{fmt.Errorf("certificate key: %w", err)}
		}
		return []byte(strings.TrimSpace(string(b))), nil
	}
	if v := os.Getenv("ACCRUE_CERTIFICATE_KEY"); v != "" {
		return []byte(strings.TrimSpace(v)), nil
	}
	return nil, nil
}

func newDeliverStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var configPath, templatesPath, nudges, awards, prefs, output, suppressed, deadLetter, name, refPrefix, programsTopic string
	var certDir, keyFile string
	var tick time.Duration
	cmd := &cobra.Command{
		Use:   "deliver",
		Short: "Turn every nudge and award into a message event: messages, messages.suppressed",
		Long: `The keyed stage that reaches people (docs/nudges.md, "Delivery"). It consumes
--nudges, --awards and --preferences (all keyed by rep, same partition count)
and for every nudge and award composes one message event: the recipient
(name and email from the reference data, time zone and locale from their
preferences), channel hints, subject and text rendered from --templates in
the rep's locale, the certificate of an award whose badge --config names,
and the record's idempotency key. Then, per --config:

  - messages during the rep's quiet hours are held in state and released,
    in order, when they end;
  - past the daily limit (per local day of the rep), or without a channel
    or a known rep, the message goes to --suppressed with its reason;
  - the others go to --output.

Certificates are rendered as PDF into --certificates, their codes made with
the key of --certificate-key-file or ACCRUE_CERTIFICATE_KEY (at least 16
bytes; keep it secret: it is what makes codes unforgeable).

Shutdown order: the stage ends its batch and leaves its group, then the
programs and the reference tables stop following their topics, then the
admin server stops.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if tick <= 0 {
				return usageError{errors.New("--tick must be positive")}
			}
			templates, err := nudge.LoadTemplates(templatesPath)
			if err != nil {
				return usageError{err}
			}
			policy := nudge.DefaultPolicy()
			if configPath != "" {
				if policy, err = nudge.LoadPolicy(configPath); err != nil {
					return usageError{err}
				}
			}
			var issuer *certificate.Issuer
			if len(policy.Certificates) > 0 {
				key, err := certificateKey(keyFile)
				if err != nil {
					return err
				}
				if key == nil || certDir == "" {
					return usageError{errors.New("the configuration names badges that get certificates: give --certificates and the key (--certificate-key-file or ACCRUE_CERTIFICATE_KEY)")}
				}
				store, err := certificate.NewFolder(certDir)
				if err != nil {
					return usageError{err}
				}
				if issuer, err = certificate.NewIssuer(key, store); err != nil {
					return usageError{err}
				}
			}
			reg := newRegistry()
			global, err := reference.NewGlobal(reference.GlobalConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topics: refTopics(refPrefix),
				Kinds: []reference.Kind{reference.Reps}, Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			followers := []interface {
				Run(context.Context) error
				WaitReady(context.Context) error
			}{global}
			checks := []pipeline.ReadyCheck{{Name: "reference tables", Ready: global.Ready}}
			var programs func(string) *program.Program
			if programsTopic != "" {
				progs, err := accrue.NewPrograms(accrue.ProgramsConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topic: programsTopic, Registerer: reg})
				if err != nil {
					return usageError{err}
				}
				followers = append(followers, progs)
				checks = append(checks, pipeline.ReadyCheck{Name: "programs", Ready: progs.Ready})
				programs = progs.Catalog().Latest
			}
			cfg := f.config(g, name, []string{nudges, awards, prefs}, reg)
			cfg.DeadLetter, cfg.TickInterval = deadLetter, tick
			proc, err := nudge.NewDeliver(nudge.DeliverConfig{Templates: templates, Policy: policy, Reps: global.Tables(),
				Programs: programs, Issuer: issuer, Awards: awards, Prefs: prefs, Output: output, Suppressed: suppressed,
				Metrics: nudge.NewMetrics(reg)})
			if err != nil {
				return usageError{err}
			}
			st, err := pipeline.NewStage[nudge.DeliverState](cfg, nudge.DeliverCodec{}, proc)
			if err != nil {
				return usageError{err}
			}
			return runFollowing(cmd, f.adminAddr, reg, followers, append(checks, pipeline.ReadyCheck{Name: "stage " + name, Ready: st.Ready}),
				st.Run)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&configPath, "config", "", "delivery configuration (YAML; deploy/templates/delivery.yaml); none: en, UTC, no limits, no certificates")
	fl.StringVar(&templatesPath, "templates", "deploy/templates/messages.yaml", "message templates (YAML)")
	fl.StringVar(&nudges, "nudges", nudge.TopicNudges, "topic of nudges, keyed by rep")
	fl.StringVar(&awards, "awards", nudge.TopicAwards, "topic of awards, keyed by rep")
	fl.StringVar(&prefs, "preferences", nudge.TopicPrefs, "compacted topic of delivery preferences, keyed by rep")
	fl.StringVar(&output, "output", nudge.TopicMessages, "topic for message events, keyed by rep")
	fl.StringVar(&suppressed, "suppressed", nudge.TopicSuppressed, "topic for messages not sent, with the reason")
	fl.StringVar(&deadLetter, "dead-letter", "deliver.rejected", "topic for records that cannot be read or rendered")
	fl.StringVar(&name, "name", "deliver", "stage name (group accrue-<name>, state topic <name>.changelog)")
	fl.StringVar(&refPrefix, "ref-prefix", "ref.", "prefix of the reference topics (<prefix>reps is read)")
	fl.StringVar(&programsTopic, "programs-topic", program.Topic, "compacted topic of published programs, for names, currencies and rates (empty: none)")
	fl.StringVar(&certDir, "certificates", "", "folder the certificates (CODE.pdf) and their index (CODE.json) are written to")
	fl.StringVar(&keyFile, "certificate-key-file", "", "file holding the certificates' key (default: env ACCRUE_CERTIFICATE_KEY)")
	fl.DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often held messages are looked at on partitions without new records")
	return cmd
}

// runFollowing starts followers (global tables, programs), serves the
// admin endpoints, waits until the followers are ready, then runs the
// stages. Shutdown order: the stages end their batches and leave their
// groups, the followers stop, the admin server stops.
func runFollowing(cmd *cobra.Command, adminAddr string, reg *prometheus.Registry, followers []interface {
	Run(context.Context) error
	WaitReady(context.Context) error
}, checks []pipeline.ReadyCheck, stages ...func(context.Context) error) error {
	stopAdmin, err := serveAdmin(adminAddr, reg, checks...)
	if err != nil {
		return err
	}
	defer stopAdmin()
	ctx := cmd.Context()
	followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, len(followers))
	for _, fw := range followers {
		go func() { done <- fw.Run(followCtx) }()
	}
	defer func() {
		stopFollowing()
		for range followers {
			<-done
		}
	}()
	for _, fw := range followers {
		if err := fw.WaitReady(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
	return runStages(ctx, stages...)
}

func newContestStageCmd(g *globals) *cobra.Command {
	var f stageFlags
	var files []string
	var input, progress, awards, name, refPrefix string
	var tick time.Duration
	cmd := &cobra.Command{
		Use:   "contest",
		Short: "Run contests: milestones and races over sales.credited, results as awards",
		Long: `Two stages in one process (docs/nudges.md, "Contests"):

  <name>       keyed by rep, over --input (sales.credited): each rep's measure
               per contest; a milestone's award as soon as a rep reaches its
               target; every change of a race's measure to --progress,
               keyed by contest id;
  <name>-rank  keyed by contest id: the standings of every race, decided once
               the race is settled (the end of its last day plus its settle
               time), the winners' awards to --awards.

The contests are the --contest files (check them with 'accrue contest
validate'); every instance must be given the same ones. FX rates and rep
rows come from the reference topics <ref-prefix>*.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return usageError{errors.New("give at least one --contest")}
			}
			contests, err := loadContests(cmd.ErrOrStderr(), files)
			if err != nil {
				return usageError{err}
			}
			reg := newRegistry()
			global, err := reference.NewGlobal(reference.GlobalConfig{Brokers: g.brokerList(), ClientOpts: g.kafkaOpts(), Topics: refTopics(refPrefix), Registerer: reg})
			if err != nil {
				return usageError{err}
			}
			met := contest.NewMetrics(reg)
			pCfg := f.config(g, name, []string{input}, reg)
			rCfg := second(pCfg, name+"-rank", []string{progress})
			pCfg.TickInterval, rCfg.TickInterval = tick, tick
			prog, err := contest.NewProgress(contest.ProgressConfig{Contests: contests, Tables: global.Tables(), Progress: progress, Awards: awards, Metrics: met})
			if err != nil {
				return usageError{err}
			}
			rank, err := contest.NewRank(contest.RankConfig{Contests: contests, Awards: awards, Metrics: met})
			if err != nil {
				return usageError{err}
			}
			ps, err := pipeline.NewStage[contest.State](pCfg, contest.Codec{}, prog)
			if err != nil {
				return usageError{err}
			}
			rs, err := pipeline.NewStage[contest.State](rCfg, contest.Codec{}, rank)
			if err != nil {
				return usageError{err}
			}
			return runFollowing(cmd, f.adminAddr, reg, []interface {
				Run(context.Context) error
				WaitReady(context.Context) error
			}{global}, []pipeline.ReadyCheck{{Name: "reference tables", Ready: global.Ready},
				{Name: "stage " + name, Ready: ps.Ready}, {Name: "stage " + rCfg.Name, Ready: rs.Ready}}, ps.Run, rs.Run)
		},
	}
	f.register(cmd)
	fl := cmd.Flags()
	fl.StringArrayVar(&files, "contest", nil, "contest document (YAML); repeat for each contest")
	fl.StringVar(&input, "input", contest.TopicCredits, "topic of credits, keyed by rep")
	fl.StringVar(&progress, "progress", contest.TopicProgress, "topic of race progress, keyed by contest id")
	fl.StringVar(&awards, "awards", contest.TopicAwards, "topic for contest awards, keyed by rep")
	fl.StringVar(&name, "name", "contest", "stage name (the ranking stage is <name>-rank)")
	fl.StringVar(&refPrefix, "ref-prefix", "ref.", "prefix of the reference topics")
	fl.DurationVar(&tick, "tick", pipeline.DefaultTickInterval, "how often races are looked at for settlement")
	return cmd
}
