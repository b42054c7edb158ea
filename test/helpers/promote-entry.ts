/**
 * The promote CLI's main() as its own process, for the integration tests whose subject is not
 * where the inputs come from (approval, the signing key, the engine's processes): staging's
 * outputs come from a JSON file and the target's policy config from a file, as a dry run's
 * `--staging-outputs` and `--thresholds` would give them, which a promotion refuses. With
 * `PROMOTE_ENTRY_CLOCK` (RFC 3339) the promotion's clock starts at that time and runs on, so a
 * promotion judges synthetic metrics that end then as if they ended now (a promotion refuses
 * an `--at` more than 10 min in the past).
 *
 *   node -r ts-node/register promote-entry.ts OUTPUTS_FILE POLICY_CONFIG [promote flags…]
 */
import { main } from "../../scripts/promote";
import { readStagingOutputsFile } from "../../scripts/promotion/outputs";

const [outputsFile, policyConfig, ...argv] = process.argv.slice(2);
const clock = process.env.PROMOTE_ENTRY_CLOCK;
const offsetMs = clock === undefined ? 0 : Date.now() - Date.parse(clock);
void main(argv, undefined, {
  readStaging: (o) => Promise.resolve(readStagingOutputsFile(outputsFile, o.from)),
  policyConfig: () => policyConfig,
  ...(clock === undefined ? {} : { now: () => new Date(Date.now() - offsetMs) }),
}).then((code) => {
  process.exitCode = code;
});
