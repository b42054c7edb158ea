// Command pulumi-resource-kubernetes serves the Pulumi Kubernetes provider at the
// release pinned in go.mod. The schema and Terraform mapping are generated into
// this directory by scripts/toolchain/install.sh before the build (they are build
// artefacts, not sources, and are not committed).
package main

import (
	_ "embed"

	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/provider"
	"github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version"
)

//go:embed schema-embed.json
var schema []byte

//go:embed terraform-mapping-embed.json
var terraformMapping []byte

func main() {
	provider.Serve("kubernetes", version.Version, schema, terraformMapping)
}
