package rocketmq

import (
	"context"
	"fmt"
	"strings"

	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/adapters/rocketmq/internal/remoting"
)

// durabilityKeys are the broker settings that decide what a SEND_OK means.
func durabilityKeys() []string {
	return []string{"flushDiskType", "brokerRole", "syncFlushTimeout", "enableControllerMode", "allAckInSyncStateSet"}
}

// Durability implements driver.DurabilityReader: each broker's flush and
// replication settings, read now with GET_BROKER_CONFIG. RocketMQ sets them
// per broker, not per topic, so dest only names what was asked about.
func (d *Driver) Durability(ctx context.Context, dest driver.Destination) (driver.Durability, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout())
	defer cancel()
	set := map[string]string{}
	for _, b := range d.brokers {
		resp, err := d.admin.Invoke(ctx, b.addr, remoting.CodeGetBrokerConfig, nil, nil)
		if err != nil {
			return driver.Durability{}, fmt.Errorf("rocketmq broker %s config: %w", b.name, err)
		}
		conf := parseProperties(resp.Body)
		for _, k := range durabilityKeys() {
			if v, ok := conf[k]; ok {
				key := k
				if len(d.brokers) > 1 {
					key = b.name + "." + k
				}
				set[key] = v
			}
		}
	}
	return rocketmqPromise(d.cfg.EffectiveProfile(), set, len(d.brokers)), nil
}

// rocketmqPromise derives the promise from the settings read back from n
// brokers (keys prefixed with the broker name when n > 1).
func rocketmqPromise(p driver.Profile, set map[string]string, n int) driver.Durability {
	du := driver.Durability{Settings: set, Source: "GET_BROKER_CONFIG on every broker", Replicas: 1}
	synced, seen := 0, 0
	for k, v := range set {
		if k == "flushDiskType" || strings.HasSuffix(k, ".flushDiskType") {
			seen++
			if v == "SYNC_FLUSH" {
				synced++
			}
		}
	}
	du.Verified = n > 0 && seen == n
	du.Synced = du.Verified && synced == n
	switch {
	case p == driver.Unsafe:
		du.Synced, du.Replicas = false, 0
		du.Promise = "none: batches are sent one way (unsafe profile)"
	case du.Synced:
		du.Promise = "fsynced by the broker before SEND_OK (flushDiskType=SYNC_FLUSH)"
	default:
		du.Promise = "in the broker's page cache at SEND_OK (flushDiskType is not SYNC_FLUSH)"
	}
	return du
}
