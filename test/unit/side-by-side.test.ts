import { expect } from "chai";
import { sideBySide } from "../../scripts/promotion/side-by-side";

describe("independent reads side by side", function () {
  const later = <T>(ms: number, f: () => T): Promise<T> =>
    new Promise((resolve, reject) =>
      setTimeout(() => {
        try {
          resolve(f());
        } catch (err) {
          reject(err);
        }
      }, ms),
    );

  it("runs both at once and returns both values in order", async function () {
    const t0 = Date.now();
    expect(
      await sideBySide(
        later(100, () => 1),
        later(100, () => "b"),
      ),
    ).to.deep.equal([1, "b"]);
    expect(Date.now() - t0).to.be.lessThan(190);
  });

  it("throws the first read's error when both fail, even when the second fails first", async function () {
    const err = await sideBySide(
      later(80, () => {
        throw new Error("first");
      }),
      later(5, () => {
        throw new Error("second");
      }),
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.equal("first");
  });

  it("throws the second read's error when only it fails", async function () {
    const err = await sideBySide(
      later(5, () => 1),
      later(5, () => {
        throw new Error("second");
      }),
    ).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    expect(err?.message).to.equal("second");
  });
});
