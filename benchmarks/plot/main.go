// Command plot draws the PNG figures of benchmarks/README.md from the
// reports the scale and latency benchmarks write (ACCRUE_BENCH_RESULTS):
//
//	go run ./benchmarks/plot -results benchmarks/results
//
// It reads scale.json (BenchmarkScaleInstances), latency.json
// (BenchmarkLatencyAccrue) and latency-chain.json (BenchmarkLatencyChain)
// and writes scale.png (throughput against instances, each stage in its
// own panel), latency.png and latency-chain.png (p50, p90 and p99 latency
// against the offered load) beside them. A missing report is skipped with
// a message.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"image/color"
	"io/fs"
	"log"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// report is the part of a benchmark report (benchmarks/report) that the
// figures need.
type report struct {
	Name    string `json:"name"`
	Date    string `json:"date"`
	Machine struct {
		Cores      int       `json:"cores"`
		Kafka      string    `json:"kafka"`
		LoadBefore []float64 `json:"load_average_before"`
		LoadAfter  []float64 `json:"load_average_after"`
	} `json:"machine"`
	Results []struct {
		Round  int     `json:"round"`
		Stage  string  `json:"stage"`
		Run    string  `json:"run"`
		PerSec float64 `json:"records_per_s"`
	} `json:"results"`
	Facts map[string]json.RawMessage `json:"facts"`
}

func (r *report) when() string {
	d, _, _ := strings.Cut(r.Date, "T")
	s := fmt.Sprintf("%s, %d cores", d, r.Machine.Cores)
	if r.Machine.Kafka != "" {
		s += ", Kafka " + r.Machine.Kafka
	}
	if len(r.Machine.LoadBefore) > 0 && len(r.Machine.LoadAfter) > 0 {
		s += fmt.Sprintf(", load %.1f → %.1f", r.Machine.LoadBefore[0], r.Machine.LoadAfter[0])
	}
	return s
}

func read(path string) (*report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

var palette = []color.Color{
	color.RGBA{R: 31, G: 119, B: 180, A: 255},
	color.RGBA{R: 214, G: 39, B: 40, A: 255},
	color.RGBA{R: 44, G: 160, B: 44, A: 255},
	color.RGBA{R: 148, G: 103, B: 189, A: 255},
}

func main() {
	dir := flag.String("results", "benchmarks/results", "folder of the reports; the PNGs are written there")
	flag.Parse()
	log.SetFlags(0)
	for _, f := range []struct {
		report string
		draw   func(*report, string) error
	}{{"scale.json", drawScale}, {"latency.json", drawLatency}, {"latency-chain.json", drawLatency}} {
		r, err := read(filepath.Join(*dir, f.report))
		if errors.Is(err, fs.ErrNotExist) {
			log.Printf("%s: no report, skipped", f.report)
			continue
		}
		if err != nil {
			log.Fatal(err)
		}
		out := filepath.Join(*dir, strings.TrimSuffix(f.report, ".json")+".png")
		if err := f.draw(r, out); err != nil {
			log.Fatalf("%s: %v", out, err)
		}
		log.Printf("wrote %s", out)
	}
}

// drawScale draws one panel per stage: the aggregate rate of each round
// (points) and the median of the rounds (line) against the instances, with
// what linear scaling from one instance would give.
func drawScale(r *report, out string) error {
	type key struct {
		stage string
		inst  int
	}
	rates := map[key][]float64{}
	var stages []string
	for _, row := range r.Results {
		n, err := strconv.Atoi(strings.Fields(row.Run)[0]) // "2 instances"
		if err != nil {
			return fmt.Errorf("run %q: not a number of instances", row.Run)
		}
		k := key{row.Stage, n}
		if len(rates[k]) == 0 && k.inst == 1 {
			stages = append(stages, k.stage)
		}
		rates[k] = append(rates[k], row.PerSec)
	}
	sort.Strings(stages)
	var plots []*plot.Plot
	for i, st := range stages {
		p := plot.New()
		unit := "records/s"
		if st == "accrue" {
			unit = "credits/s"
		}
		p.Title.Text = fmt.Sprintf("stage %s: instances in one group", st)
		p.X.Label.Text = "instances (processes)"
		p.Y.Label.Text = "aggregate " + unit
		p.X.Min, p.X.Max, p.Y.Min = 0.7, 3.3, 0
		p.Y.Tick.Marker = thousands{}
		p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 1, Label: "1"}, {Value: 2, Label: "2"}, {Value: 3, Label: "3"}})
		var pts, med plotter.XYs
		for inst := 1; inst <= 3; inst++ {
			for _, v := range rates[key{st, inst}] {
				pts = append(pts, plotter.XY{X: float64(inst), Y: v})
			}
			if vs := rates[key{st, inst}]; len(vs) > 0 {
				med = append(med, plotter.XY{X: float64(inst), Y: median(vs)})
			}
		}
		if len(med) == 0 {
			continue
		}
		ideal := plotter.XYs{{X: 1, Y: med[0].Y}, {X: 2, Y: 2 * med[0].Y}, {X: 3, Y: 3 * med[0].Y}}
		li, err := plotter.NewLine(ideal)
		if err != nil {
			return err
		}
		li.Color, li.Dashes = color.Gray{Y: 150}, []vg.Length{vg.Points(4), vg.Points(3)}
		lm, err := plotter.NewLine(med)
		if err != nil {
			return err
		}
		lm.Color, lm.Width = palette[i%len(palette)], vg.Points(2)
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		sc.Color, sc.Shape = palette[i%len(palette)], draw.CircleGlyph{}
		p.Add(plotter.NewGrid(), li, lm, sc)
		p.Legend.Add("median of the rounds", lm)
		p.Legend.Add("each round", sc)
		p.Legend.Add("linear from 1 instance", li)
		p.Legend.Top, p.Legend.Left = true, true
		p.Y.Max = 3.1 * med[0].Y
		plots = append(plots, p)
	}
	if len(plots) == 0 {
		return errors.New("no rows")
	}
	const w, h = 6 * vg.Inch, 4.2 * vg.Inch
	img := vgimg.New(vg.Length(len(plots))*w, h+0.3*vg.Inch)
	dc := draw.New(img)
	title := fmt.Sprintf("BenchmarkScaleInstances: one process per instance (%s)", r.when())
	dc.FillText(draw.TextStyle{Color: color.Black, Font: titleFont(), Handler: plot.DefaultTextHandler},
		vg.Point{X: 0.2 * vg.Inch, Y: h + 0.1*vg.Inch}, title)
	dc.Rectangle.Max.Y = h
	tiles := draw.Tiles{Rows: 1, Cols: len(plots), PadX: vg.Millimeter * 4}
	canvases := plot.Align([][]*plot.Plot{plots}, tiles, dc)
	for j, p := range plots {
		p.Draw(canvases[0][j])
	}
	return save(img, out)
}

// drawLatency draws p50, p90 and p99 against the offered load.
func drawLatency(r *report, out string) error {
	p := plot.New()
	what, unit := "accrual stage: credit produced → its accrual read (read_committed)", "credits/s"
	if r.Name == "latency-chain" {
		what, unit = "link → accrue: canonical event produced → its first accrual read (read_committed)", "events/s"
	}
	p.Title.Text = fmt.Sprintf("%s\n%s", what, r.when())
	p.X.Label.Text = "offered load, " + unit
	p.Y.Label.Text = "latency, ms"
	qs := []struct{ col, name string }{{"p50_ms", "p50"}, {"p90_ms", "p90"}, {"p99_ms", "p99"}}
	var loads map[string]map[string]float64
	if err := json.Unmarshal(r.Facts["latency"], &loads); err != nil {
		return fmt.Errorf("facts.latency: %w", err)
	}
	var maxRate float64
	for _, row := range r.Results {
		if strings.HasPrefix(row.Run, "max") {
			maxRate = row.PerSec
		}
	}
	lines := make([]plotter.XYs, len(qs))
	for _, l := range loads {
		for i, q := range qs {
			lines[i] = append(lines[i], plotter.XY{X: l["offered_per_s"], Y: l[q.col]})
		}
	}
	if len(lines[0]) == 0 {
		return errors.New("no loads")
	}
	for i := range lines {
		sort.Slice(lines[i], func(a, b int) bool { return lines[i][a].X < lines[i][b].X })
	}
	hi := 0.0
	for i, q := range qs {
		l, s, err := plotter.NewLinePoints(lines[i])
		if err != nil {
			return err
		}
		l.Color, s.Color, l.Width = palette[i], palette[i], vg.Points(2)
		p.Add(l, s)
		p.Legend.Add(q.name, l, s)
		for _, xy := range lines[i] {
			hi = max(hi, xy.Y)
		}
	}
	p.Add(plotter.NewGrid())
	p.X.Tick.Marker, p.Y.Tick.Marker = thousands{}, plain{}
	p.X.Min, p.Y.Min, p.Y.Max = 0, 0, hi*1.1
	if maxRate > 0 {
		m := plotter.XYs{{X: maxRate, Y: 0}, {X: maxRate, Y: hi * 1.1}}
		l, err := plotter.NewLine(m)
		if err != nil {
			return err
		}
		l.Color, l.Dashes = color.Gray{Y: 120}, []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("max rate over a backlog, %.0f/s", maxRate), l)
		p.X.Max = maxRate * 1.05
	}
	p.Legend.Top, p.Legend.Left = true, true
	return p.Save(8*vg.Inch, 5*vg.Inch, out)
}

func save(img *vgimg.Canvas, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func titleFont() font.Font {
	f := plot.DefaultFont
	f.Size = vg.Points(12)
	return f
}

// thousands labels gonum's default ticks as 25k rather than 25000.00.
type thousands struct{}

func (thousands) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label == "" {
			continue
		}
		switch v := ts[i].Value; {
		case v >= 1000 || v <= -1000:
			ts[i].Label = strconv.FormatFloat(v/1000, 'f', -1, 64) + "k"
		default:
			ts[i].Label = strconv.FormatFloat(v, 'f', -1, 64)
		}
	}
	return ts
}

// plain labels gonum's default ticks without trailing zeros.
type plain struct{}

func (plain) Ticks(min, max float64) []plot.Tick {
	ts := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ts {
		if ts[i].Label != "" {
			ts[i].Label = strconv.FormatFloat(ts[i].Value, 'f', -1, 64)
		}
	}
	return ts
}
