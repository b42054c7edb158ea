/**
 * The churn-model CrossGuard policy pack. Run it with
 * `pulumi preview|up --policy-pack policy --policy-pack-config policy/config/<environment>.json`.
 */
// First: the SDK's parts the pack never uses load only if used (sdk-loading.ts).
import "./sdk-loading";
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./pack";

new PolicyPack(PACK_NAME, { policies, enforcementLevel: "mandatory" });
