/**
 * How the sandbox's namespace proxy spreads requests over the service processes of a
 * namespace: in proportion to each Deployment's ready replicas, as a Service's endpoints
 * spread connections over ready pods. So a canary Deployment with 1 ready pod beside a
 * stable one with 9 gets about one request in ten (README, "The sandbox").
 *
 * The choice is an independent weighted draw per request, as kube-proxy's iptables mode picks
 * an endpoint at random per connection. It is not a rotation: the traffic is periodic (every
 * prediction is followed by its feedback, so the request stream alternates predict, feedback,
 * predict, …), and a deterministic rotation whose period shares a factor with the traffic's
 * sends one backend only one kind of request. A 1-of-10 canary under smooth weighted
 * round-robin got every tenth request, which was always a feedback request: it never saw a
 * prediction, so its errors were never measured and an error-prone version passed its canary.
 * The draws come from a seeded PRNG, so a run can be replayed with the same seed.
 */
import { randomInt } from "crypto";
import { mulberry32 } from "./service/dataset";

export interface WeightedBackend {
  readonly url: string;
  /** Ready replicas of the Deployment behind this process; 0 takes no traffic. */
  readonly weight: number;
}

export class WeightedRandom {
  private backends: WeightedBackend[] = [];
  private total = 0;
  private readonly random: () => number;

  /** `seed` fixes the draws (tests); by default each proxy draws from a seed of its own. */
  constructor(seed: number = randomInt(0, 2 ** 32)) {
    this.random = mulberry32(seed);
  }

  /**
   * Replaces the backends. Weights must be non-negative integers; a backend with weight 0
   * is dropped.
   */
  set(backends: readonly WeightedBackend[]): void {
    for (const b of backends) {
      if (!Number.isInteger(b.weight) || b.weight < 0) {
        throw new Error(`backend ${b.url}: weight (${b.weight}) must be a non-negative integer`);
      }
    }
    this.backends = backends.filter((b) => b.weight > 0).map((b) => ({ url: b.url, weight: b.weight }));
    this.total = this.backends.reduce((sum, b) => sum + b.weight, 0);
  }

  /** The backends taking traffic, in the order given. */
  list(): readonly WeightedBackend[] {
    return this.backends;
  }

  /**
   * The backend for the next request, or undefined when none takes traffic: backend i with
   * probability weight_i / sum(weights), independently of every earlier request.
   */
  next(): WeightedBackend | undefined {
    if (this.backends.length === 0) {
      return undefined;
    }
    let u = this.random() * this.total;
    for (const b of this.backends) {
      u -= b.weight;
      if (u < 0) {
        return b;
      }
    }
    return this.backends[this.backends.length - 1];
  }
}
