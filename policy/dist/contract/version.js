"use strict";
/**
 * The model-version grammar and its one mapping to a Kubernetes label value and an image
 * reference. See docs/design.md ("Model versions").
 *
 * A model version is a semantic version (`1.4.2`, `1.4.2-rc.1`, `1.4.2+b7`) or an image
 * digest (`sha256:<64 hex>`). Both mappings are injective, so a label value or an image
 * reference names exactly one version:
 * - label value: a semver with `+` written as `_` (semver has no `_`); a digest as `sha256_`
 *   and its 32 bytes in unpadded base64url (50 characters, within the 63 a label allows);
 * - image reference: `<repository>:<tag>` with the same `+` → `_` (a tag cannot hold `+`), or
 *   `<repository>@sha256:<hex>` for a digest.
 */
Object.defineProperty(exports, "__esModule", { value: true });
exports.DIGEST = exports.SEMVER = void 0;
exports.modelVersionProblem = modelVersionProblem;
exports.isModelVersion = isModelVersion;
exports.versionLabel = versionLabel;
exports.versionOfLabel = versionOfLabel;
exports.imageTag = imageTag;
exports.imageFor = imageFor;
exports.imageRunsVersion = imageRunsVersion;
exports.versionOfTag = versionOfTag;
exports.SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?$/;
exports.DIGEST = /^sha256:[0-9a-f]{64}$/;
const SHELL_METACHARACTERS = /[;&|`$<>(){}[\]\\'"*?!#~]/;
const DIGEST_LABEL_PREFIX = "sha256_";
/**
 * Checks a model version: semver (`1.4.2`, `1.4.2-rc.1`, `1.4.2+b7`) or an image digest
 * (`sha256:<64 hex>`). Returns the reason it is refused, else undefined.
 */
function modelVersionProblem(v) {
    if (v.trim() === "")
        return "must not be empty";
    if (v !== v.trim() || /\s/.test(v))
        return "must not contain whitespace";
    if (v === "latest")
        return "must be a pinned version: `latest` is never accepted";
    if (SHELL_METACHARACTERS.test(v))
        return "must not contain shell metacharacters";
    if (exports.SEMVER.test(v) || exports.DIGEST.test(v))
        return undefined;
    return "must be a semantic version like 1.4.2 or an image digest sha256:<64 hex digits>";
}
function isModelVersion(v) {
    return typeof v === "string" && modelVersionProblem(v) === undefined;
}
/** The label value of a version (`app.kubernetes.io/version`, the metrics `version` label). */
function versionLabel(version) {
    if (exports.DIGEST.test(version)) {
        return DIGEST_LABEL_PREFIX + Buffer.from(version.slice(7), "hex").toString("base64url");
    }
    return version.replace(/\+/g, "_");
}
/** The version a label value stands for, or undefined when no version maps to it. */
function versionOfLabel(label) {
    let version;
    if (label.startsWith(DIGEST_LABEL_PREFIX)) {
        const bytes = Buffer.from(label.slice(DIGEST_LABEL_PREFIX.length), "base64url");
        version = `sha256:${bytes.toString("hex")}`;
    }
    else {
        version = label.replace(/_/g, "+");
    }
    return isModelVersion(version) && versionLabel(version) === label ? version : undefined;
}
/** The image tag of a semver version (`+` → `_`); digests are not tags. */
function imageTag(version) {
    return version.replace(/\+/g, "_");
}
/** `<repository>:<tag>` for a semver, `<repository>@sha256:…` for a digest. */
function imageFor(repository, version) {
    return exports.DIGEST.test(version) ? `${repository}@${version}` : `${repository}:${imageTag(version)}`;
}
/**
 * Whether `image` runs `version`: for a digest version, the image is pinned by that digest and
 * has no tag (a tag names the version: one reference, one version); for a semver, its tag is
 * the version's tag (`repo:1.4.2_b7`), with or without a digest
 * after it (`repo:1.4.2_b7@sha256:…`, the digest production deploys by: see artifact.ts).
 */
function imageRunsVersion(image, version) {
    const at = image.indexOf("@");
    const named = at >= 0 ? image.slice(0, at) : image;
    const last = named.slice(named.lastIndexOf("/") + 1);
    const colon = last.lastIndexOf(":");
    if (exports.DIGEST.test(version)) {
        return at >= 0 && colon < 0 && image.slice(at + 1) === version;
    }
    return colon > 0 && last.slice(colon + 1) === imageTag(version);
}
/** The version an image tag stands for (`_` → `+`), or undefined when it is no version's tag. */
function versionOfTag(tag) {
    const version = tag.replace(/_/g, "+");
    return exports.SEMVER.test(version) && imageTag(version) === tag ? version : undefined;
}
