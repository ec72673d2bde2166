package launch

import (
	"context"
	"fmt"
	"time"
)

// permanent marks an error of a poll's try that no later try can mend (a
// process that died while being waited for): poll returns it at once.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// poll calls try every interval until it returns nil, bound passes after a
// failed try, try fails permanently, or ctx ends. It returns nil on
// success; try's last error when bound passed or the error was permanent
// (unwrapped from permanent); and ctx's error, with try's last, when ctx
// ended first. try runs at least once, even with bound 0.
func poll(ctx context.Context, bound, interval time.Duration, try func() error) error {
	deadline := time.Now().Add(bound)
	for {
		err := try()
		if err == nil {
			return nil
		}
		if p, ok := err.(permanent); ok {
			return p.error
		}
		if !time.Now().Before(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w (last: %v)", ctx.Err(), err)
		case <-time.After(interval):
		}
	}
}
