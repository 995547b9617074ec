package load

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// ParseSweep reads a --sweep value: "LO:HI:N" (N rates spaced
// geometrically from LO to HI, rounded to 0.001) or a comma-separated list
// of rates. Every benchmark command that sweeps rates takes this form.
func ParseSweep(s string) ([]float64, error) {
	if parts := strings.Split(s, ":"); len(parts) == 3 {
		lo, err1 := strconv.ParseFloat(parts[0], 64)
		hi, err2 := strconv.ParseFloat(parts[1], 64)
		n, err3 := strconv.Atoi(parts[2])
		if err1 != nil || err2 != nil || err3 != nil || !(lo > 0) || hi < lo || n < 2 || n > 100 {
			return nil, fmt.Errorf("--sweep %q: want LO:HI:N with 0 < LO ≤ HI and 2 ≤ N ≤ 100", s)
		}
		rates := make([]float64, n)
		for i := range rates {
			rates[i] = math.Round(lo*math.Pow(hi/lo, float64(i)/float64(n-1))*1000) / 1000
		}
		return rates, nil
	}
	var rates []float64
	for _, p := range SplitList(s) {
		r, err := strconv.ParseFloat(p, 64)
		if err != nil || !(r > 0) || math.IsInf(r, 0) {
			return nil, fmt.Errorf("--sweep rate %q: want a positive number", p)
		}
		rates = append(rates, r)
	}
	if len(rates) == 0 {
		return nil, fmt.Errorf("--sweep %q names no rate", s)
	}
	return rates, nil
}

// SplitList splits a comma-separated flag value, dropping blanks.
func SplitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
