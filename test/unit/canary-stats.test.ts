import { expect } from "chai";
import {
  ContractError,
  histogramQuantile,
  newcombeDifference,
  normalQuantile,
  wilson,
  zFor,
} from "../../policy/contract";

const close = (actual: number, expected: number, digits = 4) =>
  expect(actual, `${actual} ≈ ${expected}`).to.be.closeTo(expected, 0.5 * 10 ** -digits);

describe("confidence intervals (policy/contract/stats.ts)", () => {
  it("gives the standard normal quantiles", () => {
    close(normalQuantile(0.975), 1.959964, 6);
    close(normalQuantile(0.5), 0, 9);
    close(normalQuantile(0.001), -3.090232, 6);
    close(normalQuantile(0.999), 3.090232, 6);
    close(zFor(0.95), 1.959964, 6);
    close(zFor(0.99), 2.575829, 6);
  });

  it("refuses a confidence or probability outside (0, 1)", () => {
    expect(() => zFor(1)).to.throw(ContractError, /confidence \(1\)/);
    expect(() => zFor(0)).to.throw(ContractError, /confidence \(0\)/);
    expect(() => normalQuantile(Number.NaN)).to.throw(ContractError, /p \(NaN\)/);
  });

  // Newcombe (1998), "Two-sided confidence intervals for the single proportion", table I.
  const wilsonCases: [number, number, number, number][] = [
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ];
  for (const [x, n, lower, upper] of wilsonCases) {
    it(`gives Wilson's interval for ${x}/${n} as [${lower}, ${upper}]`, () => {
      const i = wilson(x, n, 0.95);
      close(i.estimate, x / n, 9);
      close(i.lower, lower);
      close(i.upper, upper);
    });
  }

  it("keeps Wilson's interval inside [0, 1] at all and at no events", () => {
    expect(wilson(0, 5, 0.95).lower).to.equal(0);
    expect(wilson(5, 5, 0.95).upper).to.equal(1);
    expect(wilson(5, 5, 0.95).lower).to.be.above(0.5);
  });

  it("refuses counts that are not counts, naming them", () => {
    expect(() => wilson(1, 0, 0.95)).to.throw(ContractError, /trials \(0\)/);
    expect(() => wilson(-1, 10, 0.95)).to.throw(ContractError, /events \(-1\)/);
    expect(() => wilson(11, 10, 0.95)).to.throw(ContractError, /11 events out of 10/);
    expect(() => wilson(Number.NaN, 10, 0.95)).to.throw(ContractError, /events \(NaN\)/);
  });

  // Newcombe (1998), "Interval estimation for the difference between independent proportions",
  // method 10 (hybrid score), examples (a)–(h).
  const newcombeCases: [number, number, number, number, number, number][] = [
    [56, 70, 48, 80, 0.0524, 0.3339],
    [9, 10, 3, 10, 0.1705, 0.809],
    [6, 7, 2, 7, 0.0582, 0.8062],
    [5, 56, 0, 29, -0.0381, 0.1926],
    [0, 10, 0, 20, -0.1611, 0.2775],
    [0, 10, 0, 10, -0.2775, 0.2775],
    [10, 10, 0, 20, 0.6791, 1],
    [10, 10, 0, 10, 0.6075, 1],
  ];
  for (const [x1, n1, x2, n2, lower, upper] of newcombeCases) {
    it(`gives Newcombe's interval for ${x1}/${n1} − ${x2}/${n2} as [${lower}, ${upper}]`, () => {
      const i = newcombeDifference(x1, n1, x2, n2, 0.95);
      close(i.estimate, x1 / n1 - x2 / n2, 9);
      close(i.lower, lower);
      close(i.upper, upper);
    });
  }

  it("accepts the fractional counts Prometheus' increase() extrapolates", () => {
    const i = newcombeDifference(80.4, 1000.7, 2.1, 9000.2, 0.95);
    expect(i.lower).to.be.above(0.06);
    expect(i.upper).to.be.below(0.1);
  });

  describe("p99 from a histogram", () => {
    // 1000 requests: 500 ≤ 10 ms, 980 ≤ 25 ms, 995 ≤ 50 ms, all ≤ 100 ms.
    const buckets = [
      { le: 0.01, count: 500 },
      { le: 0.025, count: 980 },
      { le: 0.05, count: 995 },
      { le: 0.1, count: 1000 },
      { le: Infinity, count: 1000 },
    ];

    it("interpolates the estimate inside its bucket and bounds it by bucket edges", () => {
      const q = histogramQuantile(buckets, 0.99, 0.95);
      close(q.estimate, 0.025 + (0.025 * 10) / 15, 9);
      // ranks 990 ∓ 1.96·√9.9: 983 (in the 50 ms bucket) and 997 (in the 100 ms bucket)
      expect(q.lower).to.equal(0.025);
      expect(q.upper).to.equal(0.1);
    });

    it("accepts buckets in any order", () => {
      const q = histogramQuantile([...buckets].reverse(), 0.99, 0.95);
      expect([q.lower, q.upper]).to.deep.equal([0.025, 0.1]);
    });

    it("leaves the upper bound open when the requests are too few to bound a p99", () => {
      const few = buckets.map((b) => ({ le: b.le, count: b.count / 10 }));
      expect(histogramQuantile(few, 0.99, 0.95).upper).to.equal(Infinity);
    });

    it("leaves the upper bound open when the upper rank falls into the +Inf bucket", () => {
      const slow = [
        { le: 0.1, count: 980 },
        { le: 2, count: 990 },
        { le: Infinity, count: 1000 },
      ];
      const q = histogramQuantile(slow, 0.99, 0.95);
      expect(q.upper).to.equal(Infinity);
      expect(q.lower).to.equal(0.1);
    });

    it("refuses histograms it cannot read, naming the problem", () => {
      expect(() => histogramQuantile([], 0.99, 0.95)).to.throw(ContractError, /no buckets/);
      expect(() => histogramQuantile([{ le: 1, count: 3 }], 0.99, 0.95)).to.throw(ContractError, /le=\+Inf/);
      expect(() => histogramQuantile([{ le: Infinity, count: 0 }], 0.99, 0.95)).to.throw(
        ContractError,
        /no observations/,
      );
      expect(() =>
        histogramQuantile(
          [
            { le: 1, count: 5 },
            { le: Infinity, count: 3 },
          ],
          0.99,
          0.95,
        ),
      ).to.throw(ContractError, /fewer than the bucket below/);
      expect(() => histogramQuantile(buckets, 1, 0.95)).to.throw(ContractError, /q \(1\)/);
    });
  });
});
