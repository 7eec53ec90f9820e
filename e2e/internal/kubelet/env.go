package kubelet

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/kubernetes/pkg/fieldpath"
	"k8s.io/kubernetes/third_party/forked/golang/expansion"
)

// Objects looks up what a pod's environment and volumes refer to.
type Objects interface {
	ConfigMap(namespace, name string) (*corev1.ConfigMap, error)
	Secret(namespace, name string) (*corev1.Secret, error)
}

// basePath is the PATH of a process whose container sets none, as container images do.
const basePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Env computes a container's environment in Kubernetes order: envFrom, then env (later
// entries win), with $(VAR) references expanded against what came before, then the
// variables the kubelet adds (service host, HOSTNAME). extra holds the latter.
func Env(pod *corev1.Pod, c *corev1.Container, objs Objects, extra map[string]string) ([]string, error) {
	vars := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := vars[k]; !ok {
			order = append(order, k)
		}
		vars[k] = v
	}
	for _, k := range sortedKeys(extra) {
		set(k, extra[k])
	}
	for _, from := range c.EnvFrom {
		data, err := envFromData(pod.Namespace, from, objs)
		if err != nil {
			return nil, err
		}
		for _, k := range sortedKeys(data) {
			set(from.Prefix+k, data[k])
		}
	}
	for _, e := range c.Env {
		v, ok, err := envValue(pod, c, e, objs, vars)
		if err != nil {
			return nil, fmt.Errorf("env %s: %w", e.Name, err)
		}
		if ok {
			set(e.Name, v)
		}
	}
	if _, ok := vars["PATH"]; !ok {
		set("PATH", basePath)
	}
	out := make([]string, 0, len(order))
	for _, k := range order {
		out = append(out, k+"="+vars[k])
	}
	return out, nil
}

// Expand replaces $(VAR) in command and args with the container's environment, as the
// kubelet does.
func Expand(args []string, env []string) []string {
	vars := map[string]string{}
	for _, kv := range env {
		for i := 0; i < len(kv); i++ {
			if kv[i] == '=' {
				vars[kv[:i]] = kv[i+1:]
				break
			}
		}
	}
	mapping := expansion.MappingFuncFor(vars)
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = expansion.Expand(a, mapping)
	}
	return out
}

func envFromData(ns string, from corev1.EnvFromSource, objs Objects) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := objs.ConfigMap(ns, from.ConfigMapRef.Name)
		if err != nil {
			return optional(from.ConfigMapRef.Optional, err)
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := objs.Secret(ns, from.SecretRef.Name)
		if err != nil {
			return optional(from.SecretRef.Optional, err)
		}
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

func optional(opt *bool, err error) (map[string]string, error) {
	if opt != nil && *opt {
		return nil, nil
	}
	return nil, err
}

// envValue resolves one env entry; ok is false for an optional reference that is missing.
func envValue(pod *corev1.Pod, c *corev1.Container, e corev1.EnvVar, objs Objects, vars map[string]string) (string, bool, error) {
	if e.ValueFrom == nil {
		return expansion.Expand(e.Value, expansion.MappingFuncFor(vars)), true, nil
	}
	src := e.ValueFrom
	switch {
	case src.FieldRef != nil:
		v, err := podField(pod, src.FieldRef.FieldPath)
		return v, err == nil, err
	case src.ResourceFieldRef != nil:
		v, err := resourceField(c, src.ResourceFieldRef)
		return v, err == nil, err
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := objs.ConfigMap(pod.Namespace, ref.Name)
		if err == nil {
			if v, ok := cm.Data[ref.Key]; ok {
				return v, true, nil
			}
			err = fmt.Errorf("configmap %s has no key %q", ref.Name, ref.Key)
		}
		return missing(ref.Optional, err)
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := objs.Secret(pod.Namespace, ref.Name)
		if err == nil {
			if v, ok := s.Data[ref.Key]; ok {
				return string(v), true, nil
			}
			err = fmt.Errorf("secret %s has no key %q", ref.Name, ref.Key)
		}
		return missing(ref.Optional, err)
	}
	return "", false, fmt.Errorf("unsupported valueFrom")
}

func missing(opt *bool, err error) (string, bool, error) {
	if opt != nil && *opt {
		return "", false, nil
	}
	return "", false, err
}

// podField is the downward API for env: the kubelet answers spec and status fields itself.
func podField(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.hostIP", "status.hostIPs":
		return pod.Status.HostIP, nil
	case "status.podIP", "status.podIPs":
		return pod.Status.PodIP, nil
	}
	return fieldpath.ExtractFieldPathAsString(pod, path)
}

// resourceField gives a container's requests and limits; an unset limit is the node's
// capacity, as on a real node.
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, _ := strings.Cut(ref.Resource, ".")
	res := corev1.ResourceName(name)
	var q resource.Quantity
	var ok bool
	switch kind {
	case "requests":
		q, ok = c.Resources.Requests[res]
	case "limits":
		if q, ok = c.Resources.Limits[res]; !ok {
			q, ok = nodeCapacity()[res]
		}
	default:
		return "", fmt.Errorf("unsupported resource %q", ref.Resource)
	}
	if !ok {
		return "0", nil
	}
	divisor := ref.Divisor
	if divisor.IsZero() {
		if res == corev1.ResourceCPU {
			divisor = resource.MustParse("1")
		} else {
			return strconv.FormatInt(q.Value(), 10), nil
		}
	}
	// Rounded up, as the kubelet does.
	return strconv.FormatInt((q.MilliValue()+divisor.MilliValue()-1)/divisor.MilliValue(), 10), nil
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
