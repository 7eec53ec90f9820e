// Package hosts computes the /etc/hosts a pod sees: the names cluster DNS would answer for
// Services and their endpoints, written as a hosts file so that any resolver finds them
// without a DNS server.
package hosts

import (
	"fmt"
	"sort"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// ClusterDomain is the DNS suffix of every Service name.
const ClusterDomain = "cluster.local"

// Record maps one fully qualified name to one address.
type Record struct {
	FQDN string
	IP   string
}

// ServiceFQDN is `<name>.<namespace>.svc.cluster.local`.
func ServiceFQDN(name, namespace string) string {
	return fmt.Sprintf("%s.%s.svc.%s", name, namespace, ClusterDomain)
}

// FromEndpointSlices gives the records cluster DNS serves for the slices' services: the
// service name for each ready address and, for an endpoint with a hostname (a pod whose
// subdomain is the service, as a StatefulSet's pods under their headless service),
// `<hostname>.<service>...`. Unlike cluster DNS, a non-headless service's name also resolves to
// its endpoints, as there is no proxy behind cluster IPs here.
func FromEndpointSlices(slices []*discoveryv1.EndpointSlice) []Record {
	var out []Record
	for _, slice := range slices {
		svc := slice.Labels[discoveryv1.LabelServiceName]
		if svc == "" {
			continue
		}
		for _, ep := range slice.Endpoints {
			if ep.Conditions.Ready != nil && !*ep.Conditions.Ready {
				continue
			}
			for _, ip := range ep.Addresses {
				out = append(out, Record{ServiceFQDN(svc, slice.Namespace), ip})
				if ep.Hostname != nil && *ep.Hostname != "" {
					out = append(out, Record{*ep.Hostname + "." + ServiceFQDN(svc, slice.Namespace), ip})
				}
			}
		}
	}
	return out
}

// Render writes the hosts file of a pod in namespace ns. Each name also appears in the short
// forms the pod's DNS search path (`<ns>.svc.cluster.local svc.cluster.local cluster.local`)
// would complete, since resolvers apply search domains to DNS only, not to the hosts file.
// own comes first, as the kubelet writes the pod's own names at the top.
func Render(ns string, own, records []Record) []byte {
	var b strings.Builder
	b.WriteString("# Written by the grape test harness's process kubelet.\n")
	b.WriteString("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
	for _, group := range [][]Record{own, sorted(records)} {
		for _, line := range lines(ns, group) {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return []byte(b.String())
}

// lines groups names by address, keeping the first appearance order of addresses.
func lines(ns string, records []Record) []string {
	var order []string
	names := map[string][]string{}
	seen := map[Record]bool{}
	for _, r := range records {
		if seen[r] {
			continue
		}
		seen[r] = true
		if _, ok := names[r.IP]; !ok {
			order = append(order, r.IP)
		}
		names[r.IP] = append(names[r.IP], Aliases(ns, r.FQDN)...)
	}
	out := make([]string, 0, len(order))
	for _, ip := range order {
		out = append(out, ip+"\t"+strings.Join(names[ip], " "))
	}
	return out
}

// Aliases lists fqdn and the shorter names that resolve to it from namespace ns.
func Aliases(ns, fqdn string) []string {
	out := []string{fqdn}
	rest, ok := strings.CutSuffix(fqdn, "."+ClusterDomain)
	if !ok {
		return out
	}
	out = append(out, rest) // <x>.<ns>.svc, completed by cluster.local
	if r, ok := strings.CutSuffix(rest, ".svc"); ok {
		out = append(out, r) // <x>.<ns>, completed by svc.cluster.local
		if r2, ok := strings.CutSuffix(r, "."+ns); ok {
			out = append(out, r2) // <x>, completed by <ns>.svc.cluster.local
		}
	}
	return out
}

func sorted(records []Record) []Record {
	out := append([]Record(nil), records...)
	sort.Slice(out, func(i, j int) bool {
		if out[i].IP != out[j].IP {
			return out[i].IP < out[j].IP
		}
		return out[i].FQDN < out[j].FQDN
	})
	return out
}

// ResolvConf points the pod at a resolver that refuses at once (nothing listens on the pod's
// own loopback), with the search path a pod in namespace ns has.
func ResolvConf(ns string) []byte {
	return []byte(fmt.Sprintf("nameserver 127.0.0.1\nsearch %s.svc.%s svc.%s %s\noptions ndots:5\n",
		ns, ClusterDomain, ClusterDomain, ClusterDomain))
}
