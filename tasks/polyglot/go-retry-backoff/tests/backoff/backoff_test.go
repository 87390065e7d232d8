package backoff

import (
	"errors"
	"testing"
	"time"
)

var policy = Policy{Base: 100 * time.Millisecond, Max: 10 * time.Second, MaxAttempts: 4}

func TestDelayDoubles(t *testing.T) {
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond}
	for i, w := range want {
		if got := policy.Delay(i); got != w {
			t.Errorf("Delay(%d): got %v want %v", i, got, w)
		}
	}
}

func TestDelayIsCapped(t *testing.T) {
	if got := policy.Delay(10); got != 10*time.Second {
		t.Errorf("Delay(10): got %v want %v", got, 10*time.Second)
	}
}

func TestDelayStaysCappedForLargeAttempts(t *testing.T) {
	for _, attempt := range []int{30, 40, 63, 64, 100, 1000} {
		if got := policy.Delay(attempt); got != policy.Max {
			t.Errorf("Delay(%d): got %v want %v", attempt, got, policy.Max)
		}
	}
}

func TestDoRetriesThenGivesUp(t *testing.T) {
	var slept []time.Duration
	calls := 0
	boom := errors.New("boom")
	err := policy.Do(func() error { calls++; return boom }, func(d time.Duration) { slept = append(slept, d) })
	if calls != 4 {
		t.Errorf("calls: got %d want 4", calls)
	}
	if len(slept) != 3 {
		t.Errorf("sleeps: got %d want 3 (none after the last attempt)", len(slept))
	}
	if !errors.Is(err, ErrGaveUp) {
		t.Errorf("error: got %v want one wrapping ErrGaveUp", err)
	}
}

func TestDoStopsOnSuccess(t *testing.T) {
	calls := 0
	err := policy.Do(func() error {
		calls++
		if calls < 2 {
			return errors.New("flaky")
		}
		return nil
	}, func(time.Duration) {})
	if err != nil || calls != 2 {
		t.Errorf("got err=%v calls=%d want nil and 2", err, calls)
	}
}

// Last on purpose: the unfixed Delay panics here, which ends the test binary.
func TestDelayNegativeAttemptIsBase(t *testing.T) {
	if got := policy.Delay(-1); got != policy.Base {
		t.Errorf("Delay(-1): got %v want %v", got, policy.Base)
	}
}
