package autoscalebench

import (
	"fmt"
	"math"
	"time"

	"github.com/tandem-serving/tandem/controller/autoscale"
)

// Config is one benchmark run.
type Config struct {
	Seed           uint64
	Curve          Curve
	SharedFraction float64
	Model          Model
	GPUs           int
	UnitGPUs       int
	ColdStart      int // seconds
	GangSizes      []int
	GangMeanSec    float64
	IntervalSec    int // decision period of both autoscalers
	WindowSec      int // Tandem's signal window (p90 TTFT, requests)
	// Tandem's targets.
	TTFTTarget      time.Duration
	InFlightPerUnit float64 // 0: derived from TargetUtilisation
	Utilisation     float64
	DownWindowSec   int
	// TandemColdStart is the coldStartSeconds Tandem's policy states;
	// negative: the cluster's ColdStart.
	TandemColdStart int
	// HPA's target: waiting requests per unit.
	HPAQueuePerUnit float64
	// HPAInFlight adds a fourth scaler: the HPA on requests in flight
	// per unit, with Tandem's in-flight target.
	HPAInFlight bool
	// SampleSec is the spacing of the plotted points.
	SampleSec int
	// OnScale, when set, hears every scale event and its reason.
	OnScale func(scaler string, at, from, to int, why string)
}

// Scalers, in the table's order.
const (
	Static         = "static-peak"
	HPAKey         = "hpa-queue"
	HPAInFlightKey = "hpa-in-flight"
	TandemKey      = "tandem"
)

// Result is one scaler's day.
type Result struct {
	Scaler                 string
	Requests, Met, Refused float64
	Unserved               float64 // still waiting when the day ended
	ServingGPUSec          float64
	BatchGPUSec            float64
	ClusterGPUSec          float64
	ScaleEvents            int
	Reclaimed, Completed   int
	ReclaimLostGPUSec      float64
	PartialGangSteps       int
	// BurstCapacity is per burst the seconds from its start until the
	// ready units reached what the burst's peak needs; -1: not within
	// the burst.
	BurstCapacity []int
	MaxUnits      int
	Samples       []Sample
}

// Attainment is the share of requests meeting the TTFT bound (refused
// ones count as missing it).
func (r Result) Attainment() float64 {
	if r.Requests == 0 {
		return 0
	}
	return r.Met / r.Requests
}

// Spare is the GPU-seconds serving did not hold.
func (r Result) Spare() float64 { return r.ClusterGPUSec - r.ServingGPUSec }

// BatchShare is the share of the spare GPU-seconds batch gangs ran on.
func (r Result) BatchShare() float64 {
	if r.Spare() == 0 {
		return 0
	}
	return r.BatchGPUSec / r.Spare()
}

// Sample is one plotted instant.
type Sample struct {
	T                      int
	Rate                   float64
	NeedGPUs               int
	ServingGPUs, BatchGPUs int
	ReadyGPUs              int
}

// scaler decides units every IntervalSec.
// and says why.
type scaler interface {
	decide(now int, u Usage, w *window) (int, string)
}

type staticScaler struct{ units int }

func (s staticScaler) decide(int, Usage, *window) (int, string) { return s.units, "static" }

// hpaScaler is the HPA on the engines' waiting requests (queue length)
// or, with inFlight, on the requests in flight; either is reported by
// ready units only.
type hpaScaler struct {
	h        *HPA
	inFlight bool
}

func (s hpaScaler) decide(now int, u Usage, w *window) (int, string) {
	metric, what := w.last.Waiting, "waiting requests"
	if s.inFlight {
		metric, what = w.last.InFlight, "requests in flight"
	}
	n := s.h.Decide(now, u.Units, u.ReadyUnits, metric)
	return n, fmt.Sprintf("%.1f %s over %d ready units, target %g per unit", metric, what, u.ReadyUnits, s.h.Target)
}

type tandemScaler struct{ t *Tandem }

func (s tandemScaler) decide(now int, u Usage, w *window) (int, string) {
	n := s.t.Decide(now, u.Units, u.ReadyUnits, w.signals(u.ReadyUnits))
	return n, s.t.Last.Reason + ": " + s.t.Last.Message
}

// window keeps the last WindowSec steps of served figures.
type window struct {
	size  int
	steps []Served
	last  Served
}

func (w *window) add(s Served) {
	w.last = s
	w.steps = append(w.steps, s)
	if len(w.steps) > w.size {
		w.steps = w.steps[1:]
	}
}

// signals are what the router reports at the decision: gauges now,
// counts and TTFT buckets over the window.
func (w *window) signals(readyUnits int) TandemSignals {
	s := TandemSignals{InFlight: w.last.InFlight, QueuedTokens: w.last.QueuedTokens, Buckets: make([]float64, len(ttftEdges)+1)}
	if readyUnits == 0 {
		s.Held = w.last.Waiting
	}
	for _, st := range w.steps {
		s.Requests += st.Requests
		for i, b := range st.Buckets {
			s.Buckets[i] += b
		}
	}
	return s
}

// maxUnits is the cluster's room for units.
func (c Config) maxUnits() int { return c.GPUs / c.UnitGPUs }

// Derived are the figures the run computes from the config.
type Derived struct {
	StaticUnits     int
	InitialUnits    int
	InFlightPerUnit float64
	BurstNeed       []int
	PeakRate        float64
}

// Derive sizes the static scaler for the day's highest rate, each burst's
// need, and Tandem's in-flight target from the utilisation target.
func (c Config) Derive() Derived {
	steps := int(c.Curve.Day)
	var d Derived
	for t := range steps {
		d.PeakRate = max(d.PeakRate, c.Curve.Rate(float64(t)))
	}
	d.StaticUnits = min(c.Model.NeedUnits(d.PeakRate, c.SharedFraction, c.maxUnits()), c.maxUnits())
	d.InitialUnits = c.Model.NeedUnits(c.Curve.Rate(0), c.SharedFraction, c.maxUnits())
	for _, b := range c.Curve.Bursts {
		d.BurstNeed = append(d.BurstNeed, c.Model.NeedUnits(c.Curve.Rate(b+c.Curve.BurstRamp), c.SharedFraction, c.maxUnits()))
	}
	d.InFlightPerUnit = max(c.InFlightPerUnit, 0) // negative: no in-flight target
	if c.InFlightPerUnit == 0 {
		// In flight at that utilisation: rate × (prefill + decode), Little.
		m, f := c.Model, c.SharedFraction
		unitRate := float64(m.EnginesPerUnit) / (f/m.Shared.Rate + (1-f)/m.Chat.Rate)
		perReq := f*(m.Shared.Prefill+m.Shared.Decode) + (1-f)*(m.Chat.Prefill+m.Chat.Decode)
		d.InFlightPerUnit = float64(int(c.Utilisation*unitRate*perReq + 0.5))
	}
	return d
}

// TandemPolicy is the autoscaling spec the Tandem scaler runs with.
func (c Config) TandemPolicy(d Derived) autoscale.Policy {
	return autoscale.Policy{
		Min: 1, Max: int32(c.maxUnits()),
		TTFTP90: c.TTFTTarget, InFlightPerUnit: d.InFlightPerUnit,
		DownWindow: time.Duration(c.DownWindowSec) * time.Second,
		ColdStart:  time.Duration(c.tandemColdStart()) * time.Second,
	}
}

func (c Config) tandemColdStart() int {
	if c.TandemColdStart < 0 {
		return c.ColdStart
	}
	return c.TandemColdStart
}

// Validate refuses a config the run cannot mean anything with.
func (c Config) Validate() error {
	switch {
	case c.Curve.Day < 60:
		return fmt.Errorf("the day must be at least 60 s, got %v s", c.Curve.Day)
	case c.UnitGPUs < 1 || c.GPUs < c.UnitGPUs:
		return fmt.Errorf("%d GPUs cannot hold one unit of %d GPUs", c.GPUs, c.UnitGPUs)
	case c.Model.EnginesPerUnit < 1:
		return fmt.Errorf("a unit needs at least one engine")
	case c.SharedFraction < 0 || c.SharedFraction > 1:
		return fmt.Errorf("shared fraction %v is not in [0, 1]", c.SharedFraction)
	case c.IntervalSec < 1 || c.WindowSec < c.IntervalSec:
		return fmt.Errorf("interval must be at least 1 s and the window at least the interval")
	case len(c.GangSizes) == 0:
		return fmt.Errorf("no gang sizes")
	case c.SampleSec < 1:
		return fmt.Errorf("sample spacing must be at least 1 s")
	}
	for _, g := range c.GangSizes {
		if g < 1 || g > c.GPUs {
			return fmt.Errorf("gang size %d does not fit %d GPUs", g, c.GPUs)
		}
	}
	return nil
}

// Run replays the day once per scaler on the same arrivals and gangs.
func Run(c Config) (Derived, []Result, error) {
	if err := c.Validate(); err != nil {
		return Derived{}, nil, err
	}
	d := c.Derive()
	if c.TTFTTarget <= 0 && d.InFlightPerUnit <= 0 {
		return d, nil, fmt.Errorf("tandem needs a target: a TTFT target or an in-flight target per unit")
	}
	if c.HPAInFlight && d.InFlightPerUnit <= 0 {
		return d, nil, fmt.Errorf("the in-flight HPA needs an in-flight target per unit")
	}
	arrivals := Arrive(c.Curve, int(c.Curve.Day), c.SharedFraction, c.Seed)
	hpa := &HPA{Target: c.HPAQueuePerUnit, Min: 1, Max: c.maxUnits(), Tolerance: 0.1, DownWindowSec: 300, PeriodSec: c.IntervalSec}
	runs := []struct {
		name  string
		s     scaler
		units int
	}{
		{Static, staticScaler{d.StaticUnits}, d.StaticUnits},
		{HPAKey, hpaScaler{h: hpa}, d.InitialUnits},
		{TandemKey, tandemScaler{NewTandem(c.TandemPolicy(d))}, d.InitialUnits},
	}
	if c.HPAInFlight {
		h := &HPA{Target: d.InFlightPerUnit, Min: 1, Max: c.maxUnits(), Tolerance: 0.1, DownWindowSec: 300, PeriodSec: c.IntervalSec}
		runs = append(runs, struct {
			name  string
			s     scaler
			units int
		}{HPAInFlightKey, hpaScaler{h: h, inFlight: true}, d.InitialUnits})
	}
	var out []Result
	for _, r := range runs {
		res, err := c.day(r.name, r.s, r.units, arrivals, d)
		if err != nil {
			return d, nil, fmt.Errorf("%s: %w", r.name, err)
		}
		out = append(out, res)
	}
	return d, out, nil
}

// day is one scaler's day, one step per second.
func (c Config) day(name string, s scaler, initial int, arrivals []Arrivals, d Derived) (Result, error) {
	cl := NewCluster(c.GPUs, c.UnitGPUs, NewGangSource(c.Seed, c.GangSizes, c.GangMeanSec))
	if err := cl.AddReadyUnits(initial); err != nil {
		return Result{}, err
	}
	pool := &Pool{M: c.Model}
	win := &window{size: c.WindowSec}
	res := Result{Scaler: name, BurstCapacity: make([]int, len(c.Curve.Bursts))}
	for i := range res.BurstCapacity {
		res.BurstCapacity[i] = -1
	}
	for t, in := range arrivals {
		if t > 0 && t%c.IntervalSec == 0 {
			u := cl.Usage()
			if n, why := s.decide(t, u, win); n != u.Units {
				cl.SetUnits(n, t)
				res.ScaleEvents++
				if c.OnScale != nil {
					c.OnScale(name, t, u.Units, n, why)
				}
			}
		}
		cl.Step(t, c.ColdStart)
		u := cl.Usage()
		served := pool.Step(t, u.ReadyUnits*c.Model.EnginesPerUnit, in)
		win.add(served)
		res.Requests += in.Total()
		res.Met += served.Met
		res.Refused += served.Refused
		res.ServingGPUSec += float64(u.Serving)
		res.BatchGPUSec += float64(u.Batch)
		res.ClusterGPUSec += float64(c.GPUs)
		res.MaxUnits = max(res.MaxUnits, u.Units)
		if cl.PartialGangs() > 0 {
			res.PartialGangSteps++
		}
		for i, b := range c.Curve.Bursts {
			ft := float64(t)
			if res.BurstCapacity[i] < 0 && ft >= b && ft <= c.Curve.BurstEnd(b) && u.ReadyUnits >= d.BurstNeed[i] {
				res.BurstCapacity[i] = t - int(math.Ceil(b))
			}
		}
		if t%c.SampleSec == 0 {
			rate := c.Curve.Rate(float64(t))
			res.Samples = append(res.Samples, Sample{
				T: t, Rate: rate, NeedGPUs: min(c.Model.NeedUnits(rate, c.SharedFraction, c.maxUnits()), c.maxUnits()) * c.UnitGPUs,
				ServingGPUs: u.Serving, BatchGPUs: u.Batch, ReadyGPUs: u.Ready,
			})
		}
	}
	// Requests still waiting at the end of the day never got a token.
	res.Unserved = pool.Backlog()
	res.Reclaimed, res.Completed, res.ReclaimLostGPUSec = cl.Reclaimed, cl.Completed, cl.ReclaimLostGS
	return res, nil
}
