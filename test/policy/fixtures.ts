/** Compliant resources as the churn-model program declares them, and evidence signed at runtime. */
import {
  EVIDENCE_ANNOTATION,
  EvidenceRecord,
  generateEvidenceKeyPair,
  signEvidence,
} from "../../scripts/promotion/evidence";
import { Thresholds } from "../../scripts/promotion/thresholds";
import { DESIGN_THRESHOLDS } from "../fixtures/thresholds";
import { withHandMadeAnalysis } from "../fixtures/evidence-records";
import { sandboxArtifact } from "../../scripts/sandbox/artifact";
import {
  evidenceDigest,
  initialPosition,
  pinnedImage,
  POSITION_ANNOTATION,
  PromotionPosition,
  SignedEvidence,
} from "../../policy/contract";

export const KEYS = generateEvidenceKeyPair();
export const OTHER_KEYS = generateEvidenceKeyPair();

export const THRESHOLDS: Thresholds = DESIGN_THRESHOLDS;

/** The promotion-evidence policy config of production, with the test public key. */
export const EVIDENCE_CONFIG = { ...THRESHOLDS, publicKey: KEYS.publicKeyPem };

export const REGISTRY = "registry.internal.example.com/ml";
export const DEPLOYMENT = "kubernetes:apps/v1:Deployment";

const HOUR = 3_600_000;

/** Production as the pack's tests see it: the URN's project and stack, the org the program names. */
export const PRODUCTION_STACK = "acme/churn-model-cd/production";
/** The target the tests' evidence binds: production's stack and namespace, before any recorded update. */
export const TARGET: EvidenceRecord["target"] = {
  stack: PRODUCTION_STACK,
  namespace: "production",
  follows: 0,
};

export function hoursAgo(hours: number): string {
  return new Date(Date.now() - hours * HOUR).toISOString();
}

/** A promotion record of `version`; its 24 h window ends 2 min before its createdAt unless given. */
export function evidenceRecord(version: string, overrides: Partial<EvidenceRecord> = {}): EvidenceRecord {
  const createdAt = overrides.createdAt ?? hoursAgo(1);
  const end = Date.parse(createdAt) - 2 * 60_000;
  const healthy = withHandMadeAnalysis({
    format: 4,
    target: TARGET,
    kind: "promotion",
    modelVersion: version,
    image: imageOf(version),
    artifact: sandboxArtifact(imageOf(version)),
    measured: {
      accuracy: 0.91,
      latencyP99Ms: 120,
      errorRate: 0.002,
      uptime: 0.9995,
      soakHours: 30,
      requests: 50000,
      labeledPredictions: 1500,
    },
    window: { start: new Date(end - 24 * HOUR).toISOString(), end: new Date(end).toISOString() },
    thresholds: { ...THRESHOLDS },
    staging: { stack: "staging", updateVersion: 42, deployedAt: hoursAgo(31) },
    approver: "alice@example.com",
    createdAt,
    ...(overrides.window !== undefined ? { window: overrides.window } : {}),
  });
  return { ...healthy, ...overrides };
}

/** Signed promotion evidence for `version`, as the annotation carries it. */
export function evidenceFor(
  version: string,
  overrides: Partial<EvidenceRecord> = {},
  privateKeyPem = KEYS.privateKeyPem,
): string {
  return JSON.stringify(signEvidence(evidenceRecord(version, overrides), privateKeyPem));
}

/**
 * Signed rollback evidence to `version` (as the annotation carries it), embedding promotion
 * evidence of `returnedTo` (default the same version) from 20 days ago.
 */
export function rollbackEvidenceFor(version: string, returnedTo: string = version): string {
  const earlier = signEvidence(
    evidenceRecord(returnedTo, { createdAt: hoursAgo(24 * 20) }),
    KEYS.privateKeyPem,
  );
  const rollback = evidenceRecord(version, {
    kind: "rollback",
    approver: "promotion-runner",
    rollbackOf: earlier,
  });
  return JSON.stringify(signEvidence(rollback, KEYS.privateKeyPem));
}

export function imageOf(version: string): string {
  return version.startsWith("sha256:")
    ? `${REGISTRY}/churn-model@${version}`
    : `${REGISTRY}/churn-model:${version}`;
}

/** The image production runs for `version`: pinned by the digest its evidence binds (the sandbox's). */
export function pinnedImageOf(version: string): string {
  return pinnedImage(`${REGISTRY}/churn-model`, version, sandboxArtifact(imageOf(version)).digest);
}

export interface DeploymentOptions {
  environment?: "staging" | "production";
  version?: string;
  image?: string;
  /** The annotation value; null: no annotation. Default: valid evidence for the version. */
  evidence?: string | null;
  /**
   * Production's position as the program writes it (POSITION_ANNOTATION); null: none. Default
   * the initial position of PRODUCTION_STACK, where a rollback's embedded promotion is the one
   * that promoted its version (positionForEvidence).
   */
  position?: PromotionPosition | null;
}

/** The position under which `evidence` (the annotation's JSON) is current production's to follow. */
export function positionForEvidence(evidence: string | null): PromotionPosition {
  const base = initialPosition(PRODUCTION_STACK);
  try {
    const signed = JSON.parse(evidence ?? "") as SignedEvidence;
    const embedded = signed.record?.rollbackOf;
    return embedded === undefined
      ? base
      : { ...base, promotedBy: { [embedded.record.modelVersion]: evidenceDigest(embedded) } };
  } catch {
    return base;
  }
}

export function podLabels(environment: string, version: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "churn-model",
    "churn-model/environment": environment,
    "app.kubernetes.io/version": version.startsWith("sha256:") ? `sha256-${version.slice(7, 19)}` : version,
    "app.kubernetes.io/part-of": "churn-model-cd",
  };
}

/** The churn-model Deployment's inputs as the ModelService component declares them. */
export function deployment(opts: DeploymentOptions = {}): Record<string, unknown> {
  const environment = opts.environment ?? "production";
  const version = opts.version ?? "1.2.0";
  const labels = podLabels(environment, version);
  const annotations: Record<string, string> = { "pulumi.com/timeoutSeconds": "600" };
  const evidence = opts.evidence === undefined ? evidenceFor(version) : opts.evidence;
  if (evidence !== null) {
    annotations[EVIDENCE_ANNOTATION] = evidence;
  }
  const position = opts.position === undefined ? positionForEvidence(evidence) : opts.position;
  if (position !== null) annotations[POSITION_ANNOTATION] = JSON.stringify(position);
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "churn-model", namespace: environment, labels, annotations },
    spec: {
      replicas: 3,
      selector: {
        matchLabels: { "app.kubernetes.io/name": "churn-model", "churn-model/environment": environment },
      },
      strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: {
        metadata: { labels, annotations: { "prometheus.io/scrape": "true" } },
        spec: {
          serviceAccountName: "churn-model",
          securityContext: { runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001, fsGroup: 10001 },
          containers: [
            {
              name: "churn-model",
              image: opts.image ?? (environment === "production" ? pinnedImageOf(version) : imageOf(version)),
              ports: [{ name: "http", containerPort: 8080 }],
              readinessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 5 },
              livenessProbe: { httpGet: { path: "/healthz", port: "http" }, periodSeconds: 10 },
              resources: { requests: { cpu: "500m", memory: "512Mi" }, limits: { cpu: "1", memory: "1Gi" } },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                runAsNonRoot: true,
                capabilities: { drop: ["ALL"] },
              },
            },
          ],
        },
      },
    },
  };
}

export function hpa(environment = "production", minReplicas = 3): Record<string, unknown> {
  return {
    metadata: { name: "churn-model", namespace: environment },
    spec: {
      scaleTargetRef: { apiVersion: "apps/v1", kind: "Deployment", name: "churn-model" },
      minReplicas,
      maxReplicas: 10,
    },
  };
}

export function pdb(environment = "production"): Record<string, unknown> {
  return {
    metadata: { name: "churn-model", namespace: environment },
    spec: {
      maxUnavailable: 1,
      selector: {
        matchLabels: { "app.kubernetes.io/name": "churn-model", "churn-model/environment": environment },
      },
    },
  };
}
