package launch

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPoll(t *testing.T) {
	errNotYet := errors.New("not yet")
	errDead := errors.New("process died")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		bound     time.Duration
		okAt      int   // the try that succeeds (0: none)
		permAt    int   // the try that fails permanently (0: none)
		wantCalls int   // tries made
		wantErr   error // nil: success
	}{
		{"first try", context.Background(), time.Minute, 1, 0, 1, nil},
		{"third try", context.Background(), time.Minute, 3, 0, 3, nil},
		{"bound 0 still tries once", context.Background(), 0, 0, 0, 1, errNotYet},
		{"permanent stops at once", context.Background(), time.Minute, 0, 2, 2, errDead},
		{"ended context", canceled, time.Minute, 0, 0, 1, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := poll(tt.ctx, tt.bound, time.Millisecond, func() error {
				calls++
				switch calls {
				case tt.okAt:
					return nil
				case tt.permAt:
					return permanent{errDead}
				}
				return errNotYet
			})
			if calls != tt.wantCalls {
				t.Errorf("tries = %d, want %d", calls, tt.wantCalls)
			}
			if tt.wantErr == nil && err != nil || tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("err = %v, want %v", err, tt.wantErr)
			}
			if _, ok := err.(permanent); ok {
				t.Errorf("err = %#v: the permanent wrapper leaked", err)
			}
		})
	}
}
