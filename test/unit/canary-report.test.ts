/**
 * The demo report's canary section: one table per canary walk in production's history, with
 * each step's verdict and the canary's and the stable's error rate side by side.
 */
import { expect } from "chai";
import { canarySection } from "../../scripts/demo/canary-report";
import type { HistoryEntry } from "../../scripts/promotion/history";

const base: HistoryEntry = {
  update: 7,
  result: "update succeeded",
  startedAt: "2026-03-01T12:00:00.000Z",
  durationSeconds: 12,
  modelVersion: "1.1.0",
  kind: "promotion",
  evidenceFor: "1.1.0",
  approver: "demo-approver",
  approvals: [],
  measured: null,
  evidenceCreatedAt: null,
};

describe("the report's canary steps", function () {
  it("shows each step's verdict and both arms' error rates side by side", function () {
    const html = canarySection([
      {
        ...base,
        canary: {
          walk: {
            version: "1.4.0",
            stableVersion: "1.1.0",
            outcome: "aborted (fail)",
            reason: "the canary is worse than the stable: <error rate>",
            steps: [
              {
                index: 1,
                weight: 10,
                canaryReplicas: 1,
                stableReplicas: 9,
                verdict: "fail",
                reason: "error rate 0.08 vs 0.001",
                errorRate: { canary: 0.0812, stable: 0.0011 },
              },
            ],
          },
        },
      },
      { ...base, update: 6, canary: { step: { version: "1.4.0", weight: 10, verdict: "fail" } } },
      { ...base, update: 5 },
    ]);
    expect(html).to.contain("<h2>Canary steps</h2>");
    expect(html).to.contain("Canary of 1.4.0 against 1.1.0: aborted (fail)");
    expect(html).to.contain("&lt;error rate&gt;");
    expect(html).to.match(
      /<tr class="fail"><td>1<\/td><td>10 %<\/td><td>1 \/ 9<\/td><td>fail<\/td><td>0\.0812 <svg[^]*?<\/td><td>0\.0011 <svg/,
    );
    // The canary's bar is the long one: both on one scale.
    expect(html).to.contain('<rect class="canary" x="0" y="1" width="120"');
    expect(html).to.contain('<rect class="stable" x="0" y="1" width="2"');
    // One walk: the step row of update 6 is not a walk of its own.
    expect(html.match(/<section>/g)).to.have.length(1);
  });

  it("is empty without a canary walk", function () {
    expect(canarySection([base])).to.equal("");
  });
});
