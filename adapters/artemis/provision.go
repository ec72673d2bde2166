package artemis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
)

// queueExists is Artemis's message for a createQueue of a queue that
// exists (AMQ229019).
const queueExists = "AMQ229019"

// Provision creates, through the management address, a durable multicast
// queue for every group of dest on the multicast address dest.Name (created
// with its first queue), so the broker copies each message sent to the
// address into every group's queue from now on, even before the group's
// consumers subscribe. It is idempotent: a queue that exists is kept.
//
// MaxLength > 0 fails with errors.ErrUnsupported: Artemis limits the
// messages of an address (all its queues together), not of one queue.
//
// The returned cleanup destroys the group queues (disconnecting their
// consumers) and the address.
func (d *Driver) Provision(ctx context.Context, dest driver.Destination) (func(context.Context) error, error) {
	if err := checkDest(dest); err != nil {
		return nil, err
	}
	if dest.MaxLength > 0 {
		return nil, fmt.Errorf("artemis: max length %d: Artemis limits an address, not a queue, by message count: %w", dest.MaxLength, errors.ErrUnsupported)
	}
	if dest.Unreplicated {
		return nil, fmt.Errorf("artemis: an unreplicated destination: mqbench runs Artemis as a single node only: %w", errors.ErrUnsupported)
	}
	if d.isClosed() {
		return nil, fmt.Errorf("artemis: driver %w", driver.ErrClosed)
	}
	groups := append([]string(nil), dest.Groups...)
	err := d.withManagement(ctx, func(ctx context.Context, m *management) error {
		for _, g := range groups {
			cfg, _ := json.Marshal(map[string]any{
				"name": queueName(dest.Name, g), "address": dest.Name, "routing-type": multicast,
				"durable": true, "auto-create-address": true, "auto-delete": false,
			})
			err := m.operation(ctx, resourceBroker, "createQueue", nil, string(cfg))
			if err != nil && !strings.Contains(err.Error(), queueExists) {
				return fmt.Errorf("artemis: provision %s: %w", queueName(dest.Name, g), err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	cleanup := func(ctx context.Context) error { return d.destroy(ctx, dest.Name, groups) }
	return cleanup, nil
}

// destroy deletes the group queues of name and the address.
func (d *Driver) destroy(ctx context.Context, name string, groups []string) error {
	return d.withManagement(ctx, func(ctx context.Context, m *management) error {
		var errs []error
		for _, g := range groups {
			// destroyQueue(name, removeConsumers, autoDeleteAddress)
			if err := m.operation(ctx, resourceBroker, "destroyQueue", nil, queueName(name, g), true, true); err != nil && !errors.Is(err, errManagement) {
				errs = append(errs, fmt.Errorf("artemis: cleanup %s: %w", queueName(name, g), err))
			}
		}
		return errors.Join(errs...)
	})
}
