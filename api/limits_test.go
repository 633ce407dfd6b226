package api

import (
	"context"
	"testing"
	"time"
)

// handOff gives a freed worker slot to the attestation waiting longest;
// without waiters it just frees the slot.
func TestSemaphoreHandOff(t *testing.T) {
	s := newSemaphore(1)
	if err := s.acquire(context.Background()); err != nil {
		t.Fatal(err)
	}
	order := make(chan int, 2)
	for i := 1; i <= 2; i++ {
		go func() {
			if err := s.acquire(context.Background()); err == nil {
				order <- i
			}
		}()
		time.Sleep(30 * time.Millisecond) // waiter 2 arrives after waiter 1 waits
	}
	s.handOff()
	if first := <-order; first != 1 {
		t.Errorf("waiter %d got the slot first, want 1 (arrival order)", first)
	}
	s.handOff()
	if second := <-order; second != 2 {
		t.Errorf("then waiter %d", second)
	}
	s.handOff()
	if len(s) != 0 {
		t.Errorf("%d slots held after the last hand-off", len(s))
	}
	var unlimited semaphore
	unlimited.handOff() // nil: no limit, nothing to free
}
