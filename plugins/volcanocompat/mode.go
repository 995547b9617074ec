package volcanocompat

import "fmt"

// FlagName is the flag both binaries take for Mode.
const FlagName = "volcano-check"

// FlagUsage is its help text.
const FlagUsage = "what to do when the installed Volcano lacks a CRD or field Tandem needs (Volcano >= v1.14.0): fail (refuse to start), warn (log and start) or off (do not check)"

// Mode says what a failed version check does.
type Mode string

const (
	ModeFail Mode = "fail"
	ModeWarn Mode = "warn"
	ModeOff  Mode = "off"
)

// String, Set and Type make *Mode a flag.Value and a pflag.Value.
func (m *Mode) String() string { return string(*m) }

func (m *Mode) Set(s string) error {
	switch Mode(s) {
	case ModeFail, ModeWarn, ModeOff:
		*m = Mode(s)
		return nil
	}
	return fmt.Errorf("%q is not one of fail, warn, off", s)
}

func (m *Mode) Type() string { return "fail|warn|off" }
