/**
 * The staging stack's outputs that promotion reads (docs/design.md "Staging stack outputs"), either
 * from the stack through the Automation API or from a JSON file of the same shape. Both go
 * through one validator, so a bad value is refused the same way whatever its source.
 */
import * as fs from "fs";
import {
  Artifact,
  artifactProblems,
  artifactShapeProblem,
  DIGEST,
  imageRunsVersion,
  pinnedImage,
  versionLabel,
} from "../../policy/contract";
import { BadInput, DependencyUnavailable } from "./errors";
import {
  LabelSelector,
  parseHttpUrl,
  parseLabelSelector,
  parseModelVersion,
  parseTimestamp,
} from "./parsers";

export interface StagingOutputs {
  /** The model version staging runs. */
  readonly modelVersion: string;
  /** The image staging runs, pinned to that version. */
  readonly image: string;
  /** The Kubernetes namespace of the staging service. */
  readonly namespace: string;
  /** When this version went live in staging. */
  readonly deployedAt: Date;
  /** The staging service's base URL. */
  readonly serviceUrl: string;
  /** The Prometheus that scrapes staging. */
  readonly prometheusUrl: string;
  /** Labels selecting this version's series in the staging namespace. */
  readonly metricsSelector: LabelSelector;
  /**
   * Registry, repository and digest staging's pods run, as their kubelet reports them
   * (stacks/staged-artifact.ts); a promotion refuses outputs without it (inputs.ts).
   */
  readonly artifact?: Artifact;
}

/** The outputs together with where they came from, as the evidence records it. */
export interface StagingSnapshot {
  readonly stack: string;
  /** The staging stack's update that produced these outputs; null when read from a file. */
  readonly updateVersion: number | null;
  readonly outputs: StagingOutputs;
}

const REQUIRED = [
  "modelVersion",
  "image",
  "namespace",
  "deployedAt",
  "serviceUrl",
  "prometheusUrl",
  "metricsSelector",
] as const;

const NAMESPACE = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

function requireString(obj: Record<string, unknown>, key: string, source: string): string {
  const v = obj[key];
  if (typeof v !== "string" || v.trim() === "") {
    throw new BadInput(`${source}: ${key} must be a non-empty string (got ${JSON.stringify(v)})`);
  }
  return v;
}

/**
 * Validates the outputs object. The selector must pin the series to this version in this
 * namespace: only those series may count for the gate.
 */
export function parseStagingOutputs(raw: unknown, source: string): StagingOutputs {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new BadInput(`${source} must be a JSON object with ${REQUIRED.join(", ")}`);
  }
  const obj = raw as Record<string, unknown>;
  const missing = REQUIRED.filter((k) => obj[k] === undefined || obj[k] === null);
  if (missing.length > 0) {
    throw new BadInput(`${source} is missing ${missing.join(", ")}`);
  }
  const modelVersion = parseModelVersion(obj.modelVersion, `${source}: modelVersion`);
  const image = requireString(obj, "image", source);
  if (!imageRunsVersion(image, modelVersion)) {
    throw new BadInput(
      `${source}: image ${JSON.stringify(image)} is not pinned to modelVersion ${modelVersion}`,
    );
  }
  const namespace = requireString(obj, "namespace", source);
  if (!NAMESPACE.test(namespace)) {
    throw new BadInput(
      `${source}: namespace ${JSON.stringify(namespace)} is not a Kubernetes namespace name`,
    );
  }
  const deployedAt = parseTimestamp(obj.deployedAt, `${source}: deployedAt`);
  const serviceUrl = parseHttpUrl(obj.serviceUrl, `${source}: serviceUrl`);
  const prometheusUrl = parseHttpUrl(obj.prometheusUrl, `${source}: prometheusUrl`);
  let selectorRaw = obj.metricsSelector;
  if (typeof selectorRaw === "string") {
    try {
      selectorRaw = JSON.parse(selectorRaw);
    } catch {
      throw new BadInput(`${source}: metricsSelector is a string that is not a JSON object`);
    }
  }
  const metricsSelector = parseLabelSelector(selectorRaw, `${source}: metricsSelector`);
  if (metricsSelector.version !== versionLabel(modelVersion)) {
    throw new BadInput(
      `${source}: metricsSelector.version must be the label value ${versionLabel(modelVersion)} of the staged ` +
        `modelVersion ${modelVersion} (got ${JSON.stringify(metricsSelector.version)})`,
    );
  }
  if (metricsSelector.namespace !== namespace) {
    throw new BadInput(
      `${source}: metricsSelector.namespace must be the staging namespace ${namespace} ` +
        `(got ${JSON.stringify(metricsSelector.namespace)})`,
    );
  }
  const artifact = parseArtifact(obj.artifact, image, modelVersion, source);
  return {
    modelVersion,
    image,
    namespace,
    deployedAt,
    serviceUrl,
    prometheusUrl,
    metricsSelector,
    ...(artifact !== undefined ? { artifact } : {}),
  };
}

/**
 * The `artifact` output: a well-formed artifact of the staged image's registry and repository,
 * whose digest, for a digest version, is the version. Absent (or null) stays absent.
 */
function parseArtifact(
  raw: unknown,
  image: string,
  modelVersion: string,
  source: string,
): Artifact | undefined {
  if (raw === undefined || raw === null) return undefined;
  const shape = artifactShapeProblem(raw, `${source}: artifact`);
  if (shape !== undefined) throw new BadInput(shape);
  const artifact = raw as Artifact;
  if (DIGEST.test(modelVersion) && artifact.digest !== modelVersion) {
    throw new BadInput(
      `${source}: artifact.digest ${artifact.digest} is not the staged digest version ${modelVersion}`,
    );
  }
  // The pods run the configured image: the same registry and repository, pinned by the digest.
  const name = image.split("@")[0].replace(/:[^:/]+$/, "");
  const problems = artifactProblems(
    `${source}: artifact`,
    artifact,
    pinnedImage(name, modelVersion, artifact.digest),
  );
  if (problems.length > 0)
    throw new BadInput(`${problems.join("; ")} (the image staging is configured to run)`);
  return { registry: artifact.registry, repository: artifact.repository, digest: artifact.digest };
}

/** Reads `--staging-outputs FILE`. */
export function readStagingOutputsFile(file: string, stack: string): StagingSnapshot {
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (err) {
    throw new BadInput(`cannot read staging outputs file ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new BadInput(`staging outputs file ${file} is not valid JSON: ${(err as Error).message}`);
  }
  return { stack, updateVersion: null, outputs: parseStagingOutputs(parsed, `staging outputs file ${file}`) };
}

/**
 * Reads the outputs of a stack of this project through the project's engine (engine-cli.ts,
 * without the Automation API), plus the version of the stack's last update.
 */
export async function readStagingOutputsFromStack(stackName: string): Promise<StagingSnapshot> {
  const { latestUpdateNumberOf, stackOutputValues } = await import("./engine-cli");
  const { firstLine } = await import("./engine");
  let values: Record<string, unknown>;
  let updateVersion: number | null;
  try {
    // Two engine processes, side by side: neither waits for the other.
    [values, updateVersion] = await Promise.all([
      stackOutputValues(stackName),
      latestUpdateNumberOf(stackName),
    ]);
  } catch (err) {
    if (err instanceof DependencyUnavailable) throw err;
    throw new DependencyUnavailable(`cannot read the outputs of stack ${stackName}: ${firstLine(err)}`);
  }
  return {
    stack: stackName,
    updateVersion,
    outputs: parseStagingOutputs(values, `stack ${stackName} outputs`),
  };
}
