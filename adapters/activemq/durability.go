package activemq

import (
	"context"
	"fmt"

	"github.com/mqbench/mqbench/adapters/driver"
)

// Durability implements driver.DurabilityReader as far as STOMP allows:
// the message persistence and receipts are the producer's settings, but
// STOMP has no frame that reads the broker's KahaDB journal sync, so the
// result says the sync is assumed, not verified. With several brokers
// listed (a shared-store master/slave group) the promise says so: the
// store they share is one copy, so Replicas stays 1.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	du := activemqPromise(d.profile)
	if n := len(d.brokers.addrs); n > 1 && du.Replicas > 0 {
		du.Settings["brokers"] = d.brokers.String()
		du.Promise += fmt.Sprintf("; %d brokers listed share one store (master/slave): a confirmed message survives the master's death in that single copy, not on a replica", n)
	}
	return du, nil
}

// activemqPromise states what a receipt means under profile p.
func activemqPromise(p driver.Profile) driver.Durability {
	set := map[string]string{"persistent": "false", "receipt": "on"}
	du := driver.Durability{Settings: set, Replicas: 1,
		Source: "the producer's STOMP headers; the journal sync cannot be read over STOMP"}
	switch p {
	case driver.Durable:
		set["persistent"] = "true"
		du.Synced = true
		du.Promise = "persistent message stored in KahaDB before the receipt; the journal fsync (journalDiskSyncStrategy=always, KahaDB's default) is assumed, not read back"
	case driver.Fast:
		du.Promise = "non-persistent message held in broker memory at the receipt"
	default:
		set["receipt"] = "off"
		du.Replicas = 0
		du.Promise = "none: sent without receipts (unsafe profile)"
	}
	return du
}
