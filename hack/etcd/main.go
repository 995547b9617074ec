// Command etcd is the etcd server at the version pinned in this module's
// go.mod. It lives in its own module so that etcd's dependency graph does not
// leak into Tandem's.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
