"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.registryEntryProblem = registryEntryProblem;
exports.parsePolicyConfig = parsePolicyConfig;
exports.parsePolicyConfigText = parsePolicyConfigText;
/**
 * The policy-config file (policy/config/<environment>.json, Pulumi's policy-config format):
 * one parser for everyone who reads it — the promotion tools, the program, the Deployments
 * program and tests. The pack itself receives the same sections from the engine. See
 * docs/design.md ("Policy config").
 */
const analysis_1 = require("./analysis");
const approval_quorum_1 = require("./approval-quorum");
const canary_config_1 = require("./canary-config");
const errors_1 = require("./errors");
const names_1 = require("./names");
const thresholds_1 = require("./thresholds");
const position_1 = require("./position");
/**
 * Why an allowedRegistries entry is refused, or undefined: its first host label (an ECR
 * registry's account ID, any other registry's host name) must be concrete, so an entry names
 * one account's registries, never every account's (`*.dkr.ecr.*.amazonaws.com`).
 */
function registryEntryProblem(entry) {
    const firstLabel = entry.split("/")[0].split(".")[0];
    return firstLabel.includes("*")
        ? `entry ${JSON.stringify(entry)} has a wildcard in its first host label (the account): name each registry's account`
        : undefined;
}
function section(obj, name) {
    const v = obj[name];
    return typeof v === "object" && v !== null && !Array.isArray(v)
        ? v
        : undefined;
}
/** Parses an already decoded policy config; throws ContractError naming `source` and the key. */
function parsePolicyConfig(value, source) {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        throw new errors_1.ContractError(`${source} must hold a JSON object of policy settings`);
    }
    const obj = value;
    if (!(names_1.EVIDENCE_POLICY in obj)) {
        throw new errors_1.ContractError(`${source} has no "${names_1.EVIDENCE_POLICY}" section (the thresholds the policy enforces)`);
    }
    const evidence = obj[names_1.EVIDENCE_POLICY];
    const thresholds = (0, thresholds_1.parseThresholds)(evidence, source);
    const analysis = (0, analysis_1.parseAnalysisSettings)(evidence);
    const strategies = (0, canary_config_1.promotionStrategiesOf)(evidence);
    const approvals = (0, approval_quorum_1.approvalPolicyOf)(evidence);
    const rollbackAge = (0, position_1.rollbackAgeOf)(evidence);
    const problems = [
        ...analysis.problems,
        ...strategies.problems,
        ...approvals.problems,
        ...rollbackAge.problems,
    ].map((p) => `"${names_1.EVIDENCE_POLICY}".${p}`);
    const key = evidence.publicKey;
    if (key !== undefined && (typeof key !== "string" || !key.includes("BEGIN PUBLIC KEY"))) {
        problems.push(`"${names_1.EVIDENCE_POLICY}".publicKey must be an SPKI PEM public key (-----BEGIN PUBLIC KEY-----)`);
    }
    const registries = section(obj, "image-pinning")?.allowedRegistries;
    if (registries !== undefined &&
        (!Array.isArray(registries) || registries.some((r) => typeof r !== "string" || r.trim() === ""))) {
        problems.push(`"image-pinning".allowedRegistries must be a list of registry prefixes`);
    }
    else if (registries !== undefined) {
        for (const entry of registries) {
            const problem = registryEntryProblem(entry);
            if (problem !== undefined)
                problems.push(`"image-pinning".allowedRegistries: ${problem}`);
        }
    }
    const environment = section(obj, "environment-label")?.environment;
    if (environment !== undefined && typeof environment !== "string") {
        problems.push(`"environment-label".environment must be a string`);
    }
    if (problems.length > 0) {
        throw new errors_1.ContractError(`${source}: ${problems.join("; ")}`, problems);
    }
    return {
        thresholds,
        analysis: analysis.settings,
        strategies: strategies.settings,
        approvals: approvals.settings,
        maxRollbackEvidenceAgeDays: rollbackAge.days,
        publicKey: typeof key === "string" && key.trim() !== "" ? key : undefined,
        allowedRegistries: registries,
        environment: environment,
        sections: obj,
    };
}
/** Parses a policy config from its JSON text; throws ContractError naming `source`. */
function parsePolicyConfigText(text, source) {
    let parsed;
    try {
        parsed = JSON.parse(text);
    }
    catch (err) {
        throw new errors_1.ContractError(`${source} is not valid JSON: ${err.message}`);
    }
    return parsePolicyConfig(parsed, source);
}
