package result

import (
	"math"
	"testing"
)

func TestCostNet(t *testing.T) {
	cases := []struct {
		name       string
		c          *Cost
		net, noise float64
		ok         bool
	}{
		{"nil", nil, 0, 0, false},
		{"no baseline: raw", &Cost{CPUSeconds: 3}, 3, 0, false},
		{"baseline without metered time: raw", &Cost{CPUSeconds: 3, Idle: &Idle{WindowS: 1, CPUPerS: []float64{0.1}}}, 3, 0, false},
		{"baseline subtracted", &Cost{CPUSeconds: 3, Seconds: 10, Idle: &Idle{WindowS: 1, CPUPerS: []float64{0.1, 0.2, 0.3}}}, 1, 2, true},
		{"busier idle than loaded", &Cost{CPUSeconds: 0.5, Seconds: 10, Idle: &Idle{WindowS: 1, CPUPerS: []float64{0.1, 0.1}}}, -0.5, 0, true},
	}
	for _, c := range cases {
		net, noise, ok := c.c.Net()
		if math.Abs(net-c.net) > 1e-9 || math.Abs(noise-c.noise) > 1e-9 || ok != c.ok {
			t.Errorf("%s: Net() = %g, %g, %v; want %g, %g, %v", c.name, net, noise, ok, c.net, c.noise, c.ok)
		}
	}
}
