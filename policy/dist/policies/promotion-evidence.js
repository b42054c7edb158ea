"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.promotionEvidence = exports.DEFAULT_THRESHOLDS = void 0;
const contract_1 = require("../contract");
Object.defineProperty(exports, "DEFAULT_THRESHOLDS", { enumerable: true, get: function () { return contract_1.DEFAULT_THRESHOLDS; } });
const values_1 = require("../lib/values");
const workloads_1 = require("../lib/workloads");
const configSchema = {
    properties: {
        ...(0, contract_1.thresholdSchemaProperties)(),
        publicKey: { type: "string", description: "The Ed25519 public key (SPKI PEM) that verifies evidence." },
        strategies: {
            type: "array",
            items: { type: "string", enum: [...contract_1.STRATEGIES] },
            description: "The promotion strategies this target accepts, the first the default (docs/canary.md).",
        },
        canary: {
            type: "object",
            description: "The canary steps and comparison criteria (docs/canary.md); read by the promotion.",
        },
        ...contract_1.ANALYSIS_CONFIG_SCHEMA,
        ...contract_1.APPROVAL_CONFIG_SCHEMA,
        ...contract_1.ROLLBACK_CONFIG_SCHEMA,
    },
};
/**
 * The engine's config of this policy is the policy config's `promotion-evidence` section (with
 * the schema's defaults); it goes through the one policy-config parser like every other reader.
 */
function policyConfigOf(config) {
    return (0, contract_1.parsePolicyConfig)({ [contract_1.EVIDENCE_POLICY]: config }, "the policy config");
}
function checkEvidence(w, config, report, now, project, stack) {
    let policyConfig;
    try {
        policyConfig = policyConfigOf(config);
    }
    catch (err) {
        if (err instanceof contract_1.ContractError) {
            report(`${w.display}: no promotion evidence can pass: ${err.message}`);
            return;
        }
        throw err;
    }
    if (project !== contract_1.SANDBOX_PROJECT && (0, contract_1.isSandboxKey)(policyConfig.publicKey)) {
        report(`${w.display}: the policy config's evidence key is the sandbox's demo key (fingerprint ` +
            `${(0, contract_1.keyFingerprint)(policyConfig.publicKey)}), whose private half is public: production of project ` +
            `${project ?? "(unknown)"} never trusts it (only stacks of project ${contract_1.SANDBOX_PROJECT} do)`);
        return;
    }
    const sandboxed = project === contract_1.SANDBOX_PROJECT ? undefined : (0, contract_1.sandboxApprover)(policyConfig.approvals.approvers);
    if (sandboxed !== undefined) {
        report(`${w.display}: the policy config lists approver ${sandboxed} with the sandbox's demo approver key, whose ` +
            `private half is public: production of project ${project ?? "(unknown)"} never trusts it (only stacks ` +
            `of project ${contract_1.SANDBOX_PROJECT} do)`);
        return;
    }
    const evidence = (0, values_1.record)(w.metadata?.annotations)?.[contract_1.EVIDENCE_ANNOTATION];
    if (evidence === undefined) {
        report(`${w.display} runs in production without promotion evidence: the annotation ${contract_1.EVIDENCE_ANNOTATION} ` +
            "must hold the signed evidence the promotion wrote");
        return;
    }
    if (typeof evidence !== "string") {
        report(`${w.display}: the annotation ${contract_1.EVIDENCE_ANNOTATION} must be a string holding the signed evidence`);
        return;
    }
    const models = (0, workloads_1.containersOf)(w).filter((c) => {
        const image = (0, values_1.text)(c.props.image);
        return image !== undefined && (0, workloads_1.parseImage)(image)?.name === workloads_1.MODEL_NAME;
    });
    if (models.length === 0) {
        report(`${w.display} runs no ${workloads_1.MODEL_NAME} image, so its promotion evidence cannot be matched to a version`);
        return;
    }
    const position = positionOf(w, report);
    if (position === undefined)
        return;
    const namespace = (0, values_1.text)(w.metadata?.namespace) ?? "default";
    const problems = new Set();
    for (const c of models) {
        const image = (0, values_1.text)(c.props.image) ?? "";
        const version = (0, workloads_1.imageVersion)((0, workloads_1.parseImage)(image));
        if (version === undefined) {
            problems.add(`${c.label} runs ${image}, which names no version (a tag or a digest)`);
            continue;
        }
        const found = (0, contract_1.verifyEvidence)(evidence, {
            publicKeyPem: policyConfig.publicKey,
            thresholds: policyConfig.thresholds,
            analysis: policyConfig.analysis,
            imageVersion: version,
            image,
            now,
            approvals: policyConfig.approvals,
            target: stack,
            position: {
                position,
                namespace,
                maxRollbackEvidenceAgeDays: policyConfig.maxRollbackEvidenceAgeDays,
                ...(project !== undefined && stack !== undefined ? { stackSuffix: `${project}/${stack}` } : {}),
            },
        });
        for (const p of found) {
            problems.add(`${w.display}: ${p}`);
        }
    }
    if (problems.size === 0 && !(0, workloads_1.isCanaryTrack)(w)) {
        // The stable moves only as the target's strategies allow (docs/canary.md, "The canary chain").
        for (const p of (0, contract_1.stableChainOfEvidence)(evidence, policyConfig.strategies))
            problems.add(`${w.display}: ${p}`);
    }
    for (const p of problems) {
        report(p);
    }
}
/**
 * The position of production the program read from the engine (its own stack's last
 * successful update) and wrote on the workload; reported and undefined when absent or malformed.
 */
function positionOf(w, report) {
    const raw = (0, values_1.record)(w.metadata?.annotations)?.[contract_1.POSITION_ANNOTATION];
    if (typeof raw !== "string") {
        report(`${w.display} runs in production without production's position: the annotation ${contract_1.POSITION_ANNOTATION} ` +
            "must hold the promotion sequence the program read from the stack's last successful update " +
            "(target.follows cannot be checked without it)");
        return undefined;
    }
    try {
        return (0, contract_1.parsePositionText)(raw, `the annotation ${contract_1.POSITION_ANNOTATION}`);
    }
    catch (err) {
        if (err instanceof contract_1.ContractError) {
            report(`${w.display}: ${err.message}`);
            return undefined;
        }
        throw err;
    }
}
/** The stack of a resource's URN (`urn:pulumi:<stack>::<project>::…`), when it names one. */
function stackOfUrn(urn) {
    const m = /^urn:pulumi:([^:]+)::/.exec(urn ?? "");
    return m === null ? undefined : m[1];
}
/**
 * Production runs only model versions the promotion proved in staging. Evidence unknown at
 * preview is a violation: a production version must be provable before the update runs.
 */
exports.promotionEvidence = {
    name: contract_1.EVIDENCE_POLICY,
    description: "A churn-model workload in production must carry signed promotion evidence that names exactly the " +
        "version its image runs, holds staging metrics meeting this policy's thresholds, and is younger than " +
        "maxEvidenceAgeHours; the stable's evidence must show a passed canary where only canary is accepted, " +
        "and a quorum of signed approvals where signatures are required.",
    enforcementLevel: "mandatory",
    configSchema,
    validateResource: (args, report) => {
        const w = (0, workloads_1.workloadOf)(args.type, args.props, args.name);
        if (w === undefined) {
            return;
        }
        try {
            // A workload known to be staging needs no evidence; one whose environment is unknown
            // counts as production once it is known to be the churn-model service.
            let production;
            try {
                production = (0, workloads_1.isProduction)(w);
            }
            catch (err) {
                if (!(0, values_1.isUnknownValueError)(err)) {
                    throw err;
                }
                production = err;
            }
            if (production === false || !(0, workloads_1.isChurnModelWorkload)(w)) {
                return;
            }
            if (production instanceof Error) {
                throw production;
            }
            checkEvidence(w, args.getConfig(), report, new Date(), (0, contract_1.projectOfUrn)(args.urn), stackOfUrn(args.urn));
        }
        catch (err) {
            if (!(0, values_1.isUnknownValueError)(err)) {
                throw err;
            }
            report(`${w.display}: promotion evidence could not be verified because ${(0, values_1.unknownPath)(err)} is unknown at ` +
                "preview; a production version must be provable before the update runs");
        }
    },
};
