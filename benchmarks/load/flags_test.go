package load

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSweep(t *testing.T) {
	got, err := ParseSweep("100:400:3")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{100, 200, 400}, got); diff != "" {
		t.Errorf("geometric sweep (-want +got):\n%s", diff)
	}
	if got, err := ParseSweep("50, 75,100"); err != nil || !cmp.Equal(got, []float64{50, 75, 100}) {
		t.Errorf("list: %v, %v", got, err)
	}
	for _, bad := range []string{"", "0:10:3", "10:5:3", "1:2:1", "x", "1,-2", "1,+Inf", " , "} {
		if _, err := ParseSweep(bad); err == nil {
			t.Errorf("ParseSweep(%q) succeeded", bad)
		}
	}
}
