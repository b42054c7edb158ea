/**
 * The delivery's contract: what the promotion tools, the program, the Deployments program and
 * the policy pack must agree on, as pure code (no file system, no environment, no exit codes).
 * Everything outside policy/ imports it from here; nothing here imports from outside it.
 * See docs/design.md ("Contracts") and docs/evidence-format.md.
 */
export * from "./analysis";
export * from "./analysis-record";
export * from "./artifact";
export * from "./approval";
export * from "./approval-quorum";
export * from "./canary-chain";
export * from "./canary-config";
export * from "./canonical";
export * from "./errors";
export * from "./evidence-schema";
export * from "./names";
export * from "./policy-config";
export * from "./position";
export * from "./stats";
export * from "./thresholds";
export * from "./trust";
export * from "./verify";
export * from "./version";
