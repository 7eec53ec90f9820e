package kubelet

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/ptr"
)

// Provisioner is the name of the node's storage provisioner, in the default StorageClass.
const Provisioner = "harness.grape.io/local-dir"

// DefaultStorageClass is like kind's: local directories, bound once a pod is scheduled, deleted
// with their claim.
func DefaultStorageClass() *storagev1.StorageClass {
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{Name: "standard",
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       Provisioner,
		ReclaimPolicy:     ptr.To(corev1.PersistentVolumeReclaimDelete),
		VolumeBindingMode: ptr.To(storagev1.VolumeBindingWaitForFirstConsumer),
	}
}

const (
	annStorageProvisioner = "volume.kubernetes.io/storage-provisioner"
	annSelectedNode       = "volume.kubernetes.io/selected-node"
	annProvisionedBy      = "pv.kubernetes.io/provisioned-by"
)

// startProvisioner runs an external provisioner for the default StorageClass: the real
// persistent-volume controller asks for a volume by annotating the claim, this creates a
// PersistentVolume backed by a directory under Dir/volumes, and the controller binds them.
// The directory lives as long as the volume, so it survives its pods.
func (k *Kubelet) startProvisioner(ctx context.Context, f informers.SharedInformerFactory) error {
	claims := f.Core().V1().PersistentVolumeClaims()
	volumes := f.Core().V1().PersistentVolumes()
	kick := make(chan struct{}, 1)
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { notify(kick) },
		UpdateFunc: func(any, any) { notify(kick) },
	}
	if _, err := claims.Informer().AddEventHandler(handler); err != nil {
		return err
	}
	if _, err := volumes.Informer().AddEventHandler(handler); err != nil {
		return err
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-kick:
			}
			pvcs, _ := claims.Lister().List(labels.Everything())
			for _, pvc := range pvcs {
				if err := k.provision(ctx, pvc); err != nil {
					k.log.Error(err, "provision volume", "claim", pvc.Namespace+"/"+pvc.Name)
				}
			}
			pvs, _ := volumes.Lister().List(labels.Everything())
			for _, pv := range pvs {
				if err := k.reclaim(ctx, pv); err != nil {
					k.log.Error(err, "delete volume", "volume", pv.Name)
				}
			}
		}
	}()
	return nil
}

func notify(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

func (k *Kubelet) volumePath(pvName string) string {
	return filepath.Join(k.cfg.Dir, "volumes", pvName)
}

func (k *Kubelet) provision(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	if pvc.Spec.VolumeName != "" || pvc.Annotations[annStorageProvisioner] != Provisioner ||
		pvc.DeletionTimestamp != nil {
		return nil
	}
	if node, ok := pvc.Annotations[annSelectedNode]; ok && node != k.cfg.NodeName {
		return nil
	}
	name := "pvc-" + string(pvc.UID)
	path := k.volumePath(name)
	if err := os.MkdirAll(path, 0o777); err != nil {
		return err
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{annProvisionedBy: Provisioner}},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              ptr.Deref(pvc.Spec.StorageClassName, ""),
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef: &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource: corev1.PersistentVolumeSource{
				HostPath: &corev1.HostPathVolumeSource{Path: path, Type: ptr.To(corev1.HostPathDirectory)},
			},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: corev1.LabelHostname, Operator: corev1.NodeSelectorOpIn, Values: []string{k.cfg.NodeName},
				}}}},
			}},
		},
	}
	_, err := k.admin.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create volume %s: %w", name, err)
	}
	return nil
}

// reclaim deletes a released volume of this provisioner and its directory.
func (k *Kubelet) reclaim(ctx context.Context, pv *corev1.PersistentVolume) error {
	if pv.Annotations[annProvisionedBy] != Provisioner || pv.Status.Phase != corev1.VolumeReleased ||
		pv.Spec.PersistentVolumeReclaimPolicy != corev1.PersistentVolumeReclaimDelete {
		return nil
	}
	if err := os.RemoveAll(k.volumePath(pv.Name)); err != nil {
		return err
	}
	err := k.admin.CoreV1().PersistentVolumes().Delete(ctx, pv.Name, metav1.DeleteOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}
