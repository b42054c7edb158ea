/**
 * A Pulumi program that declares the churn-model service from the stack's `churn-model:*`
 * config the way stacks/program.ts does, without the program's own evidence check
 * (assertPromotionEvidence): what someone who bypasses the program deploys. Only the policy
 * pack stands between it and production.
 *
 * `churn-model-bypass:image` replaces the image `<registry>/churn-model:<modelVersion>`,
 * so an image the stack config refuses (`:latest`) can reach the engine.
 */
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "../../stacks/config";
import { declareService } from "../../stacks/program";

const cfg = readStackConfig(new pulumi.Config("churn-model"));

export = declareService(cfg, { image: new pulumi.Config("churn-model-bypass").get("image") });
