/**
 * The artifact the sandbox reports for an image, as its kwok stages write a pod's `imageID`
 * (scripts/sandbox/kwok-stages.yaml): the digest an image reference pins, or for a tag a
 * deterministic digest of the reference (sha256 of its text), under the image's registry and
 * repository. The demo and the tests sign evidence of the artifact the sandbox would report.
 */
import * as crypto from "crypto";
import { Artifact, splitImage } from "../../policy/contract";

export function sandboxArtifact(image: string): Artifact {
  const parts = splitImage(image);
  if (parts?.registry === undefined) throw new Error(`sandboxArtifact: ${image} names no registry`);
  const digest = parts.digest ?? `sha256:${crypto.createHash("sha256").update(image).digest("hex")}`;
  return { registry: parts.registry, repository: parts.repository, digest };
}
