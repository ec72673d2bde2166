package report

import (
	"fmt"
	"html/template"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/mqbench/mqbench/report/present"
	"github.com/mqbench/mqbench/report/result"
)

// minLogPlottable is the smallest y a log axis draws: below it (and at 0
// or below, where a log scale panics) a value is dropped. No latency of a
// run comes near it (1e-9 ms is a femtosecond).
const minLogPlottable = 1e-9

// curve is one broker's line of a curve chart and its marked maximum.
type curve struct {
	name   string
	xys    plotter.XYs
	max    plotter.XY
	marked bool
	label  string // the mark's label prefix
}

// curveOf reads chart c's curve of result r, named by the broker.
func curveOf(c present.Chart, r *result.Result) curve {
	pts, max, marked := c.Curve.Read(r)
	cv := curve{name: r.Broker.Name, max: plotter.XY{X: max.X, Y: max.Y}, marked: marked, label: c.Curve.MaxLabel}
	for _, p := range pts {
		cv.xys = append(cv.xys, plotter.XY{X: p.X, Y: p.Y})
	}
	return cv
}

// logYOK says a point can be drawn against a log y axis.
func logYOK(p plotter.XY) bool {
	return plottable(p.X) && plottable(p.Y) && p.Y >= minLogPlottable
}

// cleanCurve returns the drawable points of xys for a log y axis, sorted
// by x (then y), so the line joins them in order of throughput.
func cleanCurve(xys plotter.XYs) plotter.XYs {
	var out plotter.XYs
	for _, p := range xys {
		if logYOK(p) {
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].X != out[j].X {
			return out[i].X < out[j].X
		}
		return out[i].Y < out[j].Y
	})
	return out
}

// curveChart renders one curve per broker, y on a log axis, each broker's
// maximum marked with a ring and labelled with its x. A chart whose curves
// hold no point at all is left out (""); one whose drawable points (and
// marks) span fewer than two x values renders as notEnoughData. A y at or
// below 0 never reaches the log axis.
func curveChart(title, xLabel, yLabel string, cs []curve) (template.HTML, error) {
	cs = append([]curve(nil), cs...) // marks are dropped below
	hasData := false
	xs := map[float64]bool{}
	cleaned := make([]plotter.XYs, len(cs))
	lo, hi := math.Inf(1), math.Inf(-1) // y range
	minX := math.Inf(1)
	for i, c := range cs {
		hasData = hasData || len(c.xys) > 0 || c.marked
		cleaned[i] = cleanCurve(c.xys)
		pts := cleaned[i]
		if c.marked && logYOK(c.max) {
			pts = append(pts[:len(pts):len(pts)], c.max)
		} else {
			cs[i].marked = false
		}
		for _, p := range pts {
			xs[p.X] = true
			lo, hi, minX = math.Min(lo, p.Y), math.Max(hi, p.Y), math.Min(minX, p.X)
		}
	}
	if !hasData {
		return "", nil
	}
	if len(xs) < 2 {
		return placeholder(title, notEnoughData), nil
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Legend.Left = true
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Add(plotter.NewGrid())
	for i, c := range cs {
		if err := addCurve(p, cleaned[i], c, palette[i%len(palette)]); err != nil {
			return "", fmt.Errorf("chart %q curve %q: %w", title, c.name, err)
		}
	}
	// Explicit ranges: gonum widens an empty range by ±1, which a log
	// axis cannot take; a factor of 1.5 leaves room for the labels.
	p.Y.Min, p.Y.Max = lo/1.5, hi*1.5
	if minX >= 0 {
		p.X.Min = 0 // throughput reads from 0
	}
	return svg(p, title)
}

// addCurve adds one broker's curve (a line, or a dot for one point) and
// its marked maximum (a ring labelled "<label> <x>") to p, with one legend
// entry showing both.
func addCurve(p *plot.Plot, xys plotter.XYs, c curve, col color.RGBA) error {
	var thumbs []plot.Thumbnailer
	switch len(xys) {
	case 0:
	case 1:
		dot, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		dot.GlyphStyle.Color, dot.GlyphStyle.Radius = col, vg.Points(2.5)
		p.Add(dot)
		thumbs = append(thumbs, dot)
	default:
		l, err := plotter.NewLine(xys)
		if err != nil {
			return err
		}
		l.Color, l.Width = col, vg.Points(1.5)
		p.Add(l)
		thumbs = append(thumbs, l)
	}
	if c.marked {
		ring, err := plotter.NewScatter(plotter.XYs{c.max})
		if err != nil {
			return err
		}
		ring.GlyphStyle = draw.GlyphStyle{Color: col, Radius: vg.Points(4.5), Shape: draw.RingGlyph{}}
		text, err := plotter.NewLabels(plotter.XYLabels{XYs: plotter.XYs{c.max}, Labels: []string{c.label + " " + num(math.Round(c.max.X))}})
		if err != nil {
			return err
		}
		for i := range text.TextStyle {
			text.TextStyle[i].Color = col
			text.TextStyle[i].XAlign = draw.XRight
			text.TextStyle[i].Font.Size = vg.Points(8)
		}
		text.Offset = vg.Point{X: -vg.Points(5), Y: vg.Points(5)}
		p.Add(ring, text)
		thumbs = append(thumbs, ring)
	}
	if len(thumbs) > 0 {
		p.Legend.Add(c.name, thumbs...)
	}
	return nil
}

// logTicks labels a log axis at 1, 2 and 5 times the powers of ten within
// its range (only the powers, and fewer of them, over a wide range), or at
// its ends when none falls within it.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(min, max float64) []plot.Tick {
	if !(min > 0 && max >= min) || math.IsInf(max, 1) {
		return nil
	}
	lo, hi := math.Floor(math.Log10(min)), math.Ceil(math.Log10(max))
	mults := []float64{1, 2, 5}
	if hi-lo > 4 {
		mults = []float64{1}
	}
	stride := math.Max(1, math.Ceil((hi-lo)/8))
	var ts []plot.Tick
	for e := lo; e <= hi; e += stride {
		for _, m := range mults {
			v := m * math.Pow(10, e)
			if v > 0 && v >= min && v <= max {
				ts = append(ts, plot.Tick{Value: v, Label: num(v)})
			}
		}
	}
	if len(ts) == 0 {
		ts = []plot.Tick{{Value: min, Label: fmt.Sprintf("%.3g", min)}, {Value: max, Label: fmt.Sprintf("%.3g", max)}}
	}
	return ts
}
