// Package backoff computes retry delays and runs an operation with retries.
package backoff

import (
	"errors"
	"fmt"
	"time"
)

// Policy doubles the delay after each failed attempt, starting at Base and never
// exceeding Max.
type Policy struct {
	Base        time.Duration
	Max         time.Duration
	MaxAttempts int
}

// Delay is how long to wait after failed attempt number `attempt` (0-based):
// Base * 2^attempt, capped at Max. Attempts below 0 are treated as 0.
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Base << attempt
	if d > p.Max {
		return p.Max
	}
	return d
}

// ErrGaveUp wraps the last error once MaxAttempts attempts have failed.
var ErrGaveUp = errors.New("gave up")

// Do calls op until it succeeds or MaxAttempts attempts have failed, sleeping
// Delay(i) between attempts with the given sleep function.
func (p Policy) Do(op func() error, sleep func(time.Duration)) error {
	var err error
	for i := 0; i < p.MaxAttempts; i++ {
		if err = op(); err == nil {
			return nil
		}
		if i < p.MaxAttempts-1 {
			sleep(p.Delay(i))
		}
	}
	return fmt.Errorf("%w after %d attempts: %v", ErrGaveUp, p.MaxAttempts, err)
}
