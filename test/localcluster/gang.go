package localcluster

import (
	"context"
	"fmt"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	schedulingv1beta1 "volcano.sh/apis/pkg/apis/scheduling/v1beta1"
	volcanoclient "volcano.sh/apis/pkg/client/clientset/versioned"
)

// Gang describes a plain Volcano gang: a PodGroup with MinMember and Pods
// pods asking GPUs accelerators each. The gang smoke tests use it
// to check the scheduler without Tandem's controller.
type Gang struct {
	Namespace, Name string
	MinMember       int32
	Pods            int
	GPUs            int64
	SchedulerName   string
}

// PodName is the name of pod i of the gang.
func (g Gang) PodName(i int) string { return g.Name + "-" + strconv.Itoa(i) }

// Create makes the PodGroup and its pods.
func (g Gang) Create(ctx context.Context, c *Cluster) error {
	vc, err := volcanoclient.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	kube, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return err
	}
	pg := &schedulingv1beta1.PodGroup{
		ObjectMeta: metav1.ObjectMeta{Namespace: g.Namespace, Name: g.Name},
		Spec:       schedulingv1beta1.PodGroupSpec{MinMember: g.MinMember, Queue: "default"},
	}
	if _, err := vc.SchedulingV1beta1().PodGroups(g.Namespace).Create(ctx, pg, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create PodGroup %s: %w", g.Name, err)
	}
	scheduler := g.SchedulerName
	if scheduler == "" {
		scheduler = c.opts.SchedulerName
	}
	gpus := *resource.NewQuantity(g.GPUs, resource.DecimalSI)
	for i := 0; i < g.Pods; i++ {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{
				Namespace:   g.Namespace,
				Name:        g.PodName(i),
				Annotations: map[string]string{schedulingv1beta1.KubeGroupNameAnnotationKey: g.Name},
			},
			Spec: corev1.PodSpec{
				SchedulerName: scheduler,
				Containers: []corev1.Container{{
					Name:  "engine",
					Image: "engine:fake",
					Resources: corev1.ResourceRequirements{
						Requests: corev1.ResourceList{GPUResource: gpus},
						Limits:   corev1.ResourceList{GPUResource: gpus},
					},
				}},
			},
		}
		if _, err := kube.CoreV1().Pods(g.Namespace).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create pod %s: %w", pod.Name, err)
		}
	}
	return nil
}

// Placement is where one pod of a gang runs.
type Placement struct {
	Pod, Node, IP, Product, Domain string
}

// WaitRunning waits until every pod of the gang is Running with an address
// and returns their placements.
func (g Gang) WaitRunning(ctx context.Context, c *Cluster, timeout time.Duration) ([]Placement, error) {
	kube, err := kubernetes.NewForConfig(c.restConfig)
	if err != nil {
		return nil, err
	}
	var out []Placement
	err = c.poll(ctx, timeout, func() error {
		out = out[:0]
		for i := 0; i < g.Pods; i++ {
			pod, err := kube.CoreV1().Pods(g.Namespace).Get(ctx, g.PodName(i), metav1.GetOptions{})
			if err != nil {
				return err
			}
			if pod.Status.Phase != corev1.PodRunning || pod.Status.PodIP == "" {
				return fmt.Errorf("pod %s is %s on node %q", pod.Name, pod.Status.Phase, pod.Spec.NodeName)
			}
			node, err := kube.CoreV1().Nodes().Get(ctx, pod.Spec.NodeName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			out = append(out, Placement{
				Pod: pod.Name, Node: node.Name, IP: pod.Status.PodIP,
				Product: node.Labels[GPUProductLabel], Domain: node.Labels[DomainLabel],
			})
		}
		return nil
	})
	return out, err
}
