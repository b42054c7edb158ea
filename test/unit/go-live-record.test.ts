import { expect } from "chai";
import { goLiveRecordName } from "../../infra/go-live-record";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

describe("go-live record names", function () {
  it("keeps a plain version readable, as before", function () {
    expect(goLiveRecordName("1.4.2")).to.equal("1-4-2");
    expect(goLiveRecordName("10.0.12")).to.equal("10-0-12");
  });

  it("gives versions that differ only in case or punctuation their own records", function () {
    const names = ["1.4.2-rc.1", "1.4.2-RC.1", "1.4.2-rc-1", "1.4.2+build.1", "1.4.2"].map(goLiveRecordName);
    expect(new Set(names).size).to.equal(names.length);
    expect(goLiveRecordName("1.4.2-rc.1")).to.match(/^1-4-2-rc-1-[0-9a-f]{8}$/);
  });

  it("is the same name for the same version, so re-runs keep the record", function () {
    expect(goLiveRecordName("1.4.2-RC.1")).to.equal(goLiveRecordName("1.4.2-RC.1"));
  });

  it("names a digest by its prefix and a hash, and stays a short DNS label for long versions", function () {
    const digest = `sha256:${"ab".repeat(32)}`;
    expect(goLiveRecordName(digest)).to.match(/^dabababababab-[0-9a-f]{8}$/);
    const long = `1.0.0-${"x".repeat(80)}`;
    for (const v of [digest, long, "1.4.2-rc.1", "1.4.2"]) {
      const name = goLiveRecordName(v);
      expect(name).to.match(DNS_LABEL);
      expect(`churn-model-release-${name}`.length).to.be.at.most(63);
    }
  });
});
