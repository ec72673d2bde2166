package transaction

import (
	"context"
	"testing"
	"time"

	"github.com/mqbench/mqbench/report/result"
	"github.com/mqbench/mqbench/scenarios/load"
)

// TestScheduleEndedCountsUnsent: a schedule that stopped behind (past its
// end plus load.Overrun) leaves its owed orders in stats.unsent; one that
// ctx stopped adds none.
func TestScheduleEndedCountsUnsent(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		name   string
		cancel bool
		want   int64
	}{
		{"stopped behind", false, 50},
		{"interrupted", true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			if tc.cancel {
				cancel()
			}
			// 100/s over a window that ended load.Overrun + 1s ago: 50 owed.
			end := now.Add(-load.Overrun - time.Second)
			sched := load.NewSchedule(100, end.Add(-500*time.Millisecond), end, 1)
			if _, ok := sched.Next(ctx, nil); ok {
				t.Fatal("a schedule past its end yielded")
			}
			r := &run{}
			r.scheduleEnded(ctx, sched)
			if got := r.stats.snapshot().unsent; got != tc.want {
				t.Fatalf("unsent %d, want %d", got, tc.want)
			}
		})
	}
}

func TestMergeAccountingKeepsUnsent(t *testing.T) {
	got := mergeAccounting(result.Accounting{Sent: 3, Unsent: 2, Complete: true}, result.Accounting{Sent: 1, Unsent: 5, Complete: true})
	if got.Unsent != 7 || got.Sent != 4 || !got.Complete {
		t.Fatalf("merged %+v, want unsent 7, sent 4, complete", got)
	}
}
