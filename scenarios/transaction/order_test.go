package transaction

import (
	"context"
	"errors"
	"testing"

	"github.com/mqbench/mqbench/adapters/driver"
)

// countingConsumer counts the Nacks that reach it.
type countingConsumer struct {
	driver.Consumer
	nacks int
}

func (c *countingConsumer) Nack(context.Context, []*driver.Delivery) error {
	c.nacks++
	return nil
}

func TestNackable(t *testing.T) {
	for _, tt := range []struct {
		name      string
		canNack   bool
		wantNacks int
		wantErr   error
	}{
		{"driver nacks", true, 1, nil},
		{"driver cannot nack: nothing settled", false, 0, errors.ErrUnsupported},
	} {
		t.Run(tt.name, func(t *testing.T) {
			inner := &countingConsumer{}
			r := &run{canNack: tt.canNack}
			err := r.nackable(inner).Nack(context.Background(), []*driver.Delivery{{}})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Nack: %v, want %v", err, tt.wantErr)
			}
			if inner.nacks != tt.wantNacks {
				t.Fatalf("%d nacks reached the driver, want %d", inner.nacks, tt.wantNacks)
			}
		})
	}
}
