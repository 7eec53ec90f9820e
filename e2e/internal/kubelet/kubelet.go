// Package kubelet is a process kubelet: a node agent that runs each container of the pods
// bound to its node as a local process, in a network namespace per pod, mapping images to
// local binaries. It reports to the API server with the node's own credentials, so the Node
// authorizer and NodeRestriction admission check it as they would a real kubelet.
package kubelet

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"grape.io/e2e/internal/images"
	"grape.io/e2e/internal/netns"
)

// Config is what the kubelet needs to know about its node.
type Config struct {
	NodeName string
	Version  string
	Dir      string // holds pods/ (sandboxes, logs, volumes) and volumes/ (persistent volumes)
	Net      *netns.Instance
	Images   images.Map
	// APIServerPort is where pods reach the API server, at the node's address.
	APIServerPort int
	CACert        []byte
	// Launcher is the harness binary, whose `launch` command starts a container's process.
	Launcher string
}

// Kubelet runs the node.
type Kubelet struct {
	cfg     Config
	node    kubernetes.Interface // the node's identity, system:node:<name>
	admin   kubernetes.Interface // for cluster services a real node does not run itself: DNS, storage
	log     logr.Logger
	started metav1.Time

	mu      sync.Mutex
	workers map[types.UID]*podWorker
	slots   *slots
	dns     *dnsTable
	wg      sync.WaitGroup
}

// New prepares a kubelet; Run starts it.
func New(cfg Config, node, admin kubernetes.Interface, log logr.Logger) *Kubelet {
	return &Kubelet{
		cfg: cfg, node: node, admin: admin, log: log, started: metav1.Now(),
		workers: map[types.UID]*podWorker{},
		slots:   newSlots(),
		dns:     newDNSTable(),
	}
}

// Run registers the node and runs its pods until ctx ends, then stops every pod's processes
// and removes their sandboxes.
func (k *Kubelet) Run(ctx context.Context) error {
	if err := k.register(ctx); err != nil {
		return err
	}
	go k.heartbeats(ctx)

	adminInformers := informers.NewSharedInformerFactory(k.admin, 0)
	if err := k.startProvisioner(ctx, adminInformers); err != nil {
		return err
	}
	k.dns.watch(adminInformers, k.log)
	adminInformers.Start(ctx.Done())

	podInformers := informers.NewSharedInformerFactoryWithOptions(k.node, 0,
		informers.WithTweakListOptions(func(o *metav1.ListOptions) {
			o.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", k.cfg.NodeName).String()
		}))
	pods := podInformers.Core().V1().Pods().Informer()
	if _, err := pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.podChanged(ctx, obj.(*corev1.Pod)) },
		UpdateFunc: func(_, obj any) { k.podChanged(ctx, obj.(*corev1.Pod)) },
		DeleteFunc: func(obj any) { k.podRemoved(obj) },
	}); err != nil {
		return err
	}
	podInformers.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), pods.HasSynced) {
		return fmt.Errorf("pod informer did not sync")
	}
	for typ, ok := range adminInformers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("%v informer did not sync", typ)
		}
	}
	k.log.Info("node ready", "node", k.cfg.NodeName)
	<-ctx.Done()
	k.shutdown()
	return nil
}

func (k *Kubelet) podChanged(ctx context.Context, pod *corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	w, ok := k.workers[pod.UID]
	if !ok {
		if ctx.Err() != nil {
			return
		}
		w = newPodWorker(k, pod)
		k.workers[pod.UID] = w
		k.wg.Add(1)
		go func() {
			defer k.wg.Done()
			w.run(ctx)
			k.mu.Lock()
			delete(k.workers, pod.UID)
			k.mu.Unlock()
		}()
	}
	w.update(pod)
}

// podRemoved handles a pod deleted without the kubelet's part (a forced delete).
func (k *Kubelet) podRemoved(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if w, ok := k.workers[pod.UID]; ok {
		w.forget()
	}
}

func (k *Kubelet) shutdown() {
	k.mu.Lock()
	for _, w := range k.workers {
		w.forget()
	}
	k.mu.Unlock()
	k.wg.Wait()
}

func (k *Kubelet) podDir(pod *corev1.Pod) string {
	return filepath.Join(k.cfg.Dir, "pods", fmt.Sprintf("%s_%s_%s", pod.Namespace, pod.Name, pod.UID))
}

// slots hands out pod addresses: slot s is the address .s of the node's /24.
// Addresses are handed out round-robin, so a new pod does not get the address a deleted pod
// had a moment ago (clients may still hold it).
type slots struct {
	mu   sync.Mutex
	used map[int]bool
	last int
}

func newSlots() *slots { return &slots{used: map[int]bool{}, last: 1} }

func (s *slots) take() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := 0; i < 253; i++ {
		n := 2 + (s.last-1+i)%253
		if !s.used[n] {
			s.used[n] = true
			s.last = n
			return n, nil
		}
	}
	return 0, fmt.Errorf("no free pod address")
}

func (s *slots) free(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.used, n)
}
