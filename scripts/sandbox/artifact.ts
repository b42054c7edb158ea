/**
 * The artifact the sandbox reports for an image, as its kwok stages write a pod's `imageID`
 * (scripts/sandbox/kwok-stages.yaml): the digest an image reference pins, or for a tag a
 * deterministic digest of the reference (sha256 of its text), under the image's registry and
 * repository. The demo and the tests sign evidence of the artifact the sandbox would report.
 */
import * as crypto from "crypto";
import { Artifact, DIGEST, SEMVER, splitImage } from "../../policy/contract";

export function sandboxArtifact(image: string): Artifact {
  const parts = splitImage(image);
  if (parts?.registry === undefined) throw new Error(`sandboxArtifact: ${image} names no registry`);
  const digest = parts.digest ?? `sha256:${crypto.createHash("sha256").update(image).digest("hex")}`;
  return { registry: parts.registry, repository: parts.repository, digest };
}

/**
 * Which catalog model (scripts/sandbox/service/models.ts) the sandbox's registry holds under an
 * image reference that runs `version`, or undefined when it holds none:
 * - a semantic version: the model of its release `x.y.z` (every pre-release and build of a
 *   release is that release's model: `1.1.0-rc.1` and `1.1.0+b7` serve 1.1.0);
 * - a digest: the catalog version whose tagged image in the same repository has that digest
 *   (`sandboxArtifact` of `<registry>/<repository>:<catalog version>`).
 */
export function sandboxModel(image: string, version: string, catalog: readonly string[]): string | undefined {
  if (DIGEST.test(version)) {
    const parts = splitImage(image);
    if (parts?.registry === undefined) return undefined;
    return catalog.find(
      (v) => sandboxArtifact(`${parts.registry}/${parts.repository}:${v}`).digest === version,
    );
  }
  if (!SEMVER.test(version)) return undefined;
  const release = version.split(/[-+]/)[0];
  return catalog.includes(release) ? release : undefined;
}
