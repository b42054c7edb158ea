/**
 * Image references of a model service: derived from a repository and the model version, and
 * checked against the version a component declares.
 */

const DIGEST = /^sha256:[0-9a-f]{64}$/;

/** `<repository>:<version>`, or `<repository>@<version>` for a `sha256:<64 hex>` digest. */
export function imageFor(repository: string, version: string): string {
  return DIGEST.test(version) ? `${repository}@${version}` : `${repository}:${version}`;
}

/**
 * Whether `image` runs `version`: its digest is the version (`…@sha256:…`), or, without a
 * digest, its tag is.
 */
export function imageRunsVersion(image: string, version: string): boolean {
  const at = image.indexOf("@");
  if (at >= 0) {
    return image.slice(at + 1) === version;
  }
  const last = image.slice(image.lastIndexOf("/") + 1);
  const colon = last.lastIndexOf(":");
  return colon > 0 && last.slice(colon + 1) === version;
}
