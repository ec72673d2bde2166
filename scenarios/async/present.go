package async

import (
	"github.com/mqbench/mqbench/adapters/driver"
	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// Headline implements present.Presenter: the queued registration's p50
// response time.
func (Scenario) Headline(r *result.Result) present.Figure {
	return present.Metric(r, MetricResponseP50MQ, "registration p50 (mq)", "ms")
}

// Scoring implements present.Presenter: the advice ranks by the queued
// registration's p99 response time (end-to-end p99 when it is missing).
func (Scenario) Scoring(r *result.Result) present.Scoring {
	return present.Scoring{Latency: present.First(present.Metric(r, MetricResponseP99MQ, MetricResponseP99MQ, "ms"), present.EndToEndP99(r))}
}

// Charts implements present.Presenter: response time by mode, p50 and p99.
func (Scenario) Charts() []present.Chart {
	bars := func(serial, parallel, mq string) []present.Bar {
		return []present.Bar{{Label: Serial, Metric: serial}, {Label: Parallel, Metric: parallel}, {Label: MQ, Metric: mq}}
	}
	return []present.Chart{
		{Kind: present.BarChart, Title: "registration response time p50 by mode", YLabel: "ms",
			Bars: bars(MetricResponseP50Serial, MetricResponseP50Parallel, MetricResponseP50MQ)},
		{Kind: present.BarChart, Title: "registration response time p99 by mode", YLabel: "ms",
			Bars: bars(MetricResponseP99Serial, MetricResponseP99Parallel, MetricResponseP99MQ)},
	}
}

// Accept implements present.Presenter: the queue answers faster than the
// parallel calls, which answer faster than the serial ones, and every
// registration yields exactly one email and one SMS.
func (Scenario) Accept(r *result.Result, _ driver.Capabilities) error {
	m := func(n string) float64 { return r.Metrics[n].Value }
	var c present.Check
	mq, par, ser := m(MetricResponseP50MQ), m(MetricResponseP50Parallel), m(MetricResponseP50Serial)
	c.Expect(mq < par && par < ser, "p50 mq %.2f, parallel %.2f, serial %.2f: want mq < parallel < serial", mq, par, ser)
	regs, emails, sms := m(MetricRegistrations), m(MetricEmailsSent), m(MetricSMSSent)
	c.Expect(regs > 0 && emails == regs && sms == regs, "registrations %v, emails %v, sms %v: want one email and one SMS each", regs, emails, sms)
	return c.Err()
}
