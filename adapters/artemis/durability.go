package artemis

import (
	"context"
	"fmt"
	"strconv"

	"github.com/mqbench/mqbench/adapters/driver"
)

// brokerSync is what the broker reports about its journal.
type brokerSync struct {
	persistence, syncNonTx, syncTx bool
	journalType                    string
}

// readBrokerSync reads the broker's journal settings over the management
// address.
func readBrokerSync(ctx context.Context, m *management) (brokerSync, error) {
	var s brokerSync
	for _, a := range []struct {
		name string
		out  any
	}{
		{"PersistenceEnabled", &s.persistence},
		{"JournalSyncNonTransactional", &s.syncNonTx},
		{"JournalSyncTransactional", &s.syncTx},
		{"JournalType", &s.journalType},
	} {
		if err := m.attribute(ctx, resourceBroker, a.name, a.out); err != nil {
			return s, err
		}
	}
	return s, nil
}

// Durability implements driver.DurabilityReader: it reads, over Artemis's
// management address, whether the broker persists messages and syncs its
// journal before answering a non-transactional send and a commit, and
// whether each group queue of dest is durable. The journal's
// journal-datasync (whether that sync is an fsync) is not among the
// attributes Artemis reports; the Promise says so.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	if err := checkDest(dest); err != nil {
		return driver.Durability{}, err
	}
	var bs brokerSync
	durable := true
	err := d.withManagement(ctx, func(ctx context.Context, m *management) error {
		var err error
		if bs, err = readBrokerSync(ctx, m); err != nil {
			return err
		}
		for _, g := range dest.Groups {
			var qd bool
			if err := m.attribute(ctx, "queue."+queueName(dest.Name, g), "Durable", &qd); err != nil {
				return err
			}
			durable = durable && qd
		}
		return nil
	})
	if err != nil {
		return driver.Durability{}, fmt.Errorf("artemis: read durability: %w", err)
	}
	return promise(d.profile, bs, durable), nil
}

// promise states what a receipt means under profile p on a broker that
// reported bs, with queues whose durability is durable.
func promise(p driver.Profile, bs brokerSync, durable bool) driver.Durability {
	set := map[string]string{
		"persistent":                     strconv.FormatBool(p == driver.Durable),
		"receipt":                        strconv.FormatBool(p != driver.Unsafe),
		"persistence-enabled":            strconv.FormatBool(bs.persistence),
		"journal-sync-non-transactional": strconv.FormatBool(bs.syncNonTx),
		"journal-sync-transactional":     strconv.FormatBool(bs.syncTx),
		"journal-type":                   bs.journalType,
		"queues-durable":                 strconv.FormatBool(durable),
	}
	du := driver.Durability{Settings: set, Replicas: 1, Verified: true,
		Source: "Artemis management address over STOMP (broker PersistenceEnabled, JournalSyncNonTransactional, JournalSyncTransactional, JournalType; each queue's Durable)"}
	stored := bs.persistence && durable
	switch {
	case p == driver.Unsafe:
		du.Replicas = 0
		du.Promise = "none: sent without receipts (unsafe profile)"
	case p == driver.Durable && stored && bs.syncNonTx && bs.syncTx:
		du.Synced = true
		du.Promise = "persistent message written to the journal and synced before the receipt (single messages and transaction commits); the sync is an fsync when journal-datasync is true, which Artemis does not report (mqbench's broker.xml sets it)"
	case p == driver.Durable && stored:
		du.Promise = "persistent message handed to the journal before the receipt, not synced (the broker reports journal-sync off)"
	case p == driver.Durable:
		du.Promise = "the broker keeps messages in memory only (persistence or queue durability off)"
	default:
		du.Promise = "non-persistent message held in broker memory at the receipt"
	}
	return du
}

// Depth implements driver.DepthReader: the MessageCount of group's queue
// (messages waiting plus those delivered and not yet acknowledged), read
// over the management address.
func (d *Driver) Depth(ctx context.Context, dest driver.Destination, group string) (int64, error) {
	if err := checkGroup(dest, group); err != nil {
		return 0, err
	}
	var n int64
	err := d.withManagement(ctx, func(ctx context.Context, m *management) error {
		return m.attribute(ctx, "queue."+queueName(dest.Name, group), "MessageCount", &n)
	})
	if err != nil {
		return 0, fmt.Errorf("artemis: depth: %w", err)
	}
	return n, nil
}
