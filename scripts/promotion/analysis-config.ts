/**
 * Reading the analysis settings (policy/contract/analysis.ts) from a policy-config file.
 */
import * as fs from "fs";
import { parseAnalysisSettings } from "../../policy/contract";
import type { AnalysisSettings } from "../../policy/contract";
import { BadInput } from "./errors";

export type { AnalysisSettings, CheckMode, CheckName } from "../../policy/contract";
export {
  ANALYSIS_CONFIG_SCHEMA,
  ANALYSIS_KEYS,
  CHECK_NAMES,
  DEFAULT_ANALYSIS,
  intervalConfidence,
  parseAnalysisSettings,
} from "../../policy/contract";

/**
 * Reads the analysis settings from a policy-config file's `promotion-evidence` section
 * (absent keys take their defaults); throws BadInput naming the file and each bad key.
 */
export function loadAnalysisSettings(file: string): AnalysisSettings {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new BadInput(`cannot read policy config ${file}: ${(err as Error).message}`);
  }
  const section = (parsed as Record<string, unknown> | null)?.["promotion-evidence"];
  if (typeof section !== "object" || section === null || Array.isArray(section)) {
    throw new BadInput(`policy config ${file} has no "promotion-evidence" section`);
  }
  const { settings, problems } = parseAnalysisSettings(section as Record<string, unknown>);
  if (problems.length > 0) throw new BadInput(`${file}: "promotion-evidence": ${problems.join("; ")}`);
  return settings;
}
