package postgres

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Back-off between attempts to re-establish the notification connection.
var (
	listenBackoffMin = 100 * time.Millisecond
	listenBackoffMax = 5 * time.Second
)

// Changes implements store.Notifier with LISTEN on a dedicated connection
// (outside the pool). Every transaction that bumps the change counter
// sends NOTIFY with the new value; the channel receives it, the latest
// value winning when the reader lags. When the connection drops, the
// listener reconnects with exponential back-off (100 ms to 5 s) and then
// sends the current counter, since notifications in between are lost. The
// channel is closed when ctx ends or the store is closed.
func (s *Store) Changes(ctx context.Context) <-chan int64 {
	out := make(chan int64, 1)
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(s.stopCtx, cancel)
	go func() {
		defer close(out)
		defer stop()
		defer cancel()
		s.listen(ctx, out)
	}()
	return out
}

// deliver puts v on out (buffered, 1), replacing an unread older value.
// The listener is out's only sender, so once emptied it has room.
func deliver(out chan int64, v int64) {
	select {
	case old := <-out:
		v = max(v, old)
	default:
	}
	out <- v
}

func (s *Store) listen(ctx context.Context, out chan int64) {
	backoff := listenBackoffMin
	for {
		err := s.listenOnce(ctx, out, func() { backoff = listenBackoffMin })
		if ctx.Err() != nil {
			return
		}
		s.log.Warn("change notifications interrupted; falling back to polling until reconnected",
			"channel", s.channel, "retry_in", backoff, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, listenBackoffMax)
	}
}

// listenOnce connects, listens, reports the current counter and then every
// notification until the connection fails or ctx ends.
func (s *Store) listenOnce(ctx context.Context, out chan int64, connected func()) error {
	cc := s.cfg.ConnConfig.Copy()
	name := "avow-notify"
	if s.schema != "public" {
		name += ":" + s.schema
	}
	if len(name) > 63 {
		name = name[:63]
	}
	cc.RuntimeParams["application_name"] = name
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Second)
		conn.Close(cctx)
		cancel()
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+quoteIdent(s.channel)); err != nil {
		return err
	}
	var v int64
	if err := conn.QueryRow(ctx, `SELECT version FROM change_version WHERE id = 1`).Scan(&v); err != nil {
		return err
	}
	connected()
	deliver(out, v)
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		if n.Channel != s.channel {
			continue
		}
		v, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		deliver(out, v)
	}
}
