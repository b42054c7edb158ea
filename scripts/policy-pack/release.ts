/**
 * The policy pack's releases: a digest of the files the pack publishes, recorded with the
 * version in policy/pack-releases.json. A pack whose files differ from the last record must
 * carry a new version (published versions are immutable in Pulumi Cloud, so a changed pack
 * under an old version would never reach a policy group). See docs/running-in-your-organisation.md.
 *
 * `npm run policy:record` records the current digest under the current version, refusing a
 * version already recorded with other content.
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO_ROOT } from "../toolchain/env";

export const POLICY_DIR = path.join(REPO_ROOT, "policy");
export const RELEASES_FILE = "pack-releases.json";

/** What the digest leaves out: installed packages, the per-environment configs, the record itself. */
const EXCLUDED = new Set(["node_modules", "config", RELEASES_FILE]);

export interface PackRelease {
  readonly version: string;
  readonly sha256: string;
}

function filesUnder(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const name = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (rel === "" && EXCLUDED.has(entry.name)) continue;
    if (entry.isDirectory()) out.push(...filesUnder(dir, name));
    else if (entry.isFile()) out.push(name);
  }
  return out;
}

/** The files of the pack as published, relative to `dir`, sorted. */
export function packFiles(dir: string = POLICY_DIR): string[] {
  return filesUnder(dir).sort();
}

/** SHA-256 over each file's path and content, in path order. */
export function packDigest(dir: string = POLICY_DIR): string {
  const hash = crypto.createHash("sha256");
  for (const file of packFiles(dir)) {
    const content = fs.readFileSync(path.join(dir, file));
    hash.update(`${file}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest("hex");
}

/** The pack's version, from its package.json. */
export function packVersion(dir: string = POLICY_DIR): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as { version?: unknown };
  if (typeof pkg.version !== "string") throw new Error(`${dir}/package.json has no version`);
  return pkg.version;
}

export function readReleases(dir: string = POLICY_DIR): PackRelease[] {
  return JSON.parse(fs.readFileSync(path.join(dir, RELEASES_FILE), "utf8")) as PackRelease[];
}

/** Why the pack's files and version disagree with the record, or undefined when they agree. */
export function releaseProblem(dir: string = POLICY_DIR): string | undefined {
  const releases = readReleases(dir);
  const last = releases[releases.length - 1];
  const version = packVersion(dir);
  const digest = packDigest(dir);
  if (last !== undefined && last.version === version && last.sha256 === digest) {
    return undefined;
  }
  const same = releases.find((r) => r.version === version);
  if (same !== undefined) {
    return (
      `the policy pack's files changed but its version is still ${version}, which was recorded with ` +
      `other content: bump "version" in policy/package.json, then run npm run policy:record`
    );
  }
  return `policy pack ${version} is not recorded in policy/${RELEASES_FILE}: run npm run policy:record`;
}

function main(): void {
  const releases = readReleases();
  const version = packVersion();
  const digest = packDigest();
  const same = releases.find((r) => r.version === version);
  if (same !== undefined) {
    if (same.sha256 === digest) {
      console.log(`policy pack ${version} is recorded (sha256 ${digest})`);
      return;
    }
    console.error(
      `policy pack ${version} was recorded with other content: bump "version" in policy/package.json first`,
    );
    process.exit(2);
  }
  releases.push({ version, sha256: digest });
  fs.writeFileSync(path.join(POLICY_DIR, RELEASES_FILE), `${JSON.stringify(releases, null, 2)}\n`);
  console.log(`recorded policy pack ${version} (sha256 ${digest})`);
}

if (require.main === module) {
  main();
}
