import { expect } from "chai";
import { WeightedBackend, WeightedRoundRobin } from "../../scripts/sandbox/backend-weights";

const STABLE = "http://127.0.0.1:1001";
const CANARY = "http://127.0.0.1:1002";

function picks(rr: WeightedRoundRobin, n: number): string[] {
  return Array.from({ length: n }, () => rr.next()?.url ?? "none");
}

function counts(urls: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of urls) out[u] = (out[u] ?? 0) + 1;
  return out;
}

describe("sandbox proxy weighting: requests in proportion to ready replicas", () => {
  it("gives a 1-of-10 canary exactly one request in every run of ten", () => {
    const rr = new WeightedRoundRobin();
    rr.set([
      { url: STABLE, weight: 9 },
      { url: CANARY, weight: 1 },
    ]);
    const all = picks(rr, 1000);
    expect(counts(all)).to.deep.equal({ [STABLE]: 900, [CANARY]: 100 });
    for (let i = 0; i < all.length; i += 10) {
      expect(
        all.slice(i, i + 10).filter((u) => u === CANARY),
        `requests ${i}..${i + 9}`,
      ).to.have.length(1);
    }
  });

  const table: { weights: number[]; n: number; expected: number[] }[] = [
    { weights: [1], n: 7, expected: [7] },
    { weights: [1, 1], n: 10, expected: [5, 5] },
    { weights: [5, 5], n: 10, expected: [5, 5] },
    { weights: [2, 1], n: 9, expected: [6, 3] },
    { weights: [3, 0, 1], n: 8, expected: [6, 0, 2] },
    { weights: [10, 3, 7], n: 40, expected: [20, 6, 14] },
  ];
  for (const { weights, n, expected } of table) {
    it(`splits ${n} requests over weights ${weights.join(":")} as ${expected.join(":")}`, () => {
      const rr = new WeightedRoundRobin();
      const backends: WeightedBackend[] = weights.map((weight, i) => ({ url: `b${i}`, weight }));
      rr.set(backends);
      const got = counts(picks(rr, n));
      expect(backends.map((b) => got[b.url] ?? 0)).to.deep.equal(expected);
    });
  }

  it("interleaves instead of sending a backend's whole share in a row", () => {
    const rr = new WeightedRoundRobin();
    rr.set([
      { url: "a", weight: 2 },
      { url: "b", weight: 2 },
    ]);
    expect(picks(rr, 4)).to.deep.equal(["a", "b", "a", "b"]);
  });

  it("chooses nothing when no backend is ready", () => {
    const rr = new WeightedRoundRobin();
    expect(rr.next()).to.equal(undefined);
    rr.set([{ url: STABLE, weight: 0 }]);
    expect(rr.next()).to.equal(undefined);
    expect(rr.list()).to.deep.equal([]);
  });

  it("follows changed weights from the next request on", () => {
    const rr = new WeightedRoundRobin();
    rr.set([
      { url: STABLE, weight: 9 },
      { url: CANARY, weight: 1 },
    ]);
    picks(rr, 3);
    rr.set([
      { url: STABLE, weight: 1 },
      { url: CANARY, weight: 1 },
    ]);
    expect(counts(picks(rr, 10))).to.deep.equal({ [STABLE]: 5, [CANARY]: 5 });
  });

  it("keeps its rotation when the same backends are set again", () => {
    const rr = new WeightedRoundRobin();
    const backends = [
      { url: STABLE, weight: 9 },
      { url: CANARY, weight: 1 },
    ];
    rr.set(backends);
    const split: string[] = [];
    for (let i = 0; i < 100; i++) {
      rr.set(backends.map((b) => ({ ...b })));
      split.push(...picks(rr, 1));
    }
    expect(counts(split)).to.deep.equal({ [STABLE]: 90, [CANARY]: 10 });
  });

  it("refuses a weight that is not a non-negative integer, naming the backend", () => {
    const rr = new WeightedRoundRobin();
    expect(() => rr.set([{ url: STABLE, weight: -1 }])).to.throw(
      `backend ${STABLE}: weight (-1) must be a non-negative integer`,
    );
    expect(() => rr.set([{ url: CANARY, weight: 0.5 }])).to.throw(
      `backend ${CANARY}: weight (0.5) must be a non-negative integer`,
    );
  });
});
