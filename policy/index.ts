/**
 * The churn-model CrossGuard policy pack. Run it with
 * `pulumi preview|up --policy-pack policy --policy-pack-config policy/config/<environment>.json`.
 */
import { PolicyPack } from "@pulumi/policy";
import { PACK_NAME, policies } from "./pack";

new PolicyPack(PACK_NAME, { policies, enforcementLevel: "mandatory" });
