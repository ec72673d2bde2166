package present

import "github.com/mqbench/mqbench/report/result"

// Verdict is what a run's figures say about a claim.
type Verdict string

// The verdicts a claim can get.
const (
	Supported    Verdict = "supported"
	Contradicted Verdict = "contradicted"
	// NotMeasured: the run has no result that decides the claim (the
	// scenario did not run, its broker is missing, or the scenario does
	// not exist yet).
	NotMeasured Verdict = "not measured in this run"
	// Undecided: the deciding figures were measured but their confidence
	// intervals overlap, so the run cannot tell; more repeats may.
	Undecided Verdict = "not decided (intervals overlap)"
)

// Cells are the results of a report: scenario → broker → the repeats of
// that cell (one result when not repeated). Only complete results are
// present.
type Cells map[string]map[string][]*result.Result

// Evidence is what a claim is decided on.
type Evidence struct {
	Cells Cells
	// Recommended is the broker the report's overall advice recommends,
	// "" when it recommends none.
	Recommended string
	// Advice is the overall advice's reason in words (its margin), for
	// a claim decided on the recommendation to show.
	Advice string
}

// Claim is one claim of the common wisdom about a broker, in the seed's
// own terms, with the rule that decides it from a run's results.
type Claim struct {
	// Broker is whose claim it is ("" for a rule about every broker).
	Broker string
	// Text is the claim in the seed's words.
	Text string
	// Rule says in plain words which figures decide it and how.
	Rule string
	// Decide applies Rule to the evidence. It must be safe on any
	// evidence, an empty one included, and modify nothing.
	Decide func(Evidence) Decision
}

// Decision is a claim's verdict with the figures that decided it.
type Decision struct {
	Verdict Verdict
	// Figures are the deciding figures, in words with their values.
	Figures []string
}
