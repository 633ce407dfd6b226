package service

import (
	"context"

	"github.com/avowhq/avow/store"
)

// changes returns the store's change notifications, or nil (a channel that
// never delivers) when the store has none and Run only polls.
func (s *Service) changes(ctx context.Context) <-chan int64 {
	if n, ok := s.st.(store.Notifier); ok {
		return n.Changes(ctx)
	}
	return nil
}

// observe drops the caches when the store's change counter v is not the
// one they were filled at.
func (s *Service) observe(v int64) {
	s.mu.RLock()
	changed := v != s.version
	s.mu.RUnlock()
	if changed {
		s.invalidate(v)
	}
}
