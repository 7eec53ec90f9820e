package hosts

import (
	"strings"
	"testing"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func ptr[T any](v T) *T { return &v }

func slice(ns, svc string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: svc + "-abc",
			Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		Endpoints: eps,
	}
}

func TestStatefulSetPodsGetPerPodNamesAndNotReadyOnesAreLeftOut(t *testing.T) {
	records := FromEndpointSlices([]*discoveryv1.EndpointSlice{slice("db", "grape-headless",
		discoveryv1.Endpoint{Addresses: []string{"10.250.1.2"}, Hostname: ptr("grape-0"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)}},
		discoveryv1.Endpoint{Addresses: []string{"10.250.1.3"}, Hostname: ptr("grape-1"),
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(false)}},
	)})
	want := []Record{
		{"grape-headless.db.svc.cluster.local", "10.250.1.2"},
		{"grape-0.grape-headless.db.svc.cluster.local", "10.250.1.2"},
	}
	if len(records) != len(want) || records[0] != want[0] || records[1] != want[1] {
		t.Fatalf("records = %v, want %v", records, want)
	}
}

func TestSlicesWithoutServiceLabelAreIgnored(t *testing.T) {
	s := slice("db", "x", discoveryv1.Endpoint{Addresses: []string{"10.0.0.9"}})
	s.Labels = nil
	if got := FromEndpointSlices([]*discoveryv1.EndpointSlice{s}); len(got) != 0 {
		t.Fatalf("got %v", got)
	}
}

func TestAliasesFollowTheSearchPath(t *testing.T) {
	got := strings.Join(Aliases("db", "grape-0.grape-headless.db.svc.cluster.local"), " ")
	want := "grape-0.grape-headless.db.svc.cluster.local grape-0.grape-headless.db.svc grape-0.grape-headless.db grape-0.grape-headless"
	if got != want {
		t.Fatalf("same namespace: %q", got)
	}
	got = strings.Join(Aliases("other", "grape.db.svc.cluster.local"), " ")
	if got != "grape.db.svc.cluster.local grape.db.svc grape.db" {
		t.Fatalf("other namespace: %q", got)
	}
}

func TestRenderPutsOwnNamesFirstAndGroupsByAddress(t *testing.T) {
	out := string(Render("db",
		[]Record{{"grape-1.h.db.svc.cluster.local", "10.250.1.3"}},
		[]Record{{"h.db.svc.cluster.local", "10.250.1.3"}, {"h.db.svc.cluster.local", "10.250.1.2"}}))
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if !strings.HasPrefix(lines[3], "10.250.1.3\tgrape-1.h.db.svc.cluster.local") {
		t.Fatalf("own line not first: %q", out)
	}
	if lines[4] != "10.250.1.2\th.db.svc.cluster.local h.db.svc h.db h" {
		t.Fatalf("line %q", lines[4])
	}
	if lines[5] != "10.250.1.3\th.db.svc.cluster.local h.db.svc h.db h" {
		t.Fatalf("line %q", lines[5])
	}
}
