/**
 * The artifact promotion evidence binds: the registry, repository and digest of the image
 * staging's pods actually ran (their containerStatuses' imageID, as the kubelet reports it),
 * not the image the config names. Production deploys exactly that digest, and a verifier
 * refuses a production image whose registry, repository or digest differs from it. See
 * docs/evidence-format.md ("The artifact").
 */
import { DIGEST, imageTag } from "./version";

export interface Artifact {
  /** The registry host[:port], e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com`. */
  readonly registry: string;
  /** The repository path within the registry, e.g. `ml/churn-model`. */
  readonly repository: string;
  /** The image's content digest, `sha256:<64 hex>`. */
  readonly digest: string;
}

export const ARTIFACT_KEYS: readonly (keyof Artifact)[] = ["registry", "repository", "digest"];

const REGISTRY = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$/i;
const REPOSITORY = /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*$/;

/** Why `value` is not an Artifact (a sentence naming the field), or undefined. */
export function artifactShapeProblem(value: unknown, at: string): string | undefined {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return `${at} must be an object`;
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !(ARTIFACT_KEYS as readonly string[]).includes(k));
  if (extra.length > 0) return `${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`;
  if (typeof obj.registry !== "string" || !REGISTRY.test(obj.registry) || !isRegistryHost(obj.registry)) {
    return `${at}.registry must be a registry host[:port] (got ${JSON.stringify(obj.registry)})`;
  }
  if (typeof obj.repository !== "string" || !REPOSITORY.test(obj.repository)) {
    return `${at}.repository must be a repository path such as ml/churn-model (got ${JSON.stringify(obj.repository)})`;
  }
  if (typeof obj.digest !== "string" || !DIGEST.test(obj.digest)) {
    return `${at}.digest must be sha256:<64 lower-case hex digits> (got ${JSON.stringify(obj.digest)})`;
  }
  return undefined;
}

function isRegistryHost(first: string): boolean {
  return first.includes(".") || first.includes(":") || first === "localhost";
}

/** An image reference split into registry, repository (path), tag and digest; undefined when malformed. */
export function splitImage(
  ref: string,
): { registry?: string; repository: string; tag?: string; digest?: string } | undefined {
  if (ref === "" || /\s/.test(ref)) return undefined;
  const at = ref.indexOf("@");
  const named = at >= 0 ? ref.slice(0, at) : ref;
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const slash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const full = colon > slash ? named.slice(0, colon) : named;
  const segments = full.split("/");
  if (segments.some((s) => s === "") || tag === "" || digest === "") return undefined;
  const registry = segments.length > 1 && isRegistryHost(segments[0]) ? segments[0] : undefined;
  const repository = registry === undefined ? full : segments.slice(1).join("/");
  return { registry, repository, tag, digest };
}

/**
 * The artifact a container status's `imageID` names: `[<scheme>://]<registry>/<repository>@sha256:…`
 * (containerd reports it bare, Docker as `docker-pullable://…`); undefined when it names none.
 */
export function artifactOfImageId(imageId: string): Artifact | undefined {
  const bare = imageId.replace(/^[a-z-]+:\/\//, "");
  const parts = splitImage(bare);
  if (parts?.registry === undefined || parts.digest === undefined) return undefined;
  const artifact = { registry: parts.registry, repository: parts.repository, digest: parts.digest };
  return artifactShapeProblem(artifact, "imageID") === undefined ? artifact : undefined;
}

/**
 * The image production deploys for `version` from its evidence's artifact, pinned by digest:
 * `<registry>/<repository>:<tag>@sha256:…` for a semver (the tag says the version, the digest
 * is what runs), `<registry>/<repository>@sha256:…` for a digest version.
 */
export function artifactImage(artifact: Artifact, version: string): string {
  return pinnedImage(`${artifact.registry}/${artifact.repository}`, version, artifact.digest);
}

/** `<name>:<tag>@<digest>` for a semver `version`, `<name>@<digest>` for a digest version. */
export function pinnedImage(name: string, version: string, digest: string): string {
  return DIGEST.test(version) ? `${name}@${digest}` : `${name}:${imageTag(version)}@${digest}`;
}

/**
 * Why `image` (what a production workload runs) is not the artifact the evidence binds, each a
 * sentence naming the part that differs; [] when registry, repository and digest all match.
 */
export function artifactProblems(label: string, artifact: Artifact, image: string): string[] {
  const parts = splitImage(image);
  const bound = `${artifact.registry}/${artifact.repository}@${artifact.digest}`;
  if (parts === undefined)
    return [`${label} binds ${bound}, but the image ${JSON.stringify(image)} is malformed`];
  const problems: string[] = [];
  if (parts.registry !== artifact.registry) {
    problems.push(
      `${label} binds registry ${artifact.registry}, but the image ${image} comes from ${parts.registry ?? "no registry"}`,
    );
  }
  if (parts.repository !== artifact.repository) {
    problems.push(
      `${label} binds repository ${artifact.repository}, but the image ${image} names ${parts.repository}`,
    );
  }
  if (parts.digest === undefined) {
    problems.push(
      `${label} binds digest ${artifact.digest}, but the image ${image} is not pinned by a digest (production runs the digest staging ran)`,
    );
  } else if (parts.digest !== artifact.digest) {
    problems.push(`${label} binds digest ${artifact.digest}, but the image ${image} runs ${parts.digest}`);
  }
  return problems;
}
