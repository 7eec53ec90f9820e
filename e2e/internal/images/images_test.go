package images

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestRepositoryStripsTagAndDigestButNotRegistryPort(t *testing.T) {
	cases := map[string]string{
		"grape-node":     "grape-node",
		"grape-node:0.1": "grape-node",
		"reg:5000/org/grape-node:1.2@sha256:beef": "reg:5000/org/grape-node",
		"reg:5000/org/grape-node":                 "reg:5000/org/grape-node",
	}
	for in, want := range cases {
		if got := Repository(in); got != want {
			t.Errorf("Repository(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestBinaryMatchesFullNameOrLastSegment(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "grape-node")
	if err := os.WriteFile(bin, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	m := Map{}
	if err := m.Parse("grape-node=" + bin); err != nil {
		t.Fatal(err)
	}
	for _, image := range []string{"grape-node:latest", "ghcr.io/org/grape-node:1.0"} {
		if got, err := m.Binary(image); err != nil || got != bin {
			t.Errorf("Binary(%q) = %q, %v", image, got, err)
		}
	}
	if _, err := m.Binary("nginx:1.27"); err == nil {
		t.Error("an unmapped image resolved")
	}
	if err := m.Parse("missing-path"); err == nil {
		t.Error("an entry without = was accepted")
	}
}

func TestArgvFollowsEntrypointAndCommandRules(t *testing.T) {
	bin := "/cache/debug/grape-node"
	cases := []struct {
		command, args, want []string
	}{
		{nil, []string{"--data-dir", "/d"}, []string{bin, "--data-dir", "/d"}},
		{[]string{"/usr/local/bin/grape-node"}, []string{"-v"}, []string{bin, "-v"}},
		{[]string{"sh", "-c", "echo hi"}, nil, []string{"sh", "-c", "echo hi"}},
	}
	for _, c := range cases {
		if got := Argv(bin, c.command, c.args); !reflect.DeepEqual(got, c.want) {
			t.Errorf("Argv(%v, %v) = %v, want %v", c.command, c.args, got, c.want)
		}
	}
}
