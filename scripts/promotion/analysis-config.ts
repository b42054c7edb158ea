/**
 * Reading the analysis settings (policy/contract/analysis.ts) from a policy-config file.
 */
import type { AnalysisSettings } from "../../policy/contract";
import { loadPolicyConfig } from "./thresholds";

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
  return loadPolicyConfig(file).analysis;
}
