import { expect } from "chai";
import { DATASET_SIZE, generateDataset, LabeledCustomer } from "../../scripts/sandbox/service/dataset";
import {
  catalogVersions,
  ensemble130,
  ENSEMBLE_PAGE_READ_MS,
  ENSEMBLE_TREES,
  ENSEMBLE_PAGE_SIZE,
  loadModel,
  ModelInputError,
  scoreEnsemble,
  UnknownModelVersion,
} from "../../scripts/sandbox/service/models";

interface Measured {
  accuracy: number;
  errorShare: number;
  errors: string[];
}

async function measure(version: string, rows: readonly LabeledCustomer[]): Promise<Measured> {
  const model = loadModel(version);
  let correct = 0;
  let answered = 0;
  const errors: string[] = [];
  for (const row of rows) {
    try {
      const p = await model.predict(row.features);
      answered++;
      if (p.churn === row.churned) correct++;
    } catch (err) {
      expect(err).to.be.instanceOf(ModelInputError);
      errors.push((err as Error).message);
    }
  }
  return { accuracy: correct / answered, errorShare: errors.length / rows.length, errors };
}

function quantile(sorted: readonly number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

describe("sandbox dataset", () => {
  it("is the same for the same seed and differs for another seed", () => {
    const a = generateDataset(200);
    const b = generateDataset(200);
    const c = generateDataset(200, 1);
    expect(a).to.deep.equal(b);
    expect(c).to.not.deep.equal(a);
  });

  it("starts a longer dataset with the rows of a shorter one", () => {
    expect(generateDataset(1000).slice(0, 300)).to.deep.equal(generateDataset(300));
  });

  it("has a churn rate near 30% and every category of every feature", () => {
    const rows = generateDataset();
    expect(rows).to.have.length(DATASET_SIZE);
    const rate = rows.filter((r) => r.churned).length / rows.length;
    expect(rate).to.be.within(0.25, 0.35);
    for (const key of ["contract", "internetService", "paymentMethod"] as const) {
      expect(new Set(rows.map((r) => r.features[key])).size, key).to.be.at.least(3);
    }
    const mailed = rows.filter((r) => r.features.paymentMethod === "mailed-check").length / rows.length;
    expect(mailed).to.be.within(0.06, 0.1);
  });

  it("rejects a negative or fractional count", () => {
    expect(() => generateDataset(-1)).to.throw("count (-1) must be a non-negative integer");
    expect(() => generateDataset(1.5)).to.throw("count (1.5) must be a non-negative integer");
  });
});

describe("sandbox model catalog", function () {
  this.timeout(60_000);
  const rows = generateDataset();
  // The integration tests replay a prefix of the dataset: the ranges hold there too.
  const prefix = rows.slice(0, 400);

  it("lists the five versions", () => {
    expect(catalogVersions()).to.deep.equal(["1.0.0", "1.1.0", "1.2.0", "1.3.0", "1.4.0"]);
  });

  it("refuses an unknown version, naming the versions it has", () => {
    expect(() => loadModel("9.9.9")).to.throw(
      UnknownModelVersion,
      'unknown churn-model version "9.9.9"; the catalog has 1.0.0, 1.1.0, 1.2.0, 1.3.0, 1.4.0',
    );
    expect(() => loadModel("constructor")).to.throw(UnknownModelVersion);
  });

  it("gives the baseline 1.0.0 an accuracy of about 0.88", async () => {
    const all = await measure("1.0.0", rows);
    expect(all.accuracy).to.be.within(0.86, 0.9);
    expect(all.errorShare).to.equal(0);
    expect((await measure("1.0.0", prefix)).accuracy).to.be.within(0.86, 0.91);
  });

  it("gives 1.1.0 a better accuracy than the baseline, about 0.93", async () => {
    const all = await measure("1.1.0", rows);
    expect(all.accuracy).to.be.within(0.92, 0.95);
    expect(all.accuracy).to.be.above((await measure("1.0.0", rows)).accuracy + 0.04);
    expect((await measure("1.1.0", prefix)).accuracy).to.be.within(0.91, 0.96);
  });

  it("gives the regressed 1.2.0 an accuracy clearly below 0.85", async () => {
    const all = await measure("1.2.0", rows);
    expect(all.accuracy).to.be.within(0.75, 0.82);
    expect((await measure("1.2.0", prefix)).accuracy).to.be.below(0.83);
  });

  it("fails 1.4.0 on every mailed-check customer (about 8%) and on nothing else", async () => {
    const all = await measure("1.4.0", rows);
    const mailed = rows.filter((r) => r.features.paymentMethod === "mailed-check").length / rows.length;
    expect(all.errorShare).to.equal(mailed);
    expect(all.errorShare).to.be.within(0.06, 0.1);
    expect(new Set(all.errors)).to.deep.equal(new Set(['paymentMethod: unknown category "mailed-check"']));
    expect(all.accuracy).to.be.within(0.92, 0.95);
    expect((await measure("1.4.0", prefix)).errorShare).to.be.above(0.04);
  });

  it("gives the 1.3.0 ensemble good accuracy and a p99 read time above 250 ms", () => {
    const ensemble = ensemble130();
    expect(ensemble.stumps).to.have.length(ENSEMBLE_TREES);
    const scored = rows.map((r) => ({ row: r, ...scoreEnsemble(ensemble, r.features) }));
    const accuracy = scored.filter((s) => s.logit > 0 === s.row.churned).length / rows.length;
    expect(accuracy).to.be.within(0.92, 0.96);
    const readMs = scored.map((s) => s.pagesRead * ENSEMBLE_PAGE_READ_MS).sort((a, b) => a - b);
    expect(quantile(readMs, 0.5)).to.be.below(100);
    expect(quantile(readMs, 0.99)).to.be.above(250);
    expect(readMs[readMs.length - 1]).to.equal((ENSEMBLE_TREES / ENSEMBLE_PAGE_SIZE) * ENSEMBLE_PAGE_READ_MS);
  });

  it("trains the same 1.3.0 ensemble every time", () => {
    expect(ensemble130()).to.equal(ensemble130());
    expect(loadModel("1.3.0").version).to.equal("1.3.0");
  });

  it("makes 1.3.0 take longer for an uncertain customer than for a confident one", async () => {
    const ensemble = ensemble130();
    const scored = rows.map((r) => ({ row: r, ...scoreEnsemble(ensemble, r.features) }));
    const slow = scored.find((s) => s.pagesRead === ENSEMBLE_TREES / ENSEMBLE_PAGE_SIZE);
    const fast = scored.find((s) => s.pagesRead === 3);
    expect(slow, "an uncertain customer").to.not.equal(undefined);
    expect(fast, "a confident customer").to.not.equal(undefined);
    const model = loadModel("1.3.0");
    const time = async (row: LabeledCustomer): Promise<number> => {
      const t0 = process.hrtime.bigint();
      await model.predict(row.features);
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    expect(await time(slow!.row)).to.be.at.least(12 * ENSEMBLE_PAGE_READ_MS - 2);
    const fastMs = await time(fast!.row);
    expect(fastMs).to.be.at.least(3 * ENSEMBLE_PAGE_READ_MS - 2);
    expect(fastMs).to.be.below(12 * ENSEMBLE_PAGE_READ_MS - 2);
  });
});
