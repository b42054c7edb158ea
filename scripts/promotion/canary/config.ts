/**
 * The canary settings of a policy-config file as the promotion uses them. Their meaning and
 * validation are the contract's (policy/contract/canary-config.ts); this module turns problems
 * into BadInput and chooses the strategy of a promotion. docs/canary.md explains every key.
 */
import { promotionStrategiesOf } from "../../../policy/contract";
import type { PromotionStrategies, Strategy } from "../../../policy/contract";
import { BadInput } from "../errors";

export type {
  CanaryCriteria,
  CanarySettings,
  CanaryStep,
  PromotionStrategies,
  Strategy,
} from "../../../policy/contract";
export { DEFAULT_STRATEGIES, STRATEGIES } from "../../../policy/contract";

/**
 * Reads `strategies` and `canary` from a parsed `promotion-evidence` section; throws BadInput
 * naming `source` and every problem at once.
 */
export function parsePromotionStrategies(
  section: Record<string, unknown>,
  source: string,
): PromotionStrategies {
  const { settings, problems } = promotionStrategiesOf(section);
  if (problems.length > 0) {
    throw new BadInput(`${source}: "promotion-evidence": ${problems.join("; ")}`);
  }
  return settings;
}

/** The strategy a promotion uses: the one asked for, which the target must accept, or the target's default. */
export function chooseStrategy(
  accepted: PromotionStrategies,
  requested: Strategy | undefined,
  source: string,
): Strategy {
  const strategy = requested ?? accepted.strategies[0];
  if (!accepted.strategies.includes(strategy)) {
    throw new BadInput(
      `--strategy ${strategy} is refused: ${source} accepts only ${accepted.strategies.join(", ")} for this target`,
    );
  }
  return strategy;
}
