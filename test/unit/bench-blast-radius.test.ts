/** The blast-radius bench's figures from two measured exposures (pure). */
import { expect } from "chai";
import { blastRadiusResult } from "../../scripts/bench/blast-radius";
import { parseBenchArgs } from "../../scripts/bench/run";

describe("the blast-radius bench", function () {
  it("compares the canary's exposure and wall time with all at once's", function () {
    const r = blastRadiusResult(
      { requests: 150, errors: 11, wallMs: 191_000 },
      { requests: 1000, errors: 100, wallMs: 100_000 },
      300_000,
    );
    expect(r.name).to.equal("blast-radius");
    expect(r.quantities?.map((q) => [q.name, q.value, q.ratio])).to.deep.equal([
      ["all-at-once: requests answered by 1.4.0", 1000, undefined],
      ["canary: requests answered by 1.4.0", 150, 0.15],
      ["all-at-once: 5xx answered by 1.4.0", 100, undefined],
      ["canary: 5xx answered by 1.4.0", 11, 0.11],
    ]);
    expect(r.figures.map((f) => [f.name, f.medianMs, f.ratio])).to.deep.equal([
      ["all-at-once promotion", 100_000, undefined],
      ["canary promotion", 191_000, 1.91],
    ]);
    expect(r.notes[1]).to.equal("canary: requests answered by 1.4.0: 150 (0.15× all at once)");
  });

  it("says n/a for a ratio over nothing", function () {
    const r = blastRadiusResult(
      { requests: 5, errors: 0, wallMs: 1 },
      { requests: 5, errors: 0, wallMs: 1 },
      2,
    );
    expect(r.notes[3]).to.equal("canary: 5xx answered by 1.4.0: 0 (n/a× all at once)");
  });

  it("is one of the benchmarks --only names", function () {
    expect([...parseBenchArgs(["--only", "blast-radius"]).only]).to.deep.equal(["blast-radius"]);
  });
});
