package store

import "context"

// Notifier is implemented by stores that push change notifications, so
// that nodes drop their caches as soon as another node commits a change
// instead of at their next ChangeVersion poll (store/postgres, through
// LISTEN/NOTIFY). Polling stays the fallback: a notification connection
// can drop, and notifications sent meanwhile are lost.
type Notifier interface {
	// Changes returns a channel that receives the change counter after
	// changes committed by any node (several changes may arrive as one
	// value: the latest). After the notification connection is lost and
	// re-established it receives the current counter, since changes in
	// between were not announced. The channel is closed when ctx ends or
	// the store is closed.
	Changes(ctx context.Context) <-chan int64
}
