/**
 * The churn-model catalog: every version the sandbox can serve, and what makes it behave
 * the way it does. Nothing here reads metrics or writes numbers into them; accuracy,
 * latency and errors are what the service measures while these models answer requests.
 *
 * | version | model                                              | behaviour                        |
 * |---------|----------------------------------------------------|----------------------------------|
 * | 1.0.0   | logistic, contract/tenure/charges only             | baseline accuracy (~0.88)        |
 * | 1.1.0   | logistic, all features                              | better accuracy (~0.93)          |
 * | 1.2.0   | 1.1.0 retrained with churners weighted 20×          | over-predicts churn (~0.79)      |
 * | 1.3.0   | 240 boosted stumps, read from the store in pages   | accurate, p99 latency > 250 ms   |
 * | 1.4.0   | 1.1.0 with a one-hot payment-method encoder         | 500s on "mailed-check" (~8%)     |
 */
import { Customer, DATASET_SEED, generateDataset } from "./dataset";

export interface Prediction {
  /** Probability that the customer churns, in [0, 1]. */
  readonly churnProbability: number;
  /** The decision: churnProbability ≥ the model's threshold. */
  readonly churn: boolean;
}

export interface ChurnModel {
  readonly version: string;
  /** One sentence: what the model is and what sets it apart. */
  readonly description: string;
  /** Scores one customer; rejects with a ModelInputError when it cannot handle the input. */
  predict(customer: Customer): Promise<Prediction>;
}

/** The model could not score this input; the service answers 500 (it is the model's fault). */
export class ModelInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ModelInputError";
  }
}

/** The requested version is not in the catalog. */
export class UnknownModelVersion extends Error {
  constructor(version: string) {
    super(`unknown churn-model version "${version}"; the catalog has ${catalogVersions().join(", ")}`);
    this.name = "UnknownModelVersion";
  }
}

const DECISION_THRESHOLD = 0.5;

function sigmoid(z: number): number {
  return 1 / (1 + Math.exp(-z));
}

function decide(logit: number): Prediction {
  const churnProbability = sigmoid(logit);
  return { churnProbability, churn: churnProbability >= DECISION_THRESHOLD };
}

/** The numeric encoding every logistic model of the catalog shares. */
export function encodeFeatures(c: Customer): Record<LogisticFeature, number> {
  return {
    tenureYears: c.tenureMonths / 12,
    monthlyCharges: (c.monthlyCharges - 65) / 30,
    monthToMonth: c.contract === "month-to-month" ? 1 : 0,
    oneYear: c.contract === "one-year" ? 1 : 0,
    fiberOptic: c.internetService === "fiber-optic" ? 1 : 0,
    dsl: c.internetService === "dsl" ? 1 : 0,
    supportCalls: c.supportCalls,
    paperlessBilling: c.paperlessBilling ? 1 : 0,
    seniorCitizen: c.seniorCitizen ? 1 : 0,
    electronicCheck: c.paymentMethod === "electronic-check" ? 1 : 0,
  };
}

export type LogisticFeature =
  | "tenureYears"
  | "monthlyCharges"
  | "monthToMonth"
  | "oneYear"
  | "fiberOptic"
  | "dsl"
  | "supportCalls"
  | "paperlessBilling"
  | "seniorCitizen"
  | "electronicCheck";

export interface LogisticWeights {
  readonly intercept: number;
  readonly coefficients: Readonly<Partial<Record<LogisticFeature, number>>>;
}

/** Baseline: fitted on contract, tenure, charges, billing and age only. */
export const WEIGHTS_1_0_0: LogisticWeights = {
  intercept: -4.86,
  coefficients: {
    tenureYears: -0.59,
    monthlyCharges: 2.3,
    monthToMonth: 5.38,
    oneYear: 1.95,
    paperlessBilling: 0.5,
    seniorCitizen: 0.41,
  },
};

/** Fitted on every feature, including internet service, support calls and payment. */
export const WEIGHTS_1_1_0: LogisticWeights = {
  intercept: -9.3,
  coefficients: {
    tenureYears: -0.98,
    monthlyCharges: 1.7,
    monthToMonth: 7.25,
    oneYear: 1.77,
    fiberOptic: 2.12,
    dsl: -0.23,
    supportCalls: 1.37,
    paperlessBilling: 0.54,
    seniorCitizen: 0.59,
    electronicCheck: 1.17,
  },
};

/**
 * 1.1.0 retrained with churners weighted 20× to raise recall. Class weighting moves the
 * intercept by ln(20) ≈ 3.0, and the 0.5 decision threshold was kept, so the model flags
 * many customers who stay.
 */
export const WEIGHTS_1_2_0: LogisticWeights = {
  intercept: WEIGHTS_1_1_0.intercept + Math.log(20),
  coefficients: WEIGHTS_1_1_0.coefficients,
};

export function logisticLogit(weights: LogisticWeights, c: Customer): number {
  const x = encodeFeatures(c);
  let z = weights.intercept;
  for (const [name, w] of Object.entries(weights.coefficients) as [LogisticFeature, number][]) {
    z += w * x[name];
  }
  return z;
}

function logisticModel(version: string, description: string, weights: LogisticWeights): ChurnModel {
  return {
    version,
    description,
    predict: async (c) => decide(logisticLogit(weights, c)),
  };
}

/**
 * 1.4.0 replaces the electronic-check flag of 1.1.0 by a one-hot payment-method encoder
 * whose vocabulary was built from a sample without mailed checks; the encoder throws on a
 * category it does not know, so every mailed-check customer gets a 500.
 */
export const PAYMENT_VOCABULARY_1_4_0: Readonly<Record<string, number>> = {
  "electronic-check": 1.17,
  "bank-transfer": 0,
  "credit-card": 0,
};

function paymentOneHotModel(): ChurnModel {
  const { electronicCheck: _dropped, ...rest } = WEIGHTS_1_1_0.coefficients;
  const weights: LogisticWeights = { intercept: WEIGHTS_1_1_0.intercept, coefficients: rest };
  return {
    version: "1.4.0",
    description: "1.1.0 with a one-hot payment-method encoder that does not know mailed checks",
    predict: async (c) => {
      const paymentWeight = PAYMENT_VOCABULARY_1_4_0[c.paymentMethod];
      if (paymentWeight === undefined) {
        throw new ModelInputError(`paymentMethod: unknown category "${c.paymentMethod}"`);
      }
      return decide(logisticLogit(weights, c) + paymentWeight);
    },
  };
}

// ---- 1.3.0: gradient-boosted stumps ----------------------------------------------------

/** A depth-1 regression tree over one encoded feature. */
export interface Stump {
  readonly feature: LogisticFeature;
  readonly threshold: number;
  readonly left: number;
  readonly right: number;
}

export const ENSEMBLE_TREES = 240;
export const ENSEMBLE_PAGE_SIZE = 20;
/** Reading one page of trees from the model store. */
export const ENSEMBLE_PAGE_READ_MS = 24;
/** Scoring stops early once |margin| reaches this after at least ENSEMBLE_MIN_PAGES pages. */
export const ENSEMBLE_DECISIVE_MARGIN = 2;
export const ENSEMBLE_MIN_PAGES = 3;
export const ENSEMBLE_TRAINING_SEED = DATASET_SEED + 1;
const ENSEMBLE_TRAINING_ROWS = 4000;
const ENSEMBLE_LEARNING_RATE = 0.25;
const ENSEMBLE_BINS = 16;

/**
 * Trains ENSEMBLE_TREES stumps by Newton boosting on the logistic loss over a training
 * sample drawn with a seed of its own (not the replayed dataset). Deterministic.
 */
export function trainStumps(trees = ENSEMBLE_TREES): { base: number; stumps: Stump[] } {
  const rows = generateDataset(ENSEMBLE_TRAINING_ROWS, ENSEMBLE_TRAINING_SEED);
  const x = rows.map((r) => encodeFeatures(r.features));
  const y: number[] = rows.map((r) => (r.churned ? 1 : 0));
  const features = Object.keys(x[0]) as LogisticFeature[];
  const thresholds = new Map<LogisticFeature, number[]>();
  const binOf = new Map<LogisticFeature, Int32Array>();
  for (const f of features) {
    const values = [...new Set(x.map((row) => row[f]))].sort((a, b) => a - b);
    const cuts: number[] = [];
    for (let b = 1; b < ENSEMBLE_BINS; b++) {
      const i = Math.floor((b * values.length) / ENSEMBLE_BINS);
      if (i > 0 && i < values.length) {
        cuts.push((values[i - 1] + values[i]) / 2);
      }
    }
    const unique = [...new Set(cuts)];
    thresholds.set(f, unique);
    // bin b holds the rows with cuts[b-1] < value <= cuts[b]; the last bin is above every cut
    binOf.set(
      f,
      Int32Array.from(x, (row) => {
        const b = unique.findIndex((cut) => row[f] <= cut);
        return b === -1 ? unique.length : b;
      }),
    );
  }
  const positives = y.reduce((a, b) => a + b, 0);
  const base = Math.log(positives / (y.length - positives));
  const margin = y.map(() => base);
  const stumps: Stump[] = [];
  for (let t = 0; t < trees; t++) {
    const g = margin.map((m, i) => sigmoid(m) - y[i]);
    const h = margin.map((m) => Math.max(sigmoid(m) * (1 - sigmoid(m)), 1e-6));
    const gTotal = g.reduce((a, b) => a + b, 0);
    const hTotal = h.reduce((a, b) => a + b, 0);
    let best: { gain: number; stump: Stump } | undefined;
    for (const f of features) {
      const cuts = thresholds.get(f) ?? [];
      const bins = binOf.get(f) ?? new Int32Array(x.length);
      const gBin = new Float64Array(cuts.length + 1);
      const hBin = new Float64Array(cuts.length + 1);
      for (let i = 0; i < x.length; i++) {
        gBin[bins[i]] += g[i];
        hBin[bins[i]] += h[i];
      }
      const gBelow: number[] = [];
      const hBelow: number[] = [];
      for (let c = 0; c < cuts.length; c++) {
        gBelow.push((gBelow[c - 1] ?? 0) + gBin[c]);
        hBelow.push((hBelow[c - 1] ?? 0) + hBin[c]);
      }
      for (let c = 0; c < cuts.length; c++) {
        const gL = gBelow[c];
        const hL = hBelow[c] + 1;
        const gR = gTotal - gBelow[c];
        const hR = hTotal - hBelow[c] + 1;
        const gain = (gL * gL) / hL + (gR * gR) / hR;
        if (!best || gain > best.gain) {
          best = {
            gain,
            stump: {
              feature: f,
              threshold: cuts[c],
              left: (-ENSEMBLE_LEARNING_RATE * gL) / hL,
              right: (-ENSEMBLE_LEARNING_RATE * gR) / hR,
            },
          };
        }
      }
    }
    if (!best) {
      break;
    }
    const s = best.stump;
    stumps.push(s);
    for (let i = 0; i < x.length; i++) {
      margin[i] += x[i][s.feature] <= s.threshold ? s.left : s.right;
    }
  }
  return { base, stumps };
}

export interface EnsembleScore {
  readonly logit: number;
  /** Pages of trees read from the store to reach the decision. */
  readonly pagesRead: number;
}

/** Scores page by page and stops once the margin is decisive: confident customers are cheap. */
export function scoreEnsemble(
  ensemble: { base: number; stumps: readonly Stump[] },
  c: Customer,
): EnsembleScore {
  const x = encodeFeatures(c);
  let logit = ensemble.base;
  let pagesRead = 0;
  for (let start = 0; start < ensemble.stumps.length; start += ENSEMBLE_PAGE_SIZE) {
    for (const s of ensemble.stumps.slice(start, start + ENSEMBLE_PAGE_SIZE)) {
      logit += x[s.feature] <= s.threshold ? s.left : s.right;
    }
    pagesRead++;
    if (pagesRead >= ENSEMBLE_MIN_PAGES && Math.abs(logit) >= ENSEMBLE_DECISIVE_MARGIN) {
      break;
    }
  }
  return { logit, pagesRead };
}

let trainedEnsemble: { base: number; stumps: Stump[] } | undefined;

/** The 1.3.0 ensemble, trained once per process. */
export function ensemble130(): { base: number; stumps: Stump[] } {
  trainedEnsemble ??= trainStumps();
  return trainedEnsemble;
}

function pagedEnsembleModel(): ChurnModel {
  const ensemble = ensemble130();
  return {
    version: "1.3.0",
    description:
      `${ENSEMBLE_TREES} boosted stumps kept in the model store; a request reads pages of ` +
      `${ENSEMBLE_PAGE_SIZE} trees (${ENSEMBLE_PAGE_READ_MS} ms each) until its margin is decisive`,
    predict: async (c) => {
      const { logit, pagesRead } = scoreEnsemble(ensemble, c);
      await new Promise((resolve) => setTimeout(resolve, pagesRead * ENSEMBLE_PAGE_READ_MS));
      return decide(logit);
    },
  };
}

// ---- the catalog ------------------------------------------------------------------------

const CATALOG: Readonly<Record<string, () => ChurnModel>> = {
  "1.0.0": () =>
    logisticModel(
      "1.0.0",
      "baseline logistic model on contract, tenure, charges, billing and age",
      WEIGHTS_1_0_0,
    ),
  "1.1.0": () => logisticModel("1.1.0", "logistic model on every customer feature", WEIGHTS_1_1_0),
  "1.2.0": () =>
    logisticModel(
      "1.2.0",
      "1.1.0 retrained with churners weighted 20×, threshold left at 0.5",
      WEIGHTS_1_2_0,
    ),
  "1.3.0": pagedEnsembleModel,
  "1.4.0": paymentOneHotModel,
};

export function catalogVersions(): string[] {
  return Object.keys(CATALOG).sort();
}

/** The model for `version`; throws UnknownModelVersion for a version not in the catalog. */
export function loadModel(version: string): ChurnModel {
  const make = Object.prototype.hasOwnProperty.call(CATALOG, version) ? CATALOG[version] : undefined;
  if (!make) {
    throw new UnknownModelVersion(version);
  }
  return make();
}
