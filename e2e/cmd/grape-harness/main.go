// Command grape-harness runs a Kubernetes test cluster on this machine: a real control plane
// and a process kubelet whose pods are local processes.
//
//	grape-harness up --dir DIR --bin-dir BINDIR [--image NAME=PATH]...   runs until SIGTERM/SIGINT
//	grape-harness down --dir DIR                                          stops it, cleans up
//
// `up` writes DIR/kubeconfig (cluster-admin, on loopback) and, once the cluster is ready,
// DIR/harness.json. `launch` is internal: the kubelet runs each container through it.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"k8s.io/klog/v2"

	"grape.io/e2e/internal/images"
	"grape.io/e2e/internal/launch"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	var err error
	switch os.Args[1] {
	case "up":
		err = upCommand(os.Args[2:])
	case "down":
		err = downCommand(os.Args[2:])
	case "launch":
		err = launchCommand(os.Args[2:])
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "grape-harness:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: grape-harness up --dir DIR --bin-dir BINDIR [--image NAME=PATH]... | down --dir DIR")
	os.Exit(2)
}

// listFlag collects a repeated flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func upCommand(args []string) error {
	fs := flag.NewFlagSet("up", flag.ExitOnError)
	var opts upOptions
	var imageFlags listFlag
	var imagesFile string
	fs.StringVar(&opts.dir, "dir", "", "directory for the cluster's state, logs and kubeconfig (required)")
	fs.StringVar(&opts.binDir, "bin-dir", "", "directory holding kube-apiserver, kube-controller-manager, kube-scheduler and etcd (required)")
	fs.StringVar(&opts.nodeName, "node-name", "grape-e2e-node", "name of the process kubelet's node")
	fs.StringVar(&opts.version, "version", "v1.34.4", "Kubernetes version the node reports")
	fs.Var(&imageFlags, "image", "NAME=PATH: containers of image NAME (any tag, any registry) run the binary PATH; repeatable")
	fs.StringVar(&imagesFile, "images", "", "file of NAME=PATH lines, as --image")
	klog.InitFlags(fs)
	_ = fs.Parse(args)
	if opts.dir == "" || opts.binDir == "" {
		return fmt.Errorf("up needs --dir and --bin-dir")
	}
	opts.images = images.Map{}
	if imagesFile != "" {
		if err := opts.images.ParseFile(imagesFile); err != nil {
			return err
		}
	}
	for _, e := range imageFlags {
		if err := opts.images.Parse(e); err != nil {
			return err
		}
	}
	return up(opts)
}

func downCommand(args []string) error {
	fs := flag.NewFlagSet("down", flag.ExitOnError)
	dir := fs.String("dir", "", "the directory given to up (required)")
	_ = fs.Parse(args)
	if *dir == "" {
		return fmt.Errorf("down needs --dir")
	}
	return down(*dir)
}

func launchCommand(args []string) error {
	fs := flag.NewFlagSet("launch", flag.ExitOnError)
	var spec launch.Spec
	var mounts listFlag
	fs.StringVar(&spec.Hostname, "hostname", "", "the pod's hostname")
	fs.StringVar(&spec.WorkDir, "workdir", "/", "working directory")
	fs.Var(&mounts, "mount", "SOURCE:TARGET[:ro] bind mount; repeatable")
	_ = fs.Parse(args)
	spec.Argv = fs.Args()
	if len(spec.Argv) == 0 {
		return fmt.Errorf("launch needs a program after --")
	}
	for _, m := range mounts {
		mount, err := launch.ParseMount(m)
		if err != nil {
			return err
		}
		spec.Mounts = append(spec.Mounts, mount)
	}
	return launch.Exec(spec)
}
