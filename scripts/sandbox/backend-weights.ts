/**
 * How the sandbox's namespace proxy spreads requests over the service processes of a
 * namespace: in proportion to each Deployment's ready replicas, as a Service's endpoints
 * spread connections over ready pods. So a canary Deployment with 1 ready pod beside a
 * stable one with 9 gets one request in ten (README, "The sandbox").
 *
 * The choice is nginx's smooth weighted round-robin, not a random draw: over every run of
 * `sum(weights)` consecutive requests each backend gets exactly its weight, interleaved
 * (9:1 → one canary request in each run of ten), so small samples split exactly and tests
 * can assert the split.
 */

export interface WeightedBackend {
  readonly url: string;
  /** Ready replicas of the Deployment behind this process; 0 takes no traffic. */
  readonly weight: number;
}

export class WeightedRoundRobin {
  private backends: WeightedBackend[] = [];
  private current: number[] = [];
  private total = 0;

  /**
   * Replaces the backends. Weights must be non-negative integers; a backend with weight 0
   * is dropped. The rotation starts afresh only when the set or its weights changed.
   */
  set(backends: readonly WeightedBackend[]): void {
    for (const b of backends) {
      if (!Number.isInteger(b.weight) || b.weight < 0) {
        throw new Error(`backend ${b.url}: weight (${b.weight}) must be a non-negative integer`);
      }
    }
    const kept = backends.filter((b) => b.weight > 0);
    const same =
      kept.length === this.backends.length &&
      kept.every((b, i) => b.url === this.backends[i].url && b.weight === this.backends[i].weight);
    if (same) {
      return;
    }
    this.backends = kept.map((b) => ({ url: b.url, weight: b.weight }));
    this.current = kept.map(() => 0);
    this.total = kept.reduce((sum, b) => sum + b.weight, 0);
  }

  /** The backends taking traffic, in the order given. */
  list(): readonly WeightedBackend[] {
    return this.backends;
  }

  /**
   * The backend for the next request, or undefined when none takes traffic. Rules, in order:
   * - every backend's running score grows by its weight;
   * - the highest score wins (the first listed on a tie);
   * - the winner's score drops by the sum of all weights.
   */
  next(): WeightedBackend | undefined {
    if (this.backends.length === 0) {
      return undefined;
    }
    let best = 0;
    for (let i = 0; i < this.backends.length; i++) {
      this.current[i] += this.backends[i].weight;
      if (this.current[i] > this.current[best]) {
        best = i;
      }
    }
    this.current[best] -= this.total;
    return this.backends[best];
  }
}
