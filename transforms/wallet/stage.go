package wallet

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/accrue/accrue/pipeline"
)

// The wallet stage's topics, as the catalogue (pipeline.Topics) names them.
const (
	// Inputs, keyed by rep and co-partitioned.
	TopicPayable       = "payouts.payable"
	TopicRedemptions   = "wallet.redemptions"
	TopicRegistrations = "wallet.registrations"
	TopicResults       = "payouts.results"
	// Outputs, keyed by rep.
	TopicInstructions = "payouts.instructions"
	TopicOutcomes     = "wallet.outcomes"
	TopicLedger       = "wallet.ledger"
	TopicPennyDrops   = "wallet.penny-drops"
	TopicAccounts     = "wallet.bank-accounts"
)

// DefaultSweepInterval is how often, in wall-clock time, the stage looks
// through a partition's wallets for penny drops past their expiry and for
// periods closed since it last looked.
const DefaultSweepInterval = time.Minute

// StageConfig configures the wallet stage's Processor. Wallet is required;
// every topic has the catalogue's name by default.
type StageConfig struct {
	// Wallet applies the inputs; its Catalogue should be Tables.
	Wallet *Wallet
	// Tables gives the closed periods; nil closes none.
	Tables *Tables
	// Inputs: Payable (payouts.payable records), Redemptions
	// (RequestRecord), Registrations (AccountRecord) and Results
	// (ResultRecord).
	Payable, Redemptions, Registrations, Results string
	// Outputs: Instructions (payout instructions), Outcomes (request
	// outcomes), Ledger (transactions), PennyDrops, Accounts (account
	// events, compacted: the last is the account's status).
	Instructions, Outcomes, Ledger, PennyDrops, Accounts string
	// Country is the rep's country for catalogue requests when the rep has
	// no bank account registered (the account's country is used when it
	// has): the reference data holds no country yet.
	Country string
	// SweepInterval is DefaultSweepInterval unless set.
	SweepInterval time.Duration
	// Metrics receives the stage's figures; nil records none.
	Metrics *Metrics
	// Logger receives the stage's logs; default slog.Default(). Nothing
	// logged quotes an account number.
	Logger *slog.Logger
}

// Processor is the wallet stage: a keyed pipeline.Processor over
// Payable, Redemptions, Registrations and Results, keyed by rep and
// co-partitioned, with the rep's *State as state (Codec). For each record
// it decodes the input, applies it with Wallet.Apply to the rep's wallet
// and, in the same transaction as the new state, emits the outputs keyed
// by rep: payout instructions, request outcomes, ledger transactions,
// penny drops and account events. An input the wallet refuses goes to the
// dead-letter topic and changes nothing; a registration is dead-lettered
// with its number masked (RedactAccount).
//
// Periods closed in Tables are applied to a rep's wallet before its next
// payable record of the program and by the sweeps (pipeline.Ticker), which
// also expire penny drops past their expiry.
//
// The processor is safe for concurrent calls on different partitions.
type Processor struct {
	cfg StageConfig
	log *slog.Logger

	mu    sync.Mutex
	swept map[int32]sweep
}

// sweep is what a partition's last sweep saw: when, and the closes
// version it applied.
type sweep struct {
	at      time.Time
	version uint64
}

var (
	_ pipeline.Processor[*State] = (*Processor)(nil)
	_ pipeline.Ticker[*State]    = (*Processor)(nil)
)

// NewProcessor checks cfg and builds the processor.
func NewProcessor(cfg StageConfig) (*Processor, error) {
	if cfg.Wallet == nil {
		return nil, errors.New("wallet: the stage needs a Wallet")
	}
	for _, t := range []struct {
		dst *string
		def string
	}{{&cfg.Payable, TopicPayable}, {&cfg.Redemptions, TopicRedemptions}, {&cfg.Registrations, TopicRegistrations},
		{&cfg.Results, TopicResults}, {&cfg.Instructions, TopicInstructions}, {&cfg.Outcomes, TopicOutcomes},
		{&cfg.Ledger, TopicLedger}, {&cfg.PennyDrops, TopicPennyDrops}, {&cfg.Accounts, TopicAccounts}} {
		if *t.dst == "" {
			*t.dst = t.def
		}
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Processor{cfg: cfg, log: cfg.Logger.With("component", "wallet"), swept: map[int32]sweep{}}, nil
}

// Inputs returns the stage's input topics, in the order the runtime
// takes them.
func (p *Processor) Inputs() []string {
	return []string{p.cfg.Payable, p.cfg.Redemptions, p.cfg.Registrations, p.cfg.Results}
}

// Process implements pipeline.Processor.
func (p *Processor) Process(c *pipeline.Context[*State], rec *kgo.Record) error {
	at := rec.Timestamp.UTC()
	in, kind, err := p.decode(rec, at)
	if err == nil && string(rec.Key) != in.Rep() {
		err = pipeline.Rejectf(ReasonInvalidInput, "rep_id", "the record is keyed %q, not by its rep %q", rec.Key, in.Rep())
	}
	var next *State
	var out Output
	s, _ := c.Get(string(rec.Key))
	if err == nil {
		next, out, err = p.apply(s, in, at)
	}
	if err != nil {
		p.cfg.Metrics.input(kind, "rejected")
		if rec.Topic == p.cfg.Registrations {
			// The number must not reach the dead-letter topic in clear.
			c.DeadLetter(rec, RedactAccount(rec.Value), err)
			return nil
		}
		return err
	}
	p.cfg.Metrics.input(kind, "applied")
	if next != s {
		c.Put(next.RepID, next)
	}
	p.emit(c, &out)
	return nil
}

// decode reads rec as the input its topic carries; kind names it for
// metrics.
func (p *Processor) decode(rec *kgo.Record, at time.Time) (Input, string, error) {
	switch rec.Topic {
	case p.cfg.Payable:
		in, err := DecodePayable(rec.Value, at)
		return in, "payable", err
	case p.cfg.Redemptions:
		r, err := DecodeRequest(rec.Value)
		if err != nil {
			return nil, "request", err
		}
		return r.Input(at, ""), "request", nil
	case p.cfg.Registrations:
		in, err := DecodeAccount(rec.Value, at)
		kind := "account"
		switch in.(type) {
		case *Register:
			kind = "register"
		case *Confirm:
			kind = "confirm"
		}
		return in, kind, err
	case p.cfg.Results:
		in, err := DecodeResult(rec.Value, at)
		kind := "result"
		switch in.(type) {
		case *PayoutResult:
			kind = "payout_result"
		case *BankResult:
			kind = "penny_drop_result"
		}
		return in, kind, err
	}
	return nil, "unknown", pipeline.Rejectf(ReasonInvalidInput, "", "topic %s is not an input of the wallet stage", rec.Topic)
}

// apply applies in to s: a closed period first, where a payable record
// names one the wallet has not closed yet, and the country to a request.
func (p *Processor) apply(s *State, in Input, at time.Time) (*State, Output, error) {
	w := p.cfg.Wallet
	var pre Output
	switch v := in.(type) {
	case *Payable:
		if p.cfg.Tables != nil && p.cfg.Tables.Closed(v.ProgramID, v.Period) {
			if _, done := s.closed(v.ProgramID, v.Period); !done {
				n, out, err := w.Apply(s, &PeriodClose{RepID: v.RepID, ProgramID: v.ProgramID, Period: v.Period, At: at})
				if err != nil {
					return s, Output{}, err
				}
				s, pre = n, out
			}
		}
	case *Request:
		v.Country = p.cfg.Country
		if s != nil && s.Account != nil {
			v.Country = s.Account.Country
		}
	}
	n, out, err := w.Apply(s, in)
	if err != nil {
		return s, Output{}, err
	}
	pre.Transactions = append(pre.Transactions, out.Transactions...)
	pre.Outcomes, pre.Instructions = out.Outcomes, out.Instructions
	pre.PennyDrops, pre.AccountEvents = out.PennyDrops, out.AccountEvents
	return n, pre, nil
}

// closed reports whether s has closed program's period (s may be nil).
func (s *State) closed(programID, period string) (struct{}, bool) {
	if s == nil {
		return struct{}{}, false
	}
	v, ok := s.Closed[programID+"/"+period]
	return v, ok
}

// emit writes out's records, each keyed by its rep, as JSON.
func (p *Processor) emit(c *pipeline.Context[*State], out *Output) {
	send := func(topic, rep string, v any) {
		b, err := json.Marshal(v)
		if err != nil {
			panic(err) // the outputs' MarshalJSON cannot fail
		}
		c.Emit(topic, []byte(rep), b)
	}
	for _, t := range out.Transactions {
		send(p.cfg.Ledger, t.RepID, t)
	}
	for _, o := range out.Outcomes {
		send(p.cfg.Outcomes, o.RepID, o)
	}
	for _, i := range out.Instructions {
		send(p.cfg.Instructions, i.RepID, i)
	}
	for _, d := range out.PennyDrops {
		send(p.cfg.PennyDrops, d.RepID, d)
	}
	for _, e := range out.AccountEvents {
		send(p.cfg.Accounts, e.RepID, e)
	}
	p.cfg.Metrics.output(out)
}

// Tick implements pipeline.Ticker: every SweepInterval, or as soon as a
// period closes, it looks through the partition's wallets, expires the
// penny drops past their expiry (a Tick input at now) and closes, in
// wallets that hold earnings of it, every closed period.
func (p *Processor) Tick(c *pipeline.Context[*State], partition int32, now time.Time) {
	var version uint64
	if p.cfg.Tables != nil {
		version = p.cfg.Tables.Version()
	}
	p.mu.Lock()
	last, ok := p.swept[partition]
	due := !ok || now.Sub(last.at) >= p.cfg.SweepInterval || version != last.version
	if due {
		p.swept[partition] = sweep{at: now, version: version}
	}
	p.mu.Unlock()
	if !due {
		return
	}
	type change struct {
		s   *State
		ins []Input
	}
	var changes []change
	c.Scan(func(_ string, s *State) bool {
		var ins []Input
		if a := s.Account; open(a) && !now.Before(a.ExpiresAt) {
			ins = append(ins, &Tick{RepID: s.RepID, At: now})
		}
		if p.cfg.Tables != nil {
			for acct := range s.Ledger {
				rest, ok := strings.CutPrefix(acct, AccountEarnedPrefix)
				i := strings.LastIndexByte(rest, '/')
				if !ok || i < 0 {
					continue
				}
				if prog, period := rest[:i], rest[i+1:]; p.cfg.Tables.Closed(prog, period) {
					ins = append(ins, &PeriodClose{RepID: s.RepID, ProgramID: prog, Period: period, At: now})
				}
			}
		}
		if len(ins) > 0 {
			changes = append(changes, change{s, ins})
		}
		return true
	})
	for _, ch := range changes {
		s := ch.s
		for _, in := range ch.ins {
			n, out, err := p.cfg.Wallet.Apply(s, in)
			if err != nil {
				p.log.Error("a sweep input was refused", "rep", s.RepID, "input", inputName(in), "err", err)
				continue
			}
			s = n
			p.emit(c, &out)
		}
		if s != ch.s {
			c.Put(s.RepID, s)
		}
	}
}

func inputName(in Input) string {
	switch in.(type) {
	case *Tick:
		return "tick"
	case *PeriodClose:
		return "period_close"
	}
	return "input"
}
