/**
 * A deterministic synthetic customer dataset with known churn labels. Customers are drawn
 * from a seeded PRNG, and each label comes from a "true" churn process: a logit that is
 * not exactly linear in the features (month-to-month fiber customers churn more than the
 * sum of both effects, support calls saturate, the first months of tenure weigh most),
 * plus logistic noise. The models of the catalog never see this process; they only
 * approximate it, which is what gives each of them its accuracy.
 */

export const CONTRACTS = ["month-to-month", "one-year", "two-year"] as const;
export const INTERNET_SERVICES = ["none", "dsl", "fiber-optic"] as const;
export const PAYMENT_METHODS = ["electronic-check", "mailed-check", "bank-transfer", "credit-card"] as const;

export type Contract = (typeof CONTRACTS)[number];
export type InternetService = (typeof INTERNET_SERVICES)[number];
export type PaymentMethod = (typeof PAYMENT_METHODS)[number];

/** The features a prediction request carries. */
export interface Customer {
  readonly tenureMonths: number;
  readonly monthlyCharges: number;
  readonly contract: Contract;
  readonly internetService: InternetService;
  readonly paymentMethod: PaymentMethod;
  readonly supportCalls: number;
  readonly paperlessBilling: boolean;
  readonly seniorCitizen: boolean;
}

export interface LabeledCustomer {
  /** Stable identifier of the row: `c<index>`. */
  readonly customerId: string;
  readonly features: Customer;
  /** The ground truth: whether this customer churned. */
  readonly churned: boolean;
}

/** The seed of the dataset every test and the traffic generator replay. */
export const DATASET_SEED = 20240611;
/** How many customers the replayed dataset holds. */
export const DATASET_SIZE = 5000;
/** Scale of the logistic noise in the true process; it bounds any model's accuracy. */
export const LABEL_NOISE_SCALE = 0.35;

/** mulberry32: a small, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function pick<T>(rand: () => number, values: readonly T[], weights: readonly number[]): T {
  let u = rand() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < values.length; i++) {
    u -= weights[i];
    if (u < 0) {
      return values[i];
    }
  }
  return values[values.length - 1];
}

function poisson(rand: () => number, mean: number): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rand();
  while (p > limit) {
    k++;
    p *= rand();
  }
  return k;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}

function drawCustomer(rand: () => number): Customer {
  const tenureMonths = rand() < 0.3 ? Math.floor(rand() * 13) : Math.floor(rand() * 73);
  const contract = pick(
    rand,
    CONTRACTS,
    tenureMonths < 12 ? [0.8, 0.15, 0.05] : tenureMonths < 36 ? [0.5, 0.3, 0.2] : [0.3, 0.3, 0.4],
  );
  const internetService = pick(rand, INTERNET_SERVICES, [0.2, 0.35, 0.45]);
  const base = internetService === "none" ? 18 : internetService === "dsl" ? 40 : 70;
  const spread = internetService === "none" ? 12 : internetService === "dsl" ? 30 : 50;
  const monthlyCharges = round2(base + rand() * spread);
  const paymentMethod = pick(rand, PAYMENT_METHODS, [0.36, 0.08, 0.28, 0.28]);
  const supportCalls = poisson(rand, internetService === "fiber-optic" ? 2.2 : 1.2);
  const paperlessBilling = rand() < 0.6;
  const seniorCitizen = rand() < 0.16;
  return {
    tenureMonths,
    monthlyCharges,
    contract,
    internetService,
    paymentMethod,
    supportCalls,
    paperlessBilling,
    seniorCitizen,
  };
}

/** The logit of the true churn process (positive: more likely to churn than not). */
export function trueChurnLogit(c: Customer): number {
  const contract = c.contract === "month-to-month" ? 1.6 : c.contract === "one-year" ? -0.6 : -2.4;
  const internet = c.internetService === "fiber-optic" ? 0.9 : c.internetService === "dsl" ? -0.1 : -1.0;
  const fiberMonthly = c.internetService === "fiber-optic" && c.contract === "month-to-month" ? 0.8 : 0;
  const tenure = (-3.2 * Math.log1p(c.tenureMonths / 6)) / Math.log1p(12);
  const support = 1.1 * Math.min(c.supportCalls, 5) - 0.05 * Math.min(c.supportCalls, 5) ** 2;
  const charges = 0.018 * (c.monthlyCharges - 65);
  const payment =
    c.paymentMethod === "electronic-check" ? 0.6 : c.paymentMethod === "mailed-check" ? 0.1 : -0.3;
  return (
    -2.4 +
    contract +
    internet +
    fiberMonthly +
    tenure +
    support +
    charges +
    payment +
    (c.paperlessBilling ? 0.3 : 0) +
    (c.seniorCitizen ? 0.4 : 0)
  );
}

/**
 * `count` customers with labels, drawn from `seed`. The same seed and count always give the
 * same rows; a longer dataset starts with the rows of a shorter one.
 */
export function generateDataset(
  count: number = DATASET_SIZE,
  seed: number = DATASET_SEED,
): LabeledCustomer[] {
  if (!Number.isInteger(count) || count < 0) {
    throw new Error(`count (${count}) must be a non-negative integer`);
  }
  const rand = mulberry32(seed);
  const rows: LabeledCustomer[] = [];
  for (let i = 0; i < count; i++) {
    const features = drawCustomer(rand);
    const u = Math.min(Math.max(rand(), 1e-12), 1 - 1e-12);
    const noise = LABEL_NOISE_SCALE * Math.log(u / (1 - u));
    rows.push({ customerId: `c${i}`, features, churned: trueChurnLogit(features) + noise > 0 });
  }
  return rows;
}
