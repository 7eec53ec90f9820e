package kubelet

import (
	"sync"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"grape.io/e2e/internal/hosts"
	"grape.io/e2e/internal/netns"
)

// dnsTable stands in for cluster DNS: it keeps every sandbox's hosts file in step with the
// cluster's EndpointSlices (which the real endpoint-slice controller maintains).
type dnsTable struct {
	mu        sync.Mutex
	sandboxes map[types.UID]dnsEntry
	slices    discoverylisters.EndpointSliceLister
	log       logr.Logger
}

type dnsEntry struct {
	namespace string
	own       []hosts.Record
	sandbox   *netns.Sandbox
}

func newDNSTable() *dnsTable { return &dnsTable{sandboxes: map[types.UID]dnsEntry{}} }

func (d *dnsTable) watch(f informers.SharedInformerFactory, log logr.Logger) {
	d.log = log
	inf := f.Discovery().V1().EndpointSlices()
	d.slices = inf.Lister()
	_, _ = inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { d.refresh() },
		UpdateFunc: func(any, any) { d.refresh() },
		DeleteFunc: func(any) { d.refresh() },
	})
}

// file is the hosts file of a pod in namespace ns whose own names are own.
func (d *dnsTable) file(ns string, own []hosts.Record) []byte {
	var records []hosts.Record
	if d.slices != nil {
		if all, err := d.slices.List(labels.Everything()); err == nil {
			records = hosts.FromEndpointSlices(all)
		}
	}
	return hosts.Render(ns, own, records)
}

func (d *dnsTable) add(uid types.UID, e dnsEntry) {
	d.mu.Lock()
	d.sandboxes[uid] = e
	d.mu.Unlock()
}

func (d *dnsTable) remove(uid types.UID) {
	d.mu.Lock()
	delete(d.sandboxes, uid)
	d.mu.Unlock()
}

func (d *dnsTable) refresh() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, e := range d.sandboxes {
		if err := e.sandbox.WriteHosts(d.file(e.namespace, e.own)); err != nil {
			d.log.Error(err, "write hosts file", "sandbox", e.sandbox.Name)
		}
	}
}
