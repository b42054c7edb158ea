"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
/**
 * The churn-model CrossGuard policy pack. Run it with
 * `pulumi preview|up --policy-pack policy --policy-pack-config policy/config/<environment>.json`.
 */
// First: the SDK's parts the pack never uses load only if used (sdk-loading.ts).
require("./sdk-loading");
const policy_1 = require("@pulumi/policy");
const pack_1 = require("./pack");
new policy_1.PolicyPack(pack_1.PACK_NAME, { policies: pack_1.policies, enforcementLevel: "mandatory" });
