/**
 * A Pulumi program that declares the churn-model service from the stack's `churn-model:*`
 * config the way stacks/program.ts does, without the program's own evidence check
 * (assertPromotionEvidence): what someone who bypasses the program deploys. Only the policy
 * pack stands between it and production.
 *
 * `churn-model-bypass:image` replaces the image `<registry>/churn-model:<modelVersion>`,
 * so an image the stack config refuses (`:latest`) can reach the engine. Production's position
 * is the one the program reads from the engine, unless `churn-model-bypass:position` (JSON)
 * replaces it with one of the bypasser's choosing.
 */
import * as pulumi from "@pulumi/pulumi";
import { parsePosition } from "../../policy/contract";
import { readStackConfig } from "../../stacks/config";
import { readPosition } from "../../stacks/position";
import { declareService } from "../../stacks/program";

const cfg = readStackConfig(new pulumi.Config("churn-model"));
const bypass = new pulumi.Config("churn-model-bypass");

async function main(): Promise<Record<string, unknown>> {
  const given = bypass.getObject<unknown>("position");
  const position =
    given !== undefined
      ? parsePosition(given, "churn-model-bypass:position")
      : cfg.environment === "production"
        ? await readPosition(cfg.modelVersion)
        : undefined;
  return declareService(cfg, { image: bypass.get("image"), position });
}

export = main();
