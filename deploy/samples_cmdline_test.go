package deploy

// Reading what a container runs: its exec-form command, or the simple
// commands of a `bash -c` script, and the engine's flags in them.

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/google/go-cmp/cmp"

	"github.com/tandem-serving/tandem/api/v1alpha1"
)

// command is one simple command: its words after quote removal.
type command []string

// is reports whether the command, past `exec` and keywords, starts with words.
func (c command) is(words ...string) bool {
	rest := c.trimmed()
	return len(rest) >= len(words) && slices.Equal(rest[:len(words)], words)
}

func (c command) trimmed() command {
	for len(c) > 0 && (slices.Contains([]string{"exec", "do", "then", "else"}, c[0]) || isAssignment(c[0])) {
		c = c[1:]
	}
	return c
}

func isAssignment(w string) bool {
	i := strings.IndexByte(w, '=')
	return i > 0 && shellName.MatchString(w[:i])
}

var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// commandsOf returns what a container runs: command+args as one command,
// or the commands of the script of `sh -c SCRIPT` / `bash -c SCRIPT`.
func commandsOf(c *corev1.Container) []command {
	argv := slices.Concat(c.Command, c.Args)
	if len(argv) >= 3 && slices.Contains([]string{"sh", "bash", "/bin/sh", "/bin/bash"}, argv[0]) && argv[1] == "-c" {
		return shellCommands(argv[2])
	}
	return []command{argv}
}

// shellCommands splits a script into simple commands at newlines, ';', '&'
// and '|', honouring quotes, backslashes, comments and $( ) (kept as one
// word). It is enough for the samples' scripts, not a shell.
func shellCommands(s string) []command {
	var cmds []command
	var cur command
	var word strings.Builder
	inWord := false
	endWord := func() {
		if inWord {
			cur = append(cur, word.String())
			word.Reset()
			inWord = false
		}
	}
	endCmd := func() {
		endWord()
		if len(cur) > 0 {
			cmds = append(cmds, cur)
			cur = nil
		}
	}
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch == '\\' && i+1 < len(s):
			if s[i+1] != '\n' { // a backslash-newline joins lines
				word.WriteByte(s[i+1])
				inWord = true
			}
			i++
		case ch == '\'':
			end := strings.IndexByte(s[i+1:], '\'') + i + 1
			if end <= i {
				end = len(s)
			}
			word.WriteString(s[i+1 : min(end, len(s))])
			inWord, i = true, end
		case ch == '"':
			end := skipQuoted(s, i)
			word.WriteString(s[i+1 : max(i+1, end-1)])
			inWord, i = true, end-1
		case ch == '$' && i+1 < len(s) && s[i+1] == '(':
			end := skipSubst(s, i+1)
			word.WriteString(s[i:end])
			inWord, i = true, end-1
		case ch == '#' && !inWord:
			for i < len(s) && s[i] != '\n' {
				i++
			}
			endCmd()
		case ch == '\n' || ch == ';' || ch == '&' || ch == '|':
			endCmd()
		case ch == ' ' || ch == '\t':
			endWord()
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	endCmd()
	return cmds
}

// skipQuoted returns the index after the double-quoted string at s[i].
func skipQuoted(s string, i int) int {
	for j := i + 1; j < len(s); j++ {
		switch {
		case s[j] == '\\':
			j++
		case s[j] == '$' && j+1 < len(s) && s[j+1] == '(':
			j = skipSubst(s, j+1) - 1
		case s[j] == '"':
			return j + 1
		}
	}
	return len(s)
}

// skipSubst returns the index after the parenthesis that closes s[i].
func skipSubst(s string, i int) int {
	depth := 0
	for j := i; j < len(s); j++ {
		switch s[j] {
		case '\'':
			if k := strings.IndexByte(s[j+1:], '\''); k >= 0 {
				j += k + 1
			}
		case '"':
			j = skipQuoted(s, j) - 1
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				return j + 1
			}
		}
	}
	return len(s)
}

// invocation is the engine server command: positional words and flags.
type invocation struct {
	at         int // index of the command among the container's commands
	positional []string
	flags      map[string][]string // "--name" → values, "" for a bare flag
}

func (v *invocation) last(name string) string {
	if vals := v.flags[name]; len(vals) > 0 {
		return vals[len(vals)-1]
	}
	return ""
}

func (v *invocation) model() string {
	if m := v.last("--model"); m != "" {
		return m
	}
	if m := v.last("--model-path"); m != "" {
		return m
	}
	if len(v.positional) > 0 {
		return v.positional[0]
	}
	return ""
}

// intFlag returns the first of names that is set, as a number, or def.
func (v *invocation) intFlag(def int, names ...string) (int, error) {
	for _, n := range names {
		if raw := v.last(n); raw != "" {
			i, err := strconv.Atoi(raw)
			if err != nil {
				return 0, fmt.Errorf("%s %q is not a number", n, raw)
			}
			return i, nil
		}
	}
	return def, nil
}

// findEngine finds the engine's server command among cmds.
func findEngine(kind v1alpha1.EngineKind, cmds []command) *invocation {
	programs := map[v1alpha1.EngineKind][][]string{
		v1alpha1.EngineVLLM:   {{"vllm", "serve"}, {"python3", "-m", "vllm.entrypoints.openai.api_server"}},
		v1alpha1.EngineSGLang: {{"python3", "-m", "sglang.launch_server"}, {"python", "-m", "sglang.launch_server"}},
	}[kind]
	for i, c := range cmds {
		for _, prog := range programs {
			if c.is(prog...) {
				return parseFlags(i, c.trimmed()[len(prog):])
			}
		}
	}
	return nil
}

// parseFlags reads "--name=value", "--name value..." (a flag takes the words
// up to the next flag, as vLLM's multi-valued --served-model-name does) and
// positional words before the first flag.
func parseFlags(at int, words []string) *invocation {
	v := &invocation{at: at, flags: map[string][]string{}}
	name := ""
	for _, w := range words {
		switch {
		case strings.HasPrefix(w, "-") && len(w) > 1 && (w[1] == '-' || w[1] < '0' || w[1] > '9'):
			name = w
			if k, val, ok := strings.Cut(w, "="); ok {
				name = k
				v.flags[name] = append(v.flags[name], val)
				name = ""
			} else if _, seen := v.flags[name]; !seen {
				v.flags[name] = nil
			}
		case name != "":
			v.flags[name] = append(v.flags[name], w)
		default:
			v.positional = append(v.positional, w)
		}
	}
	return v
}

func TestShellCommands(t *testing.T) {
	cases := []struct {
		name   string
		script string
		want   []command
	}{
		{
			name:   "quotes and a continued line",
			script: "exec vllm serve m \\\n  --kv '{\"a\":1}' --x \"y z\"\n",
			want:   []command{{"exec", "vllm", "serve", "m", "--kv", `{"a":1}`, "--x", "y z"}},
		},
		{
			name:   "separators and comments",
			script: "set -eu # strict\n# a whole line\nray start --head && echo ok; sleep 1 | cat",
			want:   []command{{"set", "-eu"}, {"ray", "start", "--head"}, {"echo", "ok"}, {"sleep", "1"}, {"cat"}},
		},
		{
			name:   "a command substitution with quotes is one word",
			script: `until [ "$(python3 -c 'print(")")' || echo 0)" -ge "$N" ]; do sleep 5; done`,
			want: []command{
				{"until", "[", `$(python3 -c 'print(")")' || echo 0)`, "-ge", "$N", "]"},
				{"do", "sleep", "5"}, {"done"},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(tc.want, shellCommands(tc.script)); diff != "" {
				t.Errorf("commands (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseFlags(t *testing.T) {
	got := parseFlags(0, []string{"model", "--a=1", "--b", "x", "y", "--bare", "-tp", "2"})
	want := &invocation{
		positional: []string{"model"},
		flags:      map[string][]string{"--a": {"1"}, "--b": {"x", "y"}, "--bare": nil, "-tp": {"2"}},
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(invocation{})); diff != "" {
		t.Errorf("parseFlags (-want +got):\n%s", diff)
	}
	if tp, err := got.intFlag(1, "--tensor-parallel-size", "-tp"); err != nil || tp != 2 {
		t.Errorf("intFlag(-tp) = %d, %v; want 2", tp, err)
	}
	if _, err := got.intFlag(1, "--b"); err == nil {
		t.Error(`intFlag(--b) with value "y" did not fail`)
	}
}
