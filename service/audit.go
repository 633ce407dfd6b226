package service

import (
	"context"
	"errors"
	"log/slog"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// AuditConfig configures the asynchronous writer of attestation records.
// Management changes are audited in their own transaction and never go
// through it.
type AuditConfig struct {
	// Disabled turns attestation records off (management records stay).
	Disabled bool
	// Queue is how many records wait for the writer at most (default
	// 16384). When it is full, records are dropped and counted
	// (Observer.AuditDropped); an attestation never waits for the audit
	// log.
	Queue int
	// MaxBatch is the most records written in one transaction (default
	// 512).
	MaxBatch int
	// Linger is how long the writer waits for more records after the first
	// of a batch (default 20 ms): one transaction per batch instead of one
	// per attestation.
	Linger time.Duration
}

// Audit defaults.
const (
	DefaultAuditQueue    = 16384
	DefaultAuditMaxBatch = 512
	DefaultAuditLinger   = 20 * time.Millisecond
	// DefaultAuditRetention is how long attestation records are kept by
	// default (RunAuditRetention).
	DefaultAuditRetention = 30 * 24 * time.Hour
)

// maxAuditText bounds strings taken from requests (provider names of
// unknown providers, messages) in audit records.
const maxAuditText = 200

func (tr *AttestRecord) noteProvider(p store.Provider, attType string) {
	if p.Name != "" {
		tr.Provider, tr.ProviderKnown = p.Name, true
	}
	if attType != "" {
		tr.Type, tr.TypeKnown = attType, true
	}
}

// errorCode is the stable code of err ("internal" for untyped errors).
func errorCode(err error) string {
	var e *errs.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return "internal"
}

func truncate(s string) string {
	if len(s) <= maxAuditText {
		return s
	}
	s = s[:maxAuditText]
	for !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s + "…"
}

// attestationEntry is the audit record of an attestation: Operation
// "attest.{type}", Outcome "success" or the failure code, and the details
// type, tee, fmspc, tcb_status, tcb_baseline, tcb_grace (an admission by
// the provider's tcbGrace: a relaxation), policy_hash, duration_ms,
// failure_code, message, draft and simulated (when known and relevant).
func attestationEntry(tr *AttestRecord) store.AuditEntry {
	d := map[string]string{"type": tr.Type, "duration_ms": strconv.FormatFloat(float64(tr.Duration.Microseconds())/1000, 'f', 3, 64)}
	set := func(k, v string) {
		if v != "" {
			d[k] = v
		}
	}
	set("tee", tr.TEE)
	set("fmspc", tr.FMSPC)
	set("tcb_status", tr.TCBStatus)
	set("tcb_baseline", tr.TCBBaseline)
	set("tcb_grace", tr.TCBGrace)
	set("policy_hash", tr.PolicyHash)
	set("failure_code", tr.FailureCode)
	set("message", tr.Message)
	if tr.Draft {
		d["draft"] = "true"
	}
	if tr.Simulated {
		d["simulated"] = "true"
	}
	outcome := tr.Outcome
	if tr.FailureCode != "" {
		outcome = tr.FailureCode
	}
	return store.AuditEntry{Time: tr.Time, Kind: store.AuditAttestation, Provider: tr.Provider,
		Operation: "attest." + tr.Type, Outcome: outcome, Details: d, RequestID: tr.RequestID}
}

// refusalKey groups attestations refused before a policy: the provider
// ("" when no provider of the requested name exists), the attestation type
// ("" when not one avow knows), the failure code and the minute.
type refusalKey struct {
	provider, typ, code string
	minute              time.Time
}

// maxRefusalKeys bounds the groups counted at once; beyond it, refusals of
// new groups are counted under provider "", type "" and code "other".
const maxRefusalKeys = 4096

// refusalTally counts attestations refused before a policy until the audit
// writer turns the counts into records ("attest.refused", count per
// provider, type, code and minute). The anonymous traffic of a minute thus
// costs the log at most one record per known provider, type and code.
type refusalTally struct {
	mu     sync.Mutex
	counts map[refusalKey]int64
}

func (t *refusalTally) count(tr *AttestRecord) {
	k := refusalKey{code: tr.FailureCode, minute: tr.Time.UTC().Truncate(time.Minute)}
	if tr.ProviderKnown {
		k.provider = tr.Provider
	}
	if tr.TypeKnown {
		k.typ = tr.Type
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.counts == nil {
		t.counts = map[refusalKey]int64{}
	}
	if _, ok := t.counts[k]; !ok && len(t.counts) >= maxRefusalKeys {
		k = refusalKey{code: "other", minute: k.minute}
	}
	t.counts[k]++
}

// take removes and returns the records of the minutes before now (of all
// minutes when all is set), oldest first.
func (t *refusalTally) take(now time.Time, all bool) []store.AuditEntry {
	cur := now.UTC().Truncate(time.Minute)
	t.mu.Lock()
	var out []store.AuditEntry
	for k, n := range t.counts {
		if !all && !k.minute.Before(cur) {
			continue
		}
		delete(t.counts, k)
		d := map[string]string{"count": strconv.FormatInt(n, 10), "failure_code": k.code,
			"window_start": k.minute.Format(time.RFC3339), "window_end": k.minute.Add(time.Minute).Format(time.RFC3339)}
		if k.typ != "" {
			d["type"] = k.typ
		}
		out = append(out, store.AuditEntry{Time: k.minute, Kind: store.AuditAttestation, Provider: k.provider,
			Operation: OperationAttestRefused, Outcome: k.code, Details: d})
	}
	t.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		return a.Provider+"\x00"+a.Details["type"]+"\x00"+a.Outcome < b.Provider+"\x00"+b.Details["type"]+"\x00"+b.Outcome
	})
	return out
}

// OperationAttestRefused is the audit operation of the counted refusals.
const OperationAttestRefused = "attest.refused"

// refusalFlushEvery is how often the writer writes the counts of the
// minutes that have ended.
const refusalFlushEvery = 10 * time.Second

// auditWriter writes attestation records in batches on one goroutine.
type auditWriter struct {
	st    store.Store
	cfg   AuditConfig
	obs   Observer
	log   *slog.Logger
	clock Clock

	refused refusalTally

	start   sync.Once
	started atomic.Bool // ch is set
	ch      chan store.AuditEntry
	flush   chan chan struct{}
	quit    chan struct{}
	done    chan struct{}
	stopped atomic.Bool
	closing sync.Once
}

func newAuditWriter(st store.Store, cfg AuditConfig, obs Observer, log *slog.Logger, clock Clock) *auditWriter {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultAuditQueue
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = DefaultAuditMaxBatch
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultAuditLinger
	}
	return &auditWriter{st: st, cfg: cfg, obs: obs, log: log, clock: clock,
		flush: make(chan chan struct{}), quit: make(chan struct{}), done: make(chan struct{})}
}

// run starts the writer goroutine on first use.
func (w *auditWriter) run() {
	w.start.Do(func() {
		w.ch = make(chan store.AuditEntry, w.cfg.Queue)
		w.started.Store(true)
		go w.loop()
	})
}

// record queues e, or drops it when the queue is full or the writer is
// closed. It never blocks.
func (w *auditWriter) record(e store.AuditEntry) {
	if w.stopped.Load() {
		w.obs.AuditDropped(1, "closed")
		return
	}
	w.run()
	select {
	case w.ch <- e:
	default:
		w.obs.AuditDropped(1, "queue_full")
	}
}

// countRefused counts an attestation refused before a policy; the writer
// records the counts (refusalTally).
func (w *auditWriter) countRefused(tr *AttestRecord) {
	if w.stopped.Load() {
		w.obs.AuditDropped(1, "closed")
		return
	}
	w.run()
	w.refused.count(tr)
}

// queued returns how many records wait.
func (w *auditWriter) queued() int {
	if !w.started.Load() {
		return 0
	}
	return len(w.ch)
}

func (w *auditWriter) loop() {
	defer close(w.done)
	batch := make([]store.AuditEntry, 0, w.cfg.MaxBatch)
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	tick := time.NewTicker(refusalFlushEvery)
	defer tick.Stop()
	for {
		select {
		case <-tick.C:
			w.write(w.refused.take(w.clock.Now(), false))
		case e := <-w.ch:
			// The first record of a batch wakes the writer; it then
			// sleeps for the linger time and takes everything queued at
			// once. Waking for every record cost each attestation a
			// switch to this goroutine, which also pushed the attestation
			// next in line for a worker slot back in the scheduler's
			// queue.
			batch = append(batch[:0], e)
			linger.Reset(w.cfg.Linger)
			var ack chan struct{}
			quit := false
			select {
			case <-linger.C:
			case ack = <-w.flush: // take what is queued now, answer after writing
				linger.Stop()
			case <-w.quit:
				linger.Stop()
				quit = true
			}
			w.writeQueued(batch)
			if ack != nil || quit {
				w.write(w.refused.take(w.clock.Now(), true))
			}
			if ack != nil {
				close(ack)
			}
			if quit {
				return
			}
		case ack := <-w.flush:
			w.writeQueued(batch[:0])
			w.write(w.refused.take(w.clock.Now(), true))
			close(ack)
		case <-w.quit:
			w.writeQueued(batch[:0])
			w.write(w.refused.take(w.clock.Now(), true))
			return
		}
	}
}

// writeQueued writes batch and then everything queued, MaxBatch records
// at a time: the records held in memory stay within the queue's size plus
// one batch.
func (w *auditWriter) writeQueued(batch []store.AuditEntry) {
	for {
	fill:
		for len(batch) < w.cfg.MaxBatch {
			select {
			case e := <-w.ch:
				batch = append(batch, e)
			default:
				break fill
			}
		}
		full := len(batch) == w.cfg.MaxBatch
		w.write(batch)
		if !full {
			return
		}
		batch = batch[:0]
	}
}

// write stores batch in transactions of at most MaxBatch records.
func (w *auditWriter) write(batch []store.AuditEntry) {
	for len(batch) > 0 {
		n := min(len(batch), w.cfg.MaxBatch)
		start := time.Now()
		// Not the request's context: the records outlive their requests,
		// and a shutdown flush must still write them.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		err := w.st.AppendAudit(ctx, batch[:n]...)
		cancel()
		w.obs.AuditWritten(n, time.Since(start), err)
		if err != nil {
			w.obs.AuditDropped(n, "store_error")
			w.log.Warn("writing attestation audit records failed", "records", n, "err", errs.Detail(err))
		}
		batch = batch[n:]
	}
}

// FlushAudit waits until every attestation record queued before the call
// is written (or ctx ends).
func (s *Service) FlushAudit(ctx context.Context) error {
	w := s.audit
	if !w.started.Load() || w.stopped.Load() {
		return nil
	}
	ack := make(chan struct{})
	select {
	case w.flush <- ack:
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes the queued attestation records and stops the audit writer;
// records of later attestations are dropped (counted as "closed"). Call it
// after the HTTP server stopped and before the store is closed.
func (s *Service) Close(ctx context.Context) error {
	w := s.audit
	w.closing.Do(func() {
		w.stopped.Store(true)
		close(w.quit)
	})
	if !w.started.Load() {
		return nil
	}
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// AuditQueueLength is the number of attestation records waiting to be
// written.
func (s *Service) AuditQueueLength() int { return s.audit.queued() }

// ListAudit returns audit entries matching f, newest first (reader role).
func (s *Service) ListAudit(ctx context.Context, who *Principal, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := require(who, store.RoleReader); err != nil {
		return nil, err
	}
	if f.Kind != "" && !f.Kind.Valid() {
		return nil, ErrInvalidRequest.Wrapf("kind %q is neither management nor attestation", f.Kind)
	}
	entries, err := s.st.ListAudit(ctx, f)
	if err != nil {
		return nil, mapStoreErr(err, "audit log")
	}
	return entries, nil
}

// PruneAudit deletes attestation records older than retention (management
// records are kept) and returns how many it deleted.
func (s *Service) PruneAudit(ctx context.Context, retention time.Duration) (int64, error) {
	if retention <= 0 {
		return 0, nil
	}
	n, err := s.st.PruneAttestations(ctx, s.clock.Now().Add(-retention))
	if err != nil {
		return 0, mapStoreErr(err, "audit log")
	}
	return n, nil
}

// RunAuditRetention prunes attestation records older than retention now
// and then every interval until ctx ends. retention 0 keeps them forever.
func (s *Service) RunAuditRetention(ctx context.Context, retention, interval time.Duration) {
	if retention <= 0 {
		return
	}
	if interval <= 0 {
		interval = time.Hour
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		n, err := s.PruneAudit(ctx, retention)
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("pruning attestation audit records failed", "err", errs.Detail(err))
		case n > 0:
			s.log.Info("pruned attestation audit records", "deleted", n, "retention", retention.String())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// AuditRefused records a management request of an authenticated principal
// that was refused (forbidden, a signer not trusted, a conflict, invalid
// input): Kind management, Outcome the error's code, written through the
// asynchronous writer (there is no change to commit it with). Refusals of
// unauthenticated requests are not recorded (they are in the request log
// and the metrics): anyone could fill the log with them.
func (s *Service) AuditRefused(ctx context.Context, who *Principal, provider, op string, err error) {
	if who == nil || err == nil || s.audit.cfg.Disabled {
		return
	}
	d := map[string]string{"failure_code": errorCode(err), "message": truncate(errs.Detail(err))}
	e := audit(who, truncate(provider), op, s.clock.Now(), d)
	e.Outcome = errorCode(err)
	if e.RequestID == "" {
		e.RequestID = RequestIDFrom(ctx)
	}
	s.audit.record(e)
}
