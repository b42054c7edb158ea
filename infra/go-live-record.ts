import * as crypto from "crypto";

/**
 * The name suffix of a version's go-live record (a ConfigMap that remembers when the
 * version went live in a stack; in the cluster `<app>-release-<suffix>`, a name kept so
 * existing stacks keep their records — docs/design.md, "Words that could mean two things"),
 * unique per exact version: `1-4-2` for a plain 1.4.2, whose
 * digits and dots map back one to one; for anything else (pre-release or build parts, upper
 * case, a digest) the readable slug plus 8 hex of the version's SHA-256, so `1.4.2-rc.1`,
 * `1.4.2-RC.1` and `1.4.2-rc-1` get three records and none inherits another's deployedAt.
 */
export function goLiveRecordName(version: string): string {
  if (/^\d+\.\d+\.\d+$/.test(version)) {
    return version.replace(/\./g, "-");
  }
  const hash = crypto.createHash("sha256").update(version).digest("hex").slice(0, 8);
  if (version.startsWith("sha256:")) {
    return `d${version.slice(7, 19)}-${hash}`;
  }
  const slug = version
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 30)
    .replace(/-$/, "");
  return `${slug}-${hash}`;
}
