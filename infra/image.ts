/**
 * Image references of a model service: derived from a repository and the model version, and
 * checked against the version a component declares. The mapping is the contract's
 * (policy/contract/version.ts): a digest pins by `@`, a semver tag writes `+` as `_`.
 */
import { imageFor, imageTag } from "../policy/contract";

export { imageFor };

/**
 * Whether `image` runs `version`: its digest is the version (`…@sha256:…`), or, without a
 * digest, its tag is the version's tag.
 */
export function imageRunsVersion(image: string, version: string): boolean {
  const at = image.indexOf("@");
  if (at >= 0) {
    return image.slice(at + 1) === version;
  }
  const last = image.slice(image.lastIndexOf("/") + 1);
  const colon = last.lastIndexOf(":");
  return colon > 0 && last.slice(colon + 1) === imageTag(version);
}
