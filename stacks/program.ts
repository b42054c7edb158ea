/**
 * The churn-model service, one stack per environment (Pulumi.staging.yaml,
 * Pulumi.production.yaml). Declares the Kubernetes side always and the AWS registry and
 * artifact bucket when `churn-model:aws.enabled` is true. A production update refuses to
 * run without valid, signed promotion evidence for the version it deploys, with or
 * without a policy pack. Pulumi runs it through stacks/index.ts, compiled to dist/stacks/index.js
 * (Pulumi.yaml `main`, `npm run build`).
 */
import * as k8s from "@pulumi/kubernetes";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { ModelService } from "../infra/model-service";
import {
  Artifact,
  artifactProblems,
  ContractError,
  nextPosition,
  parseSignedEvidence,
  positionFor,
  PromotionPosition,
  parsePolicyConfigText,
  pinnedImage,
  PolicyConfig,
  POSITION_OUTPUT,
  samePublicKey,
  stableChainOfEvidence,
  TargetCheck,
  verifyEvidence,
  versionLabel,
} from "../policy/contract";
import { stagedArtifact } from "./staged-artifact";
import { trustRootProblem } from "./trust-roots";
import { readPosition } from "./position";
import { canarySize } from "./canary-config";
import { IMAGE_NAME, StackConfig } from "./config";

/** The policy config the program verifies evidence against; an unreadable one refuses the update. */
function policyConfigOf(cfg: StackConfig): PolicyConfig {
  const refuse = (why: string) => new Error(`production refuses model version ${cfg.modelVersion}: ${why}`);
  let text: string;
  try {
    text = fs.readFileSync(cfg.thresholdsFile, "utf8");
  } catch (err) {
    throw refuse(`cannot read policy config ${cfg.thresholdsFile}: ${(err as Error).message}`);
  }
  try {
    return parsePolicyConfigText(text, `policy config ${cfg.thresholdsFile}`);
  } catch (err) {
    throw err instanceof ContractError ? refuse(err.message) : err;
  }
}

/** The target check of verifyEvidence for production's position, when the program read it. */
function positionCheck(
  cfg: StackConfig,
  policyConfig: PolicyConfig,
  position: PromotionPosition | undefined,
): { position?: Omit<TargetCheck, "now"> } {
  if (position === undefined) return {};
  return {
    position: {
      position,
      stack: position.stack,
      namespace: cfg.namespace,
      maxRollbackEvidenceAgeDays: policyConfig.maxRollbackEvidenceAgeDays,
    },
  };
}

/** The stack being updated; undefined outside a Pulumi run. */
function currentStack(): string | undefined {
  const stack = pulumi.getStack();
  return stack === "" ? undefined : stack;
}

/** Refuses a production update whose evidence does not verify (same module as the policy pack). */
export function assertPromotionEvidence(
  cfg: StackConfig,
  now: Date = new Date(),
  stack: string | undefined = currentStack(),
  position?: PromotionPosition,
): void {
  if (cfg.environment !== "production") {
    return;
  }
  if (cfg.revokeVersions.includes(cfg.modelVersion)) {
    throw new Error(
      `production refuses model version ${cfg.modelVersion}: churn-model:revokeVersions revokes it; ` +
        "roll back or promote another version before revoking the one production runs",
    );
  }
  if (cfg.promotionEvidence === undefined) {
    throw new Error(
      `production refuses model version ${cfg.modelVersion}: churn-model:promotionEvidence is not set. ` +
        "Production is updated by `npm run promote`, which writes signed evidence after the gate passes.",
    );
  }
  // The key that counts is the one in the policy config, which is reviewed like code; the
  // stack config's copy must name the same key, so editing stack config alone cannot
  // introduce a key of one's own.
  const policyConfig = policyConfigOf(cfg);
  const trustedKey = policyConfig.publicKey;
  if (trustedKey === undefined) {
    throw new Error(
      `production refuses model version ${cfg.modelVersion}: ${cfg.thresholdsFile} names no promotion-evidence publicKey to verify evidence with`,
    );
  }
  if (cfg.evidencePublicKey !== undefined && !samePublicKey(cfg.evidencePublicKey, trustedKey)) {
    throw new Error(
      `production refuses model version ${cfg.modelVersion}: churn-model:evidencePublicKey is not the promotion-evidence publicKey of ${cfg.thresholdsFile}`,
    );
  }
  const problems = verifyEvidence(cfg.promotionEvidence, {
    publicKeyPem: trustedKey,
    thresholds: policyConfig.thresholds,
    analysis: policyConfig.analysis,
    imageVersion: cfg.modelVersion,
    now,
    approvals: policyConfig.approvals,
    target: stack,
    ...positionCheck(cfg, policyConfig, position),
  });
  if (problems.length === 0) {
    // The stable moves only as the target's strategies allow (docs/canary.md, "The canary chain").
    problems.push(...stableChainOfEvidence(cfg.promotionEvidence, policyConfig.strategies));
  }
  if (problems.length > 0) {
    throw new Error(
      `production refuses model version ${cfg.modelVersion}: the promotion evidence is not valid:\n  - ${problems.join("\n  - ")}`,
    );
  }
}

async function registryRepository(
  cfg: StackConfig,
): Promise<{ repository: pulumi.Input<string>; owned?: pulumi.Output<string> }> {
  if (!cfg.aws.enabled) {
    return { repository: `${cfg.registry}/${IMAGE_NAME}` };
  }
  if (cfg.aws.registryOwner === "self") {
    const { ModelRegistry } = await import("../infra/aws");
    const registry = new ModelRegistry("churn-model-registry", { repositoryName: IMAGE_NAME });
    return { repository: registry.repositoryUrl, owned: registry.repositoryUrl };
  }
  const owner = cfg.aws.registryOwner.includes("/")
    ? cfg.aws.registryOwner
    : `${pulumi.getOrganization()}/${pulumi.getProject()}/${cfg.aws.registryOwner}`;
  const ref = new pulumi.StackReference(`registry-${cfg.aws.registryOwner.replace(/\//g, "-")}`, {
    name: owner,
  });
  return { repository: ref.requireOutput("registryUrl").apply((u) => String(u)) };
}

/**
 * Refuses a canary whose version has no valid staging promotion evidence: the canary meets
 * production traffic, so it needs the same proof as a stable version (docs/canary.md).
 */
export function assertCanaryEvidence(
  cfg: StackConfig,
  now: Date = new Date(),
  stack: string | undefined = currentStack(),
  position?: PromotionPosition,
): void {
  if (cfg.canary === undefined) return;
  const { version, promotionEvidence } = cfg.canary;
  if (cfg.revokeVersions.includes(version)) {
    throw new Error(`production refuses the canary ${version}: churn-model:revokeVersions revokes it`);
  }
  if (promotionEvidence === undefined) {
    throw new Error(
      `production refuses the canary ${version}: churn-model:canary.promotionEvidence is not set. ` +
        "A canary is started by `npm run promote`, which writes its signed staging evidence.",
    );
  }
  const policyConfig = policyConfigOf(cfg);
  const problems = verifyEvidence(promotionEvidence, {
    publicKeyPem: policyConfig.publicKey,
    thresholds: policyConfig.thresholds,
    analysis: policyConfig.analysis,
    imageVersion: version,
    now,
    approvals: policyConfig.approvals,
    target: stack,
    ...positionCheck(cfg, policyConfig, position),
  });
  if (problems.length > 0) {
    throw new Error(
      `production refuses the canary ${version}: its promotion evidence is not valid:\n  - ${problems.join("\n  - ")}`,
    );
  }
}

/**
 * Refuses a policy config the stack may not trust (stacks/trust-roots.ts): outside
 * the sandbox project, `churn-model:thresholdsFile` cannot point the program at another file
 * (the sandbox's, one's own) than the reviewed policy/config/<environment>.json, nor
 * `churn-model:environment` make the stack named production, or one in production's namespace,
 * a staging one.
 */
export function assertTrustRoots(cfg: StackConfig, project: string, stack?: string): void {
  const problem = trustRootProblem({
    project,
    stack,
    environment: cfg.environment,
    namespace: cfg.namespace,
    policyConfigFile: cfg.thresholdsFile,
  });
  if (problem !== undefined) {
    throw new Error(`${cfg.environment} refuses model version ${cfg.modelVersion}: ${problem}`);
  }
}

export async function program(
  cfg: StackConfig,
  project: string = pulumi.getProject(),
  stack: string = pulumi.getStack(),
): Promise<Record<string, unknown>> {
  assertTrustRoots(cfg, project, stack);
  // Production's own record of its last successful update: what the evidence must follow.
  const position = cfg.environment === "production" ? await readPosition(cfg.modelVersion) : undefined;
  const now = new Date();
  assertPromotionEvidence(cfg, now, currentStack(), position);
  assertCanaryEvidence(cfg, now, currentStack(), position);
  return declareService(cfg, { checkArtifact: true, position });
}

/** The artifact signed evidence binds, or undefined when the text holds none (never throws). */
export function artifactOfEvidence(evidence: string | undefined): Artifact | undefined {
  try {
    const artifact = (JSON.parse(evidence ?? "") as { record?: { artifact?: Artifact } }).record?.artifact;
    return typeof artifact?.digest === "string" ? artifact : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Production's image of a track: the configured repository at the version's tag, pinned by
 * the digest its evidence binds (docs/evidence-format.md, "The artifact"); with `check`, an
 * image whose registry or repository is not the evidence's refuses the update (at once for a
 * configured registry, once known for one the stack reads). Undefined (the image derived from
 * the repository alone) outside production or without an artifact.
 */
function productionImage(
  cfg: StackConfig,
  repository: pulumi.Input<string>,
  track: { version: string; evidence: string | undefined; what: string },
  check: boolean,
): pulumi.Input<string> | undefined {
  const artifact = cfg.environment === "production" ? artifactOfEvidence(track.evidence) : undefined;
  if (artifact === undefined) return undefined;
  const pinned = (repo: string): string => {
    const image = pinnedImage(repo, track.version, artifact.digest);
    const problems = check ? artifactProblems(`its ${track.what} evidence`, artifact, image) : [];
    if (problems.length > 0) {
      throw new Error(
        `production refuses model version ${track.version}: the image it would run is not the artifact ` +
          `its evidence binds:\n  - ${problems.join("\n  - ")}`,
      );
    }
    return image;
  };
  return typeof repository === "string" ? pinned(repository) : pulumi.output(repository).apply(pinned);
}

/**
 * Declares the service for a validated config, without the evidence check (`program` runs
 * that first). `image` replaces the image derived from registry and version, unchecked: the
 * policy pack's tests declare an image the config would refuse.
 */
export async function declareService(
  cfg: StackConfig,
  opts: { image?: pulumi.Input<string>; checkArtifact?: boolean; position?: PromotionPosition } = {},
): Promise<Record<string, unknown>> {
  const position = opts.position;
  const positionOf = (version: string) =>
    position === undefined ? {} : { promotionPosition: JSON.stringify(positionFor(position, version)) };
  const { repository, owned } = await registryRepository(cfg);
  const check = opts.checkArtifact === true;
  const stableImage =
    opts.image ??
    productionImage(
      cfg,
      repository,
      { version: cfg.modelVersion, evidence: cfg.promotionEvidence, what: "promotion" },
      check,
    );
  const canaryImage =
    cfg.canary === undefined
      ? undefined
      : productionImage(
          cfg,
          repository,
          { version: cfg.canary.version, evidence: cfg.canary.promotionEvidence, what: "canary's promotion" },
          check,
        );

  let artifactsBucket: pulumi.Output<string> | undefined;
  let readerRoleArn: pulumi.Output<string> | undefined;
  if (cfg.aws.enabled) {
    const { ModelArtifacts } = await import("../infra/aws");
    const artifacts = new ModelArtifacts("churn-model-artifacts", {
      environment: cfg.environment,
      serviceAccount: { namespace: cfg.namespace, name: IMAGE_NAME },
      oidcProviderArn: cfg.aws.oidcProviderArn,
      oidcIssuer: cfg.aws.oidcIssuer,
    });
    artifactsBucket = artifacts.bucketName;
    readerRoleArn = artifacts.readerRoleArn;
  }

  const provider = new k8s.Provider("k8s", {
    renderYamlToDirectory: cfg.renderYamlToDirectory,
    enableServerSideApply: true,
  });

  // With a canary, the stable shrinks by the canary's weight (docs/canary.md, "Weight → replicas").
  const sizes = cfg.canary !== undefined ? canarySize(cfg.replicas, cfg.canary.size) : undefined;
  const service = new ModelService(
    "churn-model",
    {
      namespace: cfg.namespace,
      createNamespace: cfg.createNamespace,
      environment: cfg.environment,
      modelVersion: cfg.modelVersion,
      repository,
      ...(opts.image !== undefined ? { image: opts.image, skipImageVersionCheck: true } : {}),
      ...(opts.image === undefined && stableImage !== undefined ? { image: stableImage } : {}),
      replicas: sizes?.stable ?? cfg.replicas,
      resources: cfg.resources,
      containerPort: cfg.containerPort,
      servicePort: cfg.servicePort,
      probes: cfg.probes,
      targetCpuUtilization: cfg.targetCpuUtilization,
      promotionEvidence: cfg.promotionEvidence,
      ...positionOf(cfg.modelVersion),
      serviceAccountRoleArn: readerRoleArn,
      readyTimeoutSeconds: cfg.readyTimeoutSeconds,
      podLabels: cfg.podLabels,
      ...(cfg.canary !== undefined && sizes !== undefined
        ? {
            canary: {
              modelVersion: cfg.canary.version,
              replicas: sizes.canaryReplicas,
              promotionEvidence: cfg.canary.promotionEvidence,
              ...positionOf(cfg.canary.version),
              ...(canaryImage !== undefined ? { image: canaryImage } : {}),
            },
          }
        : {}),
    },
    { providers: { kubernetes: provider } },
  );

  // Version and image come from the Deployment's state: an update refused or failed half-way
  // does not make the outputs claim a version production does not run.
  return {
    modelVersion: service.modelVersion,
    image: service.image,
    namespace: service.namespace,
    deployedAt: service.deployedAt,
    serviceUrl:
      cfg.serviceUrl ??
      pulumi.interpolate`http://${service.service.metadata.name}.${service.namespace}.svc.cluster.local:${cfg.servicePort}`,
    prometheusUrl: cfg.prometheusUrl,
    metricsSelector: { namespace: cfg.namespace, version: versionLabel(cfg.modelVersion) },
    environment: cfg.environment,
    // The digest the pods run, as the kubelet reports it: what the promotion signs.
    ...(cfg.renderYamlToDirectory === undefined
      ? {
          artifact: stagedArtifact(
            service.deployment.status,
            service.namespace,
            cfg.modelVersion,
            IMAGE_NAME,
          ),
        }
      : {}),
    ...(cfg.canary !== undefined && sizes !== undefined && service.canary !== undefined
      ? {
          canary: {
            modelVersion: cfg.canary.version,
            replicas: sizes.canaryReplicas,
            stableReplicas: sizes.stable.min,
            metricsSelector: { namespace: cfg.namespace, version: versionLabel(cfg.canary.version) },
          },
        }
      : {}),
    // Production's next position, recorded only when the update succeeds (it waits for the
    // rollout's go-live record): what the next evidence must follow.
    ...(position !== undefined && cfg.promotionEvidence !== undefined
      ? {
          // Evidence that does not parse records no position (the program's own check refused it
          // before; a program that skips that check must still reach the pack, which refuses it).
          [POSITION_OUTPUT]: service.deployedAt.apply(() => {
            let evidence: ReturnType<typeof parseSignedEvidence>;
            try {
              evidence = parseSignedEvidence(cfg.promotionEvidence!);
            } catch {
              return undefined;
            }
            return nextPosition(position, evidence, cfg.revokeVersions);
          }),
        }
      : {}),
    ...(owned ? { registryUrl: owned } : {}),
    ...(artifactsBucket ? { artifactsBucket } : {}),
  };
}
