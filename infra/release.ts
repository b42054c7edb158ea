import * as crypto from "crypto";

/**
 * The name suffix of a version's release record (a ConfigMap that remembers when the
 * version went live in a stack): `1-4-2` for 1.4.2, a short hash for a digest.
 */
export function releaseRecordName(version: string): string {
  if (version.startsWith("sha256:")) {
    return `d${version.slice(7, 19)}`;
  }
  const slug = version
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "");
  if (slug.length <= 40) {
    return slug;
  }
  return `${slug.slice(0, 30)}-${crypto.createHash("sha256").update(version).digest("hex").slice(0, 8)}`;
}
