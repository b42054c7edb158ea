/**
 * The tools the project builds from Go modules when they are not installed already: the
 * Pulumi engine (CLI, Node.js language host, Kubernetes provider), the local Kubernetes
 * control plane (etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok) and
 * actionlint. Each has a Go module of its own under scripts/toolchain/go/<dir> that pins
 * exactly one release, so their dependency versions never collide.
 */
import * as fs from "fs";
import * as path from "path";

export type Group = "engine" | "controlplane" | "lint";

export interface Build {
  /** Go package to build, relative to the module (".") or a full import path. */
  readonly pkg: string;
  /** Name of the binary in the component's bin directory. */
  readonly binary: string;
  /** -X linker flags: symbol → value. */
  readonly ldflags?: Readonly<Record<string, string>>;
}

export interface Component {
  readonly name: string;
  readonly group: Group;
  readonly version: string;
  /** Directory under scripts/toolchain/go holding the component's go.mod. */
  readonly moduleDir: string;
  readonly builds: readonly Build[];
  /** Prepares generated sources in the build directory before `go build`. */
  readonly prepare?: (buildDir: string) => void;
}

export const PULUMI_VERSION = "3.274.1";
export const KUBERNETES_PROVIDER_VERSION = "4.25.0";
export const KUBE_VERSION = "1.36.3";
export const ETCD_VERSION = "3.6.16";
export const KWOK_VERSION = "0.8.0";
export const ACTIONLINT_VERSION = "1.7.12";
export const NODE_VERSION = "22.23.3";

const PROVIDER_MODULE = "github.com/pulumi/pulumi-kubernetes/provider/v4";

/** Reads the version of `modulePath` pinned in a component's go.mod. */
export function pinnedModuleVersion(goModDir: string, modulePath: string): string {
  const goMod = fs.readFileSync(path.join(goModDir, "go.mod"), "utf8");
  for (const line of goMod.split("\n")) {
    const words = line
      .trim()
      .replace(/^require\s+/, "")
      .split(/\s+/);
    if (words[0] === modulePath && words[1]) {
      return words[1];
    }
  }
  throw new Error(`${modulePath} is not required by ${path.join(goModDir, "go.mod")}`);
}

/**
 * The provider's main package embeds a schema and a Terraform mapping that are generated
 * at release time and not shipped in the module; generate them from the module's sources
 * with the release version stamped in, as the provider's own go:generate step does.
 */
function prepareKubernetesProvider(buildDir: string): void {
  const modCache = process.env.GOMODCACHE ?? path.join(process.env.HOME ?? "/root", "go", "pkg", "mod");
  const version = pinnedModuleVersion(buildDir, PROVIDER_MODULE);
  const src = path.join(modCache, `${PROVIDER_MODULE}@${version}`, "cmd", "pulumi-resource-kubernetes");
  if (!fs.existsSync(src)) {
    throw new Error(`provider sources not in the module cache at ${src} (go mod download failed?)`);
  }
  const schema = JSON.parse(fs.readFileSync(path.join(src, "schema.json"), "utf8")) as Record<
    string,
    unknown
  >;
  schema.version = KUBERNETES_PROVIDER_VERSION;
  fs.writeFileSync(path.join(buildDir, "schema-embed.json"), JSON.stringify(schema));
  const mapping: unknown = JSON.parse(fs.readFileSync(path.join(src, "terraform-mapping.json"), "utf8"));
  fs.writeFileSync(path.join(buildDir, "terraform-mapping-embed.json"), JSON.stringify(mapping));
}

const kubeLdflags: Record<string, string> = {
  "k8s.io/component-base/version.gitVersion": `v${KUBE_VERSION}`,
  "k8s.io/component-base/version.gitMajor": KUBE_VERSION.split(".")[0],
  "k8s.io/component-base/version.gitMinor": KUBE_VERSION.split(".")[1],
  "k8s.io/component-base/version.gitTreeState": "clean",
  "k8s.io/client-go/pkg/version.gitVersion": `v${KUBE_VERSION}`,
  "k8s.io/client-go/pkg/version.gitMajor": KUBE_VERSION.split(".")[0],
  "k8s.io/client-go/pkg/version.gitMinor": KUBE_VERSION.split(".")[1],
};

export const COMPONENTS: readonly Component[] = [
  {
    name: "pulumi",
    group: "engine",
    version: PULUMI_VERSION,
    moduleDir: "pulumi",
    builds: [
      {
        pkg: "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi",
        binary: "pulumi",
        ldflags: { "github.com/pulumi/pulumi/sdk/v3/go/common/version.Version": `v${PULUMI_VERSION}` },
      },
    ],
  },
  {
    name: "pulumi-language-nodejs",
    group: "engine",
    version: PULUMI_VERSION,
    moduleDir: "language-nodejs",
    builds: [{ pkg: ".", binary: "pulumi-language-nodejs", ldflags: { "main.version": PULUMI_VERSION } }],
  },
  {
    name: "pulumi-resource-kubernetes",
    group: "engine",
    version: KUBERNETES_PROVIDER_VERSION,
    moduleDir: "kubernetes",
    prepare: prepareKubernetesProvider,
    builds: [
      {
        pkg: ".",
        binary: "pulumi-resource-kubernetes",
        ldflags: { [`${PROVIDER_MODULE}/pkg/version.Version`]: KUBERNETES_PROVIDER_VERSION },
      },
    ],
  },
  {
    name: "etcd",
    group: "controlplane",
    version: ETCD_VERSION,
    moduleDir: "etcd",
    builds: [{ pkg: ".", binary: "etcd" }],
  },
  {
    name: "kube",
    group: "controlplane",
    version: KUBE_VERSION,
    moduleDir: "kube",
    builds: ["kube-apiserver", "kube-controller-manager", "kube-scheduler"].map((b) => ({
      pkg: `k8s.io/kubernetes/cmd/${b}`,
      binary: b,
      ldflags: kubeLdflags,
    })),
  },
  {
    name: "kwok",
    group: "controlplane",
    version: KWOK_VERSION,
    moduleDir: "kwok",
    builds: [
      {
        pkg: "sigs.k8s.io/kwok/cmd/kwok",
        binary: "kwok",
        ldflags: { "sigs.k8s.io/kwok/pkg/consts.Version": KWOK_VERSION },
      },
    ],
  },
  {
    name: "actionlint",
    group: "lint",
    version: ACTIONLINT_VERSION,
    moduleDir: "actionlint",
    builds: [
      {
        pkg: "github.com/rhysd/actionlint/cmd/actionlint",
        binary: "actionlint",
        ldflags: { "github.com/rhysd/actionlint.version": ACTIONLINT_VERSION },
      },
    ],
  },
];
