package main

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"github.com/mqbench/mqbench/report/result"
)

// scrubNonFinite replaces every NaN or infinite number in res (metrics,
// latencies, throughput, series, cost) with 0 and notes which ones, since
// JSON cannot encode them and result.json would otherwise be lost with
// everything else the run measured. It returns res.
func scrubNonFinite(res *result.Result) *result.Result {
	var bad []string
	for _, f := range []struct {
		name string
		v    any
	}{
		{"metrics", &res.Metrics}, {"latency", &res.Latency}, {"throughput", &res.Throughput},
		{"series", &res.Series}, {"cost", &res.Cost}, {"timeline", &res.Timeline},
	} {
		scrub(reflect.ValueOf(f.v).Elem(), f.name, &bad)
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		res.Notes = append(res.Notes, fmt.Sprintf("not a finite number, written as 0: %s", strings.Join(bad, ", ")))
	}
	return res
}

// scrub zeroes the non-finite floats reachable from v, appending their
// paths to bad. Map values, which are not addressable, are copied, scrubbed
// and stored back.
func scrub(v reflect.Value, path string, bad *[]string) {
	switch v.Kind() {
	case reflect.Float32, reflect.Float64:
		if x := v.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			v.SetFloat(0)
			*bad = append(*bad, path)
		}
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			scrub(v.Elem(), path, bad)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				scrub(v.Field(i), path+"."+v.Type().Field(i).Name, bad)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			scrub(v.Index(i), fmt.Sprintf("%s[%d]", path, i), bad)
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			c := reflect.New(v.Type().Elem()).Elem()
			c.Set(v.MapIndex(k))
			n := len(*bad)
			scrub(c, fmt.Sprintf("%s.%v", path, k), bad)
			if len(*bad) > n {
				v.SetMapIndex(k, c)
			}
		}
	}
}
