package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/avowhq/avow/errs"
	"github.com/avowhq/avow/store"
)

// Config is what a backend hands New.
type Config struct {
	Dialect Dialect
	// Write runs the transactions and every write.
	Write *sql.DB
	// Read runs the reads outside transactions; nil: Write.
	Read *sql.DB
	// PrepareReads runs the reads outside transactions through statements
	// prepared once per query (SQLite; pgx caches its statements itself).
	PrepareReads bool
	// TxOptions are passed to BeginTx.
	TxOptions *sql.TxOptions
}

// Store implements store.Store on a Config. The backends embed it.
type Store struct {
	reader // the read methods, on the read pool
	writer // the write methods, each in a transaction of its own

	d     Dialect
	q     *queries
	cfg   Config
	cache *stmtCache // nil unless PrepareReads
	audit sync.Map   // rows (int) -> the INSERT of that many audit rows
}

var _ store.Store = (*Store)(nil)

// New returns a Store on cfg. Closing it closes cfg's databases.
func New(cfg Config) *Store {
	if cfg.Read == nil {
		cfg.Read = cfg.Write
	}
	s := &Store{d: cfg.Dialect, q: newQueries(cfg.Dialect), cfg: cfg}
	var rq querier = cfg.Read
	if cfg.PrepareReads {
		s.cache = &stmtCache{DB: cfg.Read}
		rq = s.cache
	}
	s.reader, s.writer = reader{s: s, q: rq}, writer{s: s}
	return s
}

// Close closes the store's databases.
func (s *Store) Close() error {
	if s.cache != nil {
		s.cache.close()
	}
	if s.cfg.Read != s.cfg.Write {
		return errors.Join(s.cfg.Read.Close(), s.cfg.Write.Close())
	}
	return s.cfg.Write.Close()
}

// Ping checks that the databases answer.
func (s *Store) Ping(ctx context.Context) error {
	for _, db := range []*sql.DB{s.cfg.Read, s.cfg.Write} {
		if err := db.PingContext(ctx); err != nil {
			return s.mapErr(ctx, err, "ping")
		}
	}
	return nil
}

// ChangeVersion returns the change counter.
func (s *Store) ChangeVersion(ctx context.Context) (int64, error) {
	var v int64
	if err := s.reader.q.QueryRowContext(ctx, s.q.changeVersion).Scan(&v); err != nil {
		return 0, s.mapErr(ctx, err, "read change version")
	}
	return v, nil
}

var _ store.Leaser = (*Store)(nil)

// TryLease implements store.Leaser in one statement. Leases are not cached
// state: taking one does not move ChangeVersion.
func (s *Store) TryLease(ctx context.Context, name, holder string, ttl time.Duration) (bool, error) {
	if strings.TrimSpace(name) == "" || strings.TrimSpace(holder) == "" {
		return false, store.ErrInvalid.Wrapf("lease name and holder are required")
	}
	if ttl < 0 {
		return false, store.ErrInvalid.Wrapf("negative lease duration")
	}
	q, args := s.d.Lease(name, holder, ttl)
	n, err := reader{s: s, q: s.cfg.Write}.exec(ctx, "take lease "+name, q, args...)
	return n == 1, err
}

// SchemaVersion returns the applied schema version.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	return schemaVersion(ctx, s, s.reader.q)
}

// WithTx runs fn in one transaction. Each write method fn calls runs in
// its own savepoint, so a method that fails has written nothing and leaves
// the transaction usable (PostgreSQL otherwise aborts a transaction on its
// first error; SQLite would keep a half-done multi-statement write).
func (s *Store) WithTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.withTx(ctx, false, func(t *tx) error { return fn(t) })
}

// withTx runs fn in a new transaction; auto: for one write method.
func (s *Store) withTx(ctx context.Context, auto bool, fn func(t *tx) error) error {
	sqlTx, err := s.cfg.Write.BeginTx(ctx, s.cfg.TxOptions)
	if err != nil {
		return s.mapErr(ctx, err, "begin")
	}
	t := &tx{sqlTx: sqlTx, auto: auto}
	t.reader, t.writer = reader{s: s, q: sqlTx, t: t}, writer{s: s, tx: t}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			_ = sqlTx.Rollback() // also when fn panicked
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.change {
		q, args := s.d.BumpChange()
		if _, err := sqlTx.ExecContext(ctx, q, args...); err != nil {
			return s.mapErr(ctx, err, "bump change version")
		}
	}
	committed = true // Commit ends the transaction either way
	if err := sqlTx.Commit(); err != nil {
		return s.mapErr(ctx, err, "commit")
	}
	return nil
}

// querier is what *sql.DB, *sql.Tx and stmtCache have in common.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// stmtCache runs queries through statements prepared once per query text
// (database/sql then prepares them once per pooled connection).
type stmtCache struct {
	*sql.DB          // ExecContext, and what could not be prepared
	stmts   sync.Map // string -> *sql.Stmt
}

func (c *stmtCache) stmt(q string) *sql.Stmt {
	if st, ok := c.stmts.Load(q); ok {
		return st.(*sql.Stmt)
	}
	st, err := c.PrepareContext(context.Background(), q)
	if err != nil {
		return nil // the unprepared call reports the error
	}
	if prev, loaded := c.stmts.LoadOrStore(q, st); loaded {
		st.Close() // another goroutine's came first
		return prev.(*sql.Stmt)
	}
	return st
}

func (c *stmtCache) close() {
	c.stmts.Range(func(k, v any) bool {
		v.(*sql.Stmt).Close()
		c.stmts.Delete(k)
		return true
	})
}

func (c *stmtCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	if st := c.stmt(q); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return c.DB.QueryContext(ctx, q, args...)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	if st := c.stmt(q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return c.DB.QueryRowContext(ctx, q, args...)
}

// hidden is a driver error behind a client-safe description: Error() is
// the description only (what the store was doing), Unwrap gives the
// driver's error to errors.As. The store's 4xx errors carry it, since an
// API body shows their cause.
type hidden struct {
	what string
	err  error
}

func (h hidden) Error() string { return h.what }
func (h hidden) Unwrap() error { return h.err }

// MapErr is mapErr for the backends' own statements (opening, leases…).
func (s *Store) MapErr(ctx context.Context, err error, format string, args ...any) error {
	return s.mapErr(ctx, err, format, args...)
}

// mapErr turns a driver error into one of the store's errors. A conflict,
// a missing row or an invalid value is its sentinel with "what" as the
// cause: the driver's text never reaches a client. Anything else is
// store_unavailable, whose cause keeps the driver's text for the logs
// (clients see only its fixed sentence).
func (s *Store) mapErr(ctx context.Context, err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	var se *errs.Error
	if errors.As(err, &se) {
		return err
	}
	what := fmt.Sprintf(format, args...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound.Wrapf("%s", what)
	}
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%w)", cerr, err)
		}
		return store.ErrStore.Wrapf("%s: %w", what, err)
	}
	if e := s.d.Classify(err); e != nil && e.Code != store.ErrStore.Code {
		return e.Wrap(hidden{what, err})
	}
	return store.ErrStore.Wrapf("%s: %w", what, err)
}

// Timestamps: encoded by the dialect, decoded by tsCol from either
// encoding.

func (s *Store) ts(t time.Time) any { return s.d.Time(store.Timestamp(t)) }

func (s *Store) nullTS(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.ts(t)
}

// tsCol scans a timestamp column: unix microseconds (SQLite), a time
// (timestamptz) or NULL (the zero time).
type tsCol struct{ t *time.Time }

func (c tsCol) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("timestamp column holds a %T", v)
	}
	return nil
}

// Query templates: fold(x) and foldorder(x) become the dialect's Fold and
// FoldOrder, {lock} its LockRow, {true} and {false} its Bool,
// {insertorder:table} its InsertOrder; then the placeholders are rebound.
var (
	foldRE  = regexp.MustCompile(`\b(fold|foldorder)\(([^()]*)\)`)
	orderRE = regexp.MustCompile(`\{insertorder:(\w+)\}`)
	qmarkRE = regexp.MustCompile(`\?`)
)

func render(d Dialect, tmpl string) string {
	q := foldRE.ReplaceAllStringFunc(tmpl, func(m string) string {
		sm := foldRE.FindStringSubmatch(m)
		if sm[1] == "fold" {
			return d.Fold(sm[2])
		}
		return d.FoldOrder(sm[2])
	})
	q = orderRE.ReplaceAllStringFunc(q, func(m string) string {
		return d.InsertOrder(orderRE.FindStringSubmatch(m)[1])
	})
	q = strings.NewReplacer("{lock}", d.LockRow(), "{true}", d.Bool(true), "{false}", d.Bool(false)).Replace(q)
	return d.Rebind(q)
}

// RebindDollar rewrites ? placeholders as $1, $2…, for dialects that
// number them. The queries have no ? inside literals.
func RebindDollar(q string) string {
	n := 0
	return qmarkRE.ReplaceAllStringFunc(q, func(string) string { n++; return "$" + strconv.Itoa(n) })
}
