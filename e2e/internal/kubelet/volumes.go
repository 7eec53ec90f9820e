package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	"grape.io/e2e/internal/hosts"
)

// apiTimeout bounds each API call made while setting a pod up.
const apiTimeout = 10 * time.Second

// ConfigMap reads a ConfigMap a pod refers to (the Node authorizer allows exactly those).
func (k *Kubelet) ConfigMap(ns, name string) (*corev1.ConfigMap, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	return k.node.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{})
}

// Secret reads a Secret a pod refers to.
func (k *Kubelet) Secret(ns, name string) (*corev1.Secret, error) {
	ctx, cancel := context.WithTimeout(context.Background(), apiTimeout)
	defer cancel()
	return k.node.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
}

// setup prepares everything the pod's containers share: volumes, credentials, the network
// namespace and its hosts file. It is retried until it succeeds (a claim may not be bound yet).
func (w *podWorker) setup(ctx context.Context) error {
	volumes := map[string]string{}
	for _, v := range w.pod.Spec.Volumes {
		dir, err := w.volume(ctx, v)
		if err != nil {
			return fmt.Errorf("volume %q: %w", v.Name, err)
		}
		volumes[v.Name] = dir
	}
	env := map[string]string{"HOSTNAME": podHostname(w.pod)}
	if w.apiAccess() {
		kubeconfig, err := w.writeKubeconfig(ctx)
		if err != nil {
			return err
		}
		env["KUBECONFIG"] = kubeconfig
		env["KUBERNETES_SERVICE_HOST"] = w.k.cfg.Net.Gateway().String()
		env["KUBERNETES_SERVICE_PORT"] = strconv.Itoa(w.k.cfg.APIServerPort)
	}
	slot, err := w.k.slots.take()
	if err != nil {
		return err
	}
	ip := w.k.cfg.Net.PodIP(slot).String()
	own := ownNames(w.pod, ip)
	sb, err := w.k.cfg.Net.NewSandbox(slot, w.k.dns.file(w.pod.Namespace, own), hosts.ResolvConf(w.pod.Namespace))
	if err != nil {
		w.k.slots.free(slot)
		return err
	}
	w.slot, w.sandbox, w.volumes, w.env = slot, sb, volumes, env
	w.k.dns.add(w.uid, dnsEntry{namespace: w.pod.Namespace, own: own, sandbox: sb})
	w.view.SandboxReady = true
	w.view.PodIP = ip
	return nil
}

// apiAccess is true when the pod has the service-account token volume that admission adds
// unless automounting is turned off.
func (w *podWorker) apiAccess() bool {
	for _, v := range w.pod.Spec.Volumes {
		if v.Projected != nil && strings.HasPrefix(v.Name, "kube-api-access-") {
			return true
		}
	}
	return false
}

// writeKubeconfig gives the pod a kubeconfig holding a token of its service account bound to
// the pod: kube-rs and client-go read KUBECONFIG before the in-cluster files.
func (w *podWorker) writeKubeconfig(ctx context.Context) (string, error) {
	token, err := w.token(ctx, nil, 24*3600)
	if err != nil {
		return "", err
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["cluster"] = &clientcmdapi.Cluster{
		Server:                   fmt.Sprintf("https://%s:%d", w.k.cfg.Net.Gateway(), w.k.cfg.APIServerPort),
		CertificateAuthorityData: w.k.cfg.CACert,
	}
	cfg.AuthInfos["pod"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["pod"] = &clientcmdapi.Context{Cluster: "cluster", AuthInfo: "pod", Namespace: w.pod.Namespace}
	cfg.CurrentContext = "pod"
	path := filepath.Join(w.dir, "kubeconfig")
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return "", err
	}
	return path, clientcmd.WriteToFile(*cfg, path)
}

// token asks for a token of the pod's service account, bound to the pod, as the kubelet does.
func (w *podWorker) token(ctx context.Context, audiences []string, seconds int64) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	sa := w.pod.Spec.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	tr, err := w.k.node.CoreV1().ServiceAccounts(w.pod.Namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{
			Audiences:         audiences,
			ExpirationSeconds: ptr.To(seconds),
			BoundObjectRef:    &authenticationv1.BoundObjectReference{Kind: "Pod", APIVersion: "v1", Name: w.pod.Name, UID: w.uid},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("token for service account %s: %w", sa, err)
	}
	return tr.Status.Token, nil
}

// volume makes v available as a host directory.
func (w *podWorker) volume(ctx context.Context, v corev1.Volume) (string, error) {
	dir := filepath.Join(w.dir, "volumes", v.Name)
	switch {
	case v.PersistentVolumeClaim != nil:
		return w.claimDir(ctx, v.PersistentVolumeClaim.ClaimName)
	case v.HostPath != nil:
		return v.HostPath.Path, os.MkdirAll(v.HostPath.Path, 0o755)
	case v.EmptyDir != nil:
		return dir, os.MkdirAll(dir, 0o777)
	case v.ConfigMap != nil:
		files, err := w.configMapFiles(v.ConfigMap.Name, v.ConfigMap.Items, v.ConfigMap.Optional)
		return dir, writeFiles(dir, files, v.ConfigMap.DefaultMode, err)
	case v.Secret != nil:
		files, err := w.secretFiles(v.Secret.SecretName, v.Secret.Items, v.Secret.Optional)
		return dir, writeFiles(dir, files, v.Secret.DefaultMode, err)
	case v.DownwardAPI != nil:
		files, err := w.downwardFiles(v.DownwardAPI.Items)
		return dir, writeFiles(dir, files, v.DownwardAPI.DefaultMode, err)
	case v.Projected != nil:
		files, err := w.projectedFiles(ctx, v.Projected.Sources)
		return dir, writeFiles(dir, files, v.Projected.DefaultMode, err)
	}
	return "", fmt.Errorf("unsupported volume type")
}

// claimDir is the directory of the volume bound to the claim; until it is bound the pod waits.
func (w *podWorker) claimDir(ctx context.Context, claim string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, apiTimeout)
	defer cancel()
	pvc, err := w.k.node.CoreV1().PersistentVolumeClaims(w.pod.Namespace).Get(ctx, claim, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	if pvc.Status.Phase != corev1.ClaimBound {
		return "", fmt.Errorf("claim %s is %s", claim, pvc.Status.Phase)
	}
	pv, err := w.k.node.CoreV1().PersistentVolumes().Get(ctx, pvc.Spec.VolumeName, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	switch {
	case pv.Spec.HostPath != nil:
		return pv.Spec.HostPath.Path, nil
	case pv.Spec.Local != nil:
		return pv.Spec.Local.Path, nil
	}
	return "", fmt.Errorf("volume %s is neither hostPath nor local", pv.Name)
}

// file is one file of a configMap, secret, downwardAPI or projected volume.
type file struct {
	path string
	data []byte
	mode *int32
}

func (w *podWorker) configMapFiles(name string, items []corev1.KeyToPath, opt *bool) ([]file, error) {
	cm, err := w.k.ConfigMap(w.pod.Namespace, name)
	if err != nil {
		if ptr.Deref(opt, false) {
			return nil, nil
		}
		return nil, err
	}
	data := map[string][]byte{}
	for k, v := range cm.Data {
		data[k] = []byte(v)
	}
	for k, v := range cm.BinaryData {
		data[k] = v
	}
	return keyFiles("configmap "+name, data, items)
}

func (w *podWorker) secretFiles(name string, items []corev1.KeyToPath, opt *bool) ([]file, error) {
	s, err := w.k.Secret(w.pod.Namespace, name)
	if err != nil {
		if ptr.Deref(opt, false) {
			return nil, nil
		}
		return nil, err
	}
	return keyFiles("secret "+name, s.Data, items)
}

// keyFiles is every key as a file named after it, or only the listed items at their paths.
func keyFiles(what string, data map[string][]byte, items []corev1.KeyToPath) ([]file, error) {
	var out []file
	if len(items) == 0 {
		for _, k := range sortedKeys(data) {
			out = append(out, file{path: k, data: data[k]})
		}
		return out, nil
	}
	for _, it := range items {
		v, ok := data[it.Key]
		if !ok {
			return nil, fmt.Errorf("%s has no key %q", what, it.Key)
		}
		out = append(out, file{path: it.Path, data: v, mode: it.Mode})
	}
	return out, nil
}

func (w *podWorker) downwardFiles(items []corev1.DownwardAPIVolumeFile) ([]file, error) {
	var out []file
	for _, it := range items {
		var v string
		var err error
		switch {
		case it.FieldRef != nil:
			v, err = podField(w.pod, it.FieldRef.FieldPath)
		case it.ResourceFieldRef != nil:
			v, err = resourceField(w.containerNamed(it.ResourceFieldRef.ContainerName), it.ResourceFieldRef)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", it.Path, err)
		}
		out = append(out, file{path: it.Path, data: []byte(v), mode: it.Mode})
	}
	return out, nil
}

func (w *podWorker) containerNamed(name string) *corev1.Container {
	for i := range w.pod.Spec.Containers {
		if w.pod.Spec.Containers[i].Name == name {
			return &w.pod.Spec.Containers[i]
		}
	}
	return &corev1.Container{}
}

func (w *podWorker) projectedFiles(ctx context.Context, sources []corev1.VolumeProjection) ([]file, error) {
	var out []file
	for _, src := range sources {
		var files []file
		var err error
		switch {
		case src.ServiceAccountToken != nil:
			var token string
			t := src.ServiceAccountToken
			var audiences []string
			if t.Audience != "" {
				audiences = []string{t.Audience}
			}
			token, err = w.token(ctx, audiences, ptr.Deref(t.ExpirationSeconds, 3600))
			files = []file{{path: t.Path, data: []byte(token)}}
		case src.ConfigMap != nil:
			files, err = w.configMapFiles(src.ConfigMap.Name, src.ConfigMap.Items, src.ConfigMap.Optional)
		case src.Secret != nil:
			files, err = w.secretFiles(src.Secret.Name, src.Secret.Items, src.Secret.Optional)
		case src.DownwardAPI != nil:
			files, err = w.downwardFiles(src.DownwardAPI.Items)
		default:
			err = fmt.Errorf("unsupported projection")
		}
		if err != nil {
			return nil, err
		}
		out = append(out, files...)
	}
	return out, nil
}

// writeFiles writes a volume's files with their own mode, else the volume's defaultMode, else
// 0644 (the API's default).
func writeFiles(dir string, files []file, defaultMode *int32, err error) error {
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		mode := ptr.Deref(f.mode, ptr.Deref(defaultMode, 0o644))
		path := filepath.Join(dir, f.path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, f.data, os.FileMode(mode)); err != nil {
			return err
		}
	}
	return nil
}
