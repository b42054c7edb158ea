// Command etcd runs the etcd server release pinned in go.mod. `go install` of
// etcd's own main refuses its replace directives; this module depends on the
// server library instead and builds the same binary.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
