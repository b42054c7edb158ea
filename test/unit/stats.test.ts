import { expect } from "chai";
import {
  betaRegularized,
  ContractError,
  clopperPearson,
  histogramQuantile,
  lowerAbove,
  upperAtMost,
  newcombeDifference,
  normalQuantile,
  normaliseBuckets,
  quantileBounds,
  trialsToDecide,
  wilson,
  zFor,
} from "../../policy/contract";

describe("the promotion gate's statistics", function () {
  it("inverts the normal CDF at the usual confidences", function () {
    expect(zFor(0.95)).to.be.closeTo(1.959963985, 1e-8);
    expect(zFor(0.99)).to.be.closeTo(2.575829304, 1e-8);
    expect(normalQuantile(0.5)).to.be.closeTo(0, 1e-12);
    expect(normalQuantile(0.001)).to.be.closeTo(-3.090232306, 1e-8);
    expect(() => zFor(1)).to.throw(ContractError);
  });

  it("computes Wilson score intervals (Newcombe 1998, table I)", function () {
    const a = wilson(81, 263, 0.95);
    expect(a.lower).to.be.closeTo(0.2553, 1e-4);
    expect(a.upper).to.be.closeTo(0.3662, 1e-4);
    const b = wilson(15, 148, 0.95);
    expect(b.lower).to.be.closeTo(0.0624, 1e-4);
    expect(b.upper).to.be.closeTo(0.1605, 1e-4);
  });

  it("gives exact 0 and 1 at the extremes and never a zero-width interval", function () {
    expect(wilson(0, 10, 0.95).lower).to.equal(0);
    expect(wilson(0, 10, 0.95).upper).to.be.closeTo(0.2775, 1e-4);
    expect(wilson(10, 10, 0.95).upper).to.equal(1);
    expect(wilson(10, 10, 0.95).lower).to.be.closeTo(0.7225, 1e-4);
  });

  it("refuses impossible counts", function () {
    expect(() => wilson(1, 0, 0.95)).to.throw(ContractError);
    expect(() => wilson(11, 10, 0.95)).to.throw(ContractError);
    expect(() => wilson(-1, 10, 0.95)).to.throw(ContractError);
  });

  it("computes Newcombe's hybrid score interval for a difference (Newcombe 1998, example)", function () {
    const d = newcombeDifference(56, 70, 48, 80, 0.95);
    expect(d.lower).to.be.closeTo(0.0524, 1e-4);
    expect(d.upper).to.be.closeTo(0.3339, 1e-4);
  });

  it("finds how many trials at a proportion clear a threshold", function () {
    const n = trialsToDecide(0.9, 0.85, 0.95)!;
    expect(clopperPearson(0.9 * n, n, 0.95).lower).to.be.at.least(0.85);
    expect(clopperPearson(0.9 * (n - 1), n - 1, 0.95).lower).to.be.below(0.85);
    expect(trialsToDecide(0.85, 0.85, 0.95)).to.equal(undefined);
  });

  const buckets = [
    { le: 0.1, count: 90 },
    { le: 0.25, count: 99 },
    { le: 0.5, count: 100 },
    { le: Infinity, count: 100 },
  ];

  it("interpolates a quantile inside its bucket as Prometheus does", function () {
    expect(histogramQuantile(buckets, 0.5, 0.95).estimate).to.be.closeTo(0.0555556, 1e-6);
    expect(histogramQuantile(buckets, 0.99, 0.95).estimate).to.be.closeTo(0.25, 1e-12);
    expect(histogramQuantile(buckets, 0.995, 0.95).estimate).to.be.closeTo(0.375, 1e-12);
  });

  it("reports the largest finite bound for a quantile in the +Inf bucket", function () {
    const inf = [
      { le: 0.1, count: 50 },
      { le: 0.25, count: 90 },
      { le: Infinity, count: 100 },
    ];
    expect(histogramQuantile(inf, 0.99, 0.95).estimate).to.equal(0.25);
    const b = quantileBounds(0.99, inf, 0.95);
    expect(b.upper).to.equal(Infinity);
    expect(b.lower).to.equal(0.25);
  });

  it("bounds a quantile by the bucket bounds that confidently contain it", function () {
    const many = buckets.map((b) => ({ le: b.le, count: b.count * 1000 }));
    const b = quantileBounds(0.99, many, 0.95);
    expect(b.lower).to.equal(0.1);
    expect(b.upper).to.equal(0.5);
  });

  it("sorts buckets, makes counts monotonic and refuses a histogram without +Inf", function () {
    expect(
      normaliseBuckets([
        { le: Infinity, count: 10 },
        { le: 0.1, count: 4 },
        { le: 0.05, count: 5 },
      ]),
    ).to.deep.equal([
      { le: 0.05, count: 5 },
      { le: 0.1, count: 5 },
      { le: Infinity, count: 10 },
    ]);
    expect(normaliseBuckets([{ le: 0.1, count: 4 }])).to.equal('the histogram has no le="+Inf" bucket');
  });
});

describe("exact (Clopper–Pearson) intervals", function () {
  it("matches the published exact bounds", function () {
    const a = clopperPearson(81, 263, 0.95);
    expect(a.lower).to.be.closeTo(0.25274, 1e-5);
    expect(a.upper).to.be.closeTo(0.36762, 1e-5);
    expect(clopperPearson(0, 10, 0.95).upper).to.be.closeTo(0.3085, 1e-5);
    expect(clopperPearson(10, 10, 0.95).lower).to.be.closeTo(0.6915, 1e-5);
  });

  it("does not call one slow request out of one confidently more than 1 % slow, where Wilson does", function () {
    expect(wilson(1, 1, 0.998).lower).to.be.above(0.01);
    expect(clopperPearson(1, 1, 0.998).lower).to.be.closeTo(0.001, 1e-9);
  });

  it("agrees with its one-evaluation comparisons on either side of a bound", function () {
    for (const [x, n] of [
      [3, 40],
      [159_000, 172_800],
      [345.6, 172_800],
    ]) {
      const b = clopperPearson(x, n, 0.95);
      expect(upperAtMost(x, n, b.upper * (1 + 1e-9), 0.95)).to.equal(true);
      expect(upperAtMost(x, n, b.upper * (1 - 1e-9), 0.95)).to.equal(false);
      expect(lowerAbove(x, n, b.lower * (1 - 1e-9), 0.95)).to.equal(true);
      expect(lowerAbove(x, n, b.lower * (1 + 1e-9), 0.95)).to.equal(false);
    }
  });

  it("works for fractional counts from extrapolated counters", function () {
    const b = clopperPearson(345.6, 172_800, 0.95);
    expect(b.lower).to.be.closeTo(0.0017949, 1e-6);
    expect(b.upper).to.be.closeTo(0.0022221, 1e-6);
    expect(betaRegularized(0.5, 2, 2)).to.be.closeTo(0.5, 1e-12);
  });
});
