/**
 * The configuration of the Pulumi Deployments program (deployments/Pulumi.<stack>.yaml), read
 * once into one typed, validated object. Every problem names its key as
 * `churn-model-deployments:<key>` with what is accepted, and all problems are reported together
 * before any resource is declared.
 */
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import * as yaml from "js-yaml";
import { ContractError, PACK_NAME, parsePolicyConfig } from "../policy/contract";
import { ConfigReader, ConfigSource as StackConfigSource } from "../stacks/config-reader";

export const NAMESPACE = "churn-model-deployments";

export type WebhookFormat = "raw" | "slack" | "ms_teams";
const WEBHOOK_FORMATS: readonly WebhookFormat[] = ["raw", "slack", "ms_teams"];

export interface ReleaseApprovers {
  /** Pulumi Cloud teams whose members may approve a production release. */
  readonly teams: readonly string[];
  /** Pulumi Cloud user logins who may approve a production release. */
  readonly users: readonly string[];
}

export interface DeliveryConfig {
  /** Pulumi Cloud organization that owns the service stacks. Required. */
  readonly organization: string;
  /** GitHub repository holding this project, `owner/name`. Required. */
  readonly repository: string;
  /** Branch that Deployments check out. Default "main". */
  readonly branch: string;
  /** Project name of the service program, read from the repository root's Pulumi.yaml. */
  readonly serviceProject: string;
  /** Backend the project's CLIs talk to inside a deployment. Default "https://api.pulumi.com". */
  readonly backendUrl: string;
  /** Image the deployment runs in; Node.js 22 is required. Default "pulumi/pulumi-nodejs-22:latest". */
  readonly executorImage: string;
  /** AWS region for the OIDC credentials. Required when a role ARN is set. */
  readonly awsRegion?: string;
  /** IAM role staging deployments assume through Pulumi OIDC. Default: no AWS credentials. */
  readonly stagingAwsRoleArn?: string;
  /** IAM role production deployments and releases assume through OIDC. Default: no AWS credentials. */
  readonly productionAwsRoleArn?: string;
  /** Five-field cron expression (UTC) of the drift detection runs on both stacks. Default: every six hours. */
  readonly driftScheduleCron: string;
  /** Let a drift run on staging re-apply the program. Default false; production never does. */
  readonly autoRemediateStagingDrift: boolean;
  /** Name of the policy pack: the pack's own PACK_NAME. */
  readonly policyPackName: string;
  /** Version tag the pack is published under: the pack's package.json version (published versions are immutable). */
  readonly policyPackVersion: string;
  /** Absolute directory of the policy pack source. Default: the repository's policy/. */
  readonly policyPackDir: string;
  /** The production policy config (thresholds, evidence key), parsed. Default: policy/config/production.json. */
  readonly productionPolicyConfig: Readonly<Record<string, unknown>>;
  /** Where stack events are delivered. Required; https. */
  readonly webhookUrl: string;
  /** Payload format of the notification webhooks. Default "raw". */
  readonly webhookFormat: WebhookFormat;
  /** HMAC key Pulumi Cloud signs webhook payloads with. Default: unsigned. */
  readonly webhookSecret?: pulumi.Output<string>;
  /** `project/name` of the ESC environment holding the approved production release. Default "churn-model/production-release". */
  readonly releaseEnvironment: EnvironmentRef;
  /** `project/name` of the ESC environment holding the release credentials. Default "churn-model/production-credentials". */
  readonly credentialsEnvironment: EnvironmentRef;
  /** Who may approve a production release; at least one team or user. Required. */
  readonly releaseApprovers: ReleaseApprovers;
  /** Approvals a release change request needs. Default 1. */
  readonly releaseApprovalsRequired: number;
  /** Prometheus that the promotion gate queries from the deployment runner. Default: staging's output. */
  readonly prometheusUrl?: string;
  /** Ed25519 private key (PKCS#8 PEM) that signs promotion evidence. Required secret. */
  readonly evidencePrivateKey: pulumi.Output<string>;
}

export interface EnvironmentRef {
  readonly project: string;
  readonly name: string;
}

/** What the reader needs from Pulumi's config object (lets unit tests pass a plain map). */
export interface ConfigSource extends StackConfigSource {
  getSecret(key: string): pulumi.Output<string> | undefined;
}

export class DeliveryConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`invalid ${NAMESPACE} configuration:\n  - ${problems.join("\n  - ")}`);
    this.name = "DeliveryConfigError";
  }
}

/** The repository root: deployments/ sits directly under it. */
export const REPO_ROOT = path.resolve(__dirname, "..");

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$/;
const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}\/[A-Za-z0-9._-]{1,100}$/;
const BRANCH = /^[A-Za-z0-9._/-]+$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[A-Za-z0-9+=,.@_/-]+$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;
const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-[0-9A-Za-z.-]+)?$/;
const IMAGE = /^[a-z0-9]([a-z0-9._/-]*[a-z0-9])?(:[A-Za-z0-9._-]+)?(@sha256:[0-9a-f]{64})?$/;
const CRON_FIELD = /^(\*|\d+(-\d+)?)(\/\d+)?(,(\*|\d+(-\d+)?)(\/\d+)?)*$/;

/** The stack-config reader (stacks/config-reader.ts), with what only this program's config holds. */
class Reader extends ConfigReader {
  constructor(private readonly source: ConfigSource) {
    super(NAMESPACE, source);
  }

  url(key: string, required: boolean): string | undefined {
    const v = this.raw(key);
    if (v === undefined) {
      if (required) this.fail(key, "is required (an https:// URL)");
      return undefined;
    }
    let parsed: URL | undefined;
    try {
      parsed = new URL(v);
    } catch {
      parsed = undefined;
    }
    if (parsed === undefined || !/^https?:$/.test(parsed.protocol) || /[\s'"`$\\]/.test(v)) {
      this.fail(key, `must be an http(s) URL without quotes or spaces (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  environment(key: string, def: string): EnvironmentRef {
    const v =
      this.string(key, {
        default: def,
        pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*\/[A-Za-z0-9][A-Za-z0-9_.-]*$/,
        accepted: "an ESC environment as <project>/<name>",
      }) ??
      this.raw(key) ??
      def;
    const [project = "", name = ""] = v.split("/");
    return { project, name };
  }

  secret(key: string): pulumi.Output<string> | undefined {
    return this.source.getSecret(key);
  }
}

function cronProblem(expr: string): string | undefined {
  const fields = expr.trim().split(/\s+/);
  if (fields.length !== 5) {
    return `must be a five-field cron expression such as "0 */6 * * *" (got ${JSON.stringify(expr)})`;
  }
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  return bad === undefined
    ? undefined
    : `has an invalid cron field ${JSON.stringify(bad)} in ${JSON.stringify(expr)}`;
}

function readApprovers(r: Reader, raw: string | undefined): ReleaseApprovers {
  const key = "releaseApprovers";
  const accepted = 'an object {"teams": [...], "users": [...]} naming at least one Pulumi Cloud team or user';
  if (raw === undefined) {
    r.fail(key, `is required: ${accepted}`);
    return { teams: [], users: [] };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    r.fail(key, `must be ${accepted} (got ${JSON.stringify(raw)})`);
    return { teams: [], users: [] };
  }
  const obj = parsed as Record<string, unknown>;
  const unknownKeys = Object.keys(obj).filter((k) => k !== "teams" && k !== "users");
  if (unknownKeys.length > 0) {
    r.fail(
      key,
      `accepts only "teams" and "users" (got ${unknownKeys.map((k) => JSON.stringify(k)).join(", ")})`,
    );
  }
  const list = (field: "teams" | "users"): string[] => {
    const v = obj[field] ?? [];
    if (!Array.isArray(v) || !v.every((x) => typeof x === "string" && NAME.test(x))) {
      r.fail(`${key}.${field}`, `must be a list of names (got ${JSON.stringify(v)})`);
      return [];
    }
    return v as string[];
  };
  const approvers = { teams: list("teams"), users: list("users") };
  if (approvers.teams.length + approvers.users.length === 0) {
    r.fail(key, `must name at least one team or user: a release nobody may approve can never ship`);
  }
  return approvers;
}

function readPolicyConfig(r: Reader, file: string): Record<string, unknown> {
  const key = "policyConfigFile";
  let raw: string;
  try {
    raw = fs.readFileSync(file, "utf8");
  } catch (err) {
    r.fail(key, `names ${file}, which cannot be read (${(err as Error).message})`);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (err) {
    r.fail(key, `names ${file}, which is not JSON (${(err as Error).message})`);
    return {};
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    r.fail(key, `names ${file}, which must hold a JSON object of policy settings`);
    return {};
  }
  const obj = parsed as Record<string, unknown>;
  try {
    parsePolicyConfig(obj, `names ${file}, which`);
  } catch (err) {
    if (!(err instanceof ContractError)) throw err;
    r.fail(key, err.message);
  }
  return obj;
}

/** The pack's version, from its package.json (the policy SDK reports the same). */
function readPackVersion(r: Reader, dir: string): string {
  const file = path.join(dir, "package.json");
  let version: unknown;
  try {
    version = (JSON.parse(fs.readFileSync(file, "utf8")) as { version?: unknown }).version;
  } catch (err) {
    r.fail("policyPackDir", `must hold a package.json with the pack's version (${(err as Error).message})`);
    return "";
  }
  if (typeof version !== "string" || !SEMVER.test(version)) {
    r.fail(
      "policyPackDir",
      `holds ${file}, whose "version" must be a semantic version (got ${JSON.stringify(version)})`,
    );
    return "";
  }
  return version;
}

/** The service program's project name, from the repository root's Pulumi.yaml. */
export function readServiceProject(root: string = REPO_ROOT): string {
  const file = path.join(root, "Pulumi.yaml");
  const doc = yaml.load(fs.readFileSync(file, "utf8")) as { name?: unknown } | undefined;
  if (typeof doc?.name !== "string" || !NAME.test(doc.name)) {
    throw new Error(`${file} must declare the service project's name`);
  }
  return doc.name;
}

/** Reads and validates the whole configuration; throws DeliveryConfigError listing every problem. */
export function readDeliveryConfig(src: ConfigSource): DeliveryConfig {
  const r = new Reader(src);
  const name = (key: string, def?: string) =>
    r.string(key, { default: def, pattern: NAME, accepted: "a name of letters, digits, '.', '_' or '-'" }) ??
    "";

  const organization = name("organization");
  const repository =
    r.string("repository", { pattern: REPOSITORY, accepted: "a GitHub repository as owner/name" }) ?? "";
  const branch = r.string("branch", { default: "main", pattern: BRANCH, accepted: "a branch name" }) ?? "";
  const serviceProject = readServiceProject();
  const backendUrl = r.url("backendUrl", false) ?? "https://api.pulumi.com";
  const executorImage =
    r.string("executorImage", {
      default: "pulumi/pulumi-nodejs-22:latest",
      pattern: IMAGE,
      accepted: "a container image reference",
    }) ?? "";

  const roleAccepted = "an IAM role ARN (arn:aws:iam::<account>:role/<name>)";
  const stagingAwsRoleArn = r.optional("stagingAwsRoleArn", ROLE_ARN, roleAccepted);
  const productionAwsRoleArn = r.optional("productionAwsRoleArn", ROLE_ARN, roleAccepted);
  const awsRegion = r.optional("awsRegion", REGION, "an AWS region such as eu-west-1");
  if (awsRegion === undefined && (stagingAwsRoleArn !== undefined || productionAwsRoleArn !== undefined)) {
    r.fail("awsRegion", "is required when stagingAwsRoleArn or productionAwsRoleArn is set");
  }

  const driftScheduleCron = src.get("driftScheduleCron") ?? "0 */6 * * *";
  const cron = cronProblem(driftScheduleCron);
  if (cron !== undefined) r.fail("driftScheduleCron", cron);
  const autoRemediateStagingDrift = r.bool("autoRemediateStagingDrift", false);

  const policyPackName = PACK_NAME;
  const policyPackDir = path.resolve(__dirname, src.get("policyPackDir") ?? "../policy");
  let policyPackVersion = "";
  if (!fs.existsSync(path.join(policyPackDir, "PulumiPolicy.yaml"))) {
    r.fail("policyPackDir", `must be a directory holding PulumiPolicy.yaml (got ${policyPackDir})`);
  } else {
    policyPackVersion = readPackVersion(r, policyPackDir);
  }
  const policyConfigFile = path.resolve(
    __dirname,
    src.get("policyConfigFile") ?? "../policy/config/production.json",
  );
  const productionPolicyConfig = readPolicyConfig(r, policyConfigFile);

  const webhookUrl = r.url("webhookUrl", true) ?? "";
  const webhookFormat = r.oneOf("webhookFormat", WEBHOOK_FORMATS, "raw") ?? "raw";
  if (webhookFormat === "slack" && webhookUrl !== "" && !webhookUrl.startsWith("https://hooks.slack.com/")) {
    r.fail(
      "webhookUrl",
      `must begin with https://hooks.slack.com/ when webhookFormat is slack (got ${webhookUrl})`,
    );
  }
  const webhookSecret = r.secret("webhookSecret");

  const releaseEnvironment = r.environment("releaseEnvironment", "churn-model/production-release");
  const credentialsEnvironment = r.environment(
    "credentialsEnvironment",
    "churn-model/production-credentials",
  );
  if (
    releaseEnvironment.project === credentialsEnvironment.project &&
    releaseEnvironment.name === credentialsEnvironment.name
  ) {
    r.fail("credentialsEnvironment", "must differ from releaseEnvironment");
  }
  const releaseApprovers = readApprovers(r, src.get("releaseApprovers"));
  const releaseApprovalsRequired = r.int("releaseApprovalsRequired", 1, 1, 10);
  const prometheusUrl = r.url("prometheusUrl", false);

  const evidencePrivateKey = r.secret("evidencePrivateKey");
  if (evidencePrivateKey === undefined) {
    r.fail(
      "evidencePrivateKey",
      "is required: the Ed25519 PKCS#8 PEM that signs promotion evidence, set with `pulumi config set --secret`",
    );
  }

  if (r.problems.length > 0) {
    throw new DeliveryConfigError(r.problems);
  }
  return {
    organization,
    repository,
    branch,
    serviceProject,
    backendUrl,
    executorImage,
    awsRegion,
    stagingAwsRoleArn,
    productionAwsRoleArn,
    driftScheduleCron,
    autoRemediateStagingDrift,
    policyPackName,
    policyPackVersion,
    policyPackDir,
    productionPolicyConfig,
    webhookUrl,
    webhookFormat,
    webhookSecret,
    releaseEnvironment,
    credentialsEnvironment,
    releaseApprovers,
    releaseApprovalsRequired,
    prometheusUrl,
    evidencePrivateKey: evidencePrivateKey as pulumi.Output<string>,
  };
}

/** The configuration source of a running Pulumi program. */
export function pulumiConfigSource(): ConfigSource {
  const config = new pulumi.Config(NAMESPACE);
  return {
    get: (key) => config.get(key),
    getSecret: (key) => config.getSecret(key),
  };
}
