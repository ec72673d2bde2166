package report

import (
	"bytes"
	"fmt"
	"html/template"
	"image/color"
	"math"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Chart sizes.
const (
	chartW = 16 * vg.Centimeter
	chartH = 9 * vg.Centimeter
)

// palette gives each broker a stable colour (Okabe–Ito, readable by
// colour-blind readers).
var palette = []color.RGBA{
	{0x00, 0x72, 0xB2, 0xff}, // blue
	{0xD5, 0x5E, 0x00, 0xff}, // vermillion
	{0x00, 0x9E, 0x73, 0xff}, // green
	{0xCC, 0x79, 0xA7, 0xff}, // purple
	{0xE6, 0x9F, 0x00, 0xff}, // orange
	{0x56, 0xB4, 0xE9, 0xff}, // sky
	{0x00, 0x00, 0x00, 0xff}, // black
}

// series is one named line. Its points may hold values no chart can
// draw (NaN, ±Inf, beyond maxPlottable): lineChart drops them.
type series struct {
	name string
	xys  plotter.XYs
	dash bool
}

// maxPlottable bounds the magnitude of a drawable value: gonum/plot loops
// forever choosing ticks for a range that overflows, and no figure of a
// run comes near it.
const maxPlottable = 1e15

// notEnoughData is what a chart with data too thin to draw says instead.
const notEnoughData = "not enough data"

func plottable(f float64) bool { return math.Abs(f) <= maxPlottable } // false for NaN too

// clean returns the drawable points of xys: finite, within maxPlottable,
// and with x > 0 on a log x axis.
func clean(xys plotter.XYs, logX bool) plotter.XYs {
	var out plotter.XYs
	for _, p := range xys {
		if plottable(p.X) && plottable(p.Y) && (!logX || p.X > 0) {
			out = append(out, p)
		}
	}
	return out
}

// lineChart renders lines to inline SVG. percentileX draws an
// HdrHistogram-style percentile axis (x = 1/(1-q), log scale). A chart
// whose series hold no point at all is left out (""); one whose drawable
// points span fewer than two x values renders as notEnoughData. A series
// of one point is drawn as a dot.
func lineChart(title, xLabel, yLabel string, ss []series, percentileX bool) (template.HTML, error) {
	hasData := false
	xs := map[float64]bool{}
	cleaned := make([]plotter.XYs, len(ss))
	for i, s := range ss {
		hasData = hasData || len(s.xys) > 0
		cleaned[i] = clean(s.xys, percentileX)
		for _, p := range cleaned[i] {
			xs[p.X] = true
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
	p.Add(plotter.NewGrid())
	if percentileX {
		p.X.Scale = plot.LogScale{}
		p.X.Tick.Marker = percentileTicks{}
	}
	for i, s := range ss {
		if err := addLine(p, cleaned[i], s, palette[i%len(palette)]); err != nil {
			return "", fmt.Errorf("chart %q series %q: %w", title, s.name, err)
		}
	}
	return svg(p, title)
}

// addLine adds one series to p: a line, or a dot when it has one point.
func addLine(p *plot.Plot, xys plotter.XYs, s series, c color.RGBA) error {
	switch len(xys) {
	case 0:
		return nil
	case 1:
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return err
		}
		sc.GlyphStyle.Color = c
		sc.GlyphStyle.Radius = vg.Points(2.5)
		p.Add(sc)
		p.Legend.Add(s.name, sc)
		return nil
	}
	l, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	l.Color = c
	l.Width = vg.Points(1.5)
	if s.dash {
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	}
	p.Add(l)
	p.Legend.Add(s.name, l)
	return nil
}

// barChart renders grouped bars: one group per label, one bar per series.
// A value that is missing (NaN) or not drawable shows as no bar (0); a
// chart with no drawable value at all renders as notEnoughData, one with
// no series is left out ("").
func barChart(title, yLabel string, labels []string, names []string, values [][]float64) (template.HTML, error) {
	if len(names) == 0 || len(labels) == 0 {
		return "", nil
	}
	drawable := false
	vals := make([]plotter.Values, len(names))
	for i := range names {
		vals[i] = make(plotter.Values, len(labels))
		for j := range labels {
			if j < len(values[i]) && plottable(values[i][j]) {
				vals[i][j] = values[i][j]
				drawable = true
			}
		}
	}
	if !drawable {
		return placeholder(title, notEnoughData), nil
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = yLabel
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	w := vg.Points(14)
	for i, name := range names {
		b, err := plotter.NewBarChart(vals[i], w)
		if err != nil {
			return "", fmt.Errorf("chart %q: %w", title, err)
		}
		b.Color = palette[i%len(palette)]
		b.LineStyle.Width = 0
		b.Offset = vg.Length(float64(i)-float64(len(names)-1)/2) * w
		p.Add(b)
		p.Legend.Add(name, b)
	}
	p.NominalX(labels...)
	p.X.Min, p.X.Max = -0.5, float64(len(labels))-0.5 // room for the outer bars
	return svg(p, title)
}

// placeholder is a chart-sized SVG that shows title and msg instead of a
// plot.
func placeholder(title, msg string) template.HTML {
	w, h := chartW.Points(), chartH.Points()
	return template.HTML(fmt.Sprintf(`<svg class="chart" role="img" width="%.2fpt" height="%.2fpt" viewBox="0 0 %.2f %.2f" xmlns="http://www.w3.org/2000/svg">`+
		`<text x="%.2f" y="24" text-anchor="middle" font-family="serif" font-size="12">%s</text>`+
		`<text x="%.2f" y="%.2f" text-anchor="middle" font-family="serif" font-size="14" fill="#777">%s</text></svg>`,
		w, h, w, h, w/2, template.HTMLEscapeString(title), w/2, h/2, template.HTMLEscapeString(msg)))
}

// svg renders p to inline SVG. A panic inside gonum/plot (data this
// package failed to sanitise) renders as a placeholder naming it, not as a
// crashed report.
func svg(p *plot.Plot, title string) (h template.HTML, err error) {
	defer func() {
		if r := recover(); r != nil {
			h, err = placeholder(title, fmt.Sprintf("cannot draw: %v", r)), nil
		}
	}()
	wt, err := p.WriterTo(chartW, chartH, "svg")
	if err != nil {
		return "", fmt.Errorf("render svg: %w", err)
	}
	var buf bytes.Buffer
	if _, err := wt.WriteTo(&buf); err != nil {
		return "", fmt.Errorf("render svg: %w", err)
	}
	s := buf.String()
	if i := strings.Index(s, "<svg"); i > 0 {
		s = s[i:] // drop the XML prolog and comment: the SVG is inline
	}
	s = strings.Replace(s, "<svg ", `<svg class="chart" role="img" `, 1)
	return template.HTML(s), nil // generated by gonum/plot from numbers only
}

// percentileXY turns latency percentiles into HdrHistogram-style points:
// x = 1/(1-q) on a log axis, y = latency in ms.
func percentileXY(points []percentilePoint) plotter.XYs {
	out := make(plotter.XYs, 0, len(points))
	for _, pt := range points {
		if pt.q >= 1 {
			continue
		}
		out = append(out, plotter.XY{X: 1 / (1 - pt.q), Y: pt.ms})
	}
	return out
}

type percentilePoint struct{ q, ms float64 }

// percentileTicks labels a 1/(1-q) axis with percentiles.
type percentileTicks struct{}

// Ticks implements plot.Ticker.
func (percentileTicks) Ticks(min, max float64) []plot.Tick {
	var ts []plot.Tick
	labels := []string{"0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"}
	for i, l := range labels {
		v := math.Pow(10, float64(i))
		if v >= min/1.0001 && v <= max*1.0001 {
			ts = append(ts, plot.Tick{Value: v, Label: l})
		}
	}
	if len(ts) == 0 {
		ts = append(ts, plot.Tick{Value: min, Label: fmt.Sprintf("%.3g%%", 100*(1-1/min))})
	}
	return ts
}
