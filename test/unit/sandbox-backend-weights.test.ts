import { expect } from "chai";
import * as http from "http";
import { AddressInfo } from "net";
import { WeightedBackend, WeightedRandom } from "../../scripts/sandbox/backend-weights";
import { NamespaceProxy } from "../../scripts/sandbox/namespace-proxy";

const STABLE = "http://127.0.0.1:1001";
const CANARY = "http://127.0.0.1:1002";

function picks(chooser: WeightedRandom, n: number): string[] {
  return Array.from({ length: n }, () => chooser.next()?.url ?? "none");
}

function counts(urls: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const u of urls) out[u] = (out[u] ?? 0) + 1;
  return out;
}

/** Bounds a binomial count within `sigmas` standard deviations of its mean n·p. */
function binomialBounds(n: number, p: number, sigmas = 5): [number, number] {
  const sd = Math.sqrt(n * p * (1 - p));
  return [n * p - sigmas * sd, n * p + sigmas * sd];
}

describe("sandbox proxy weighting: requests in proportion to ready replicas", () => {
  it("gives a 1-of-10 canary about one request in ten", () => {
    const chooser = new WeightedRandom(7);
    chooser.set([
      { url: STABLE, weight: 9 },
      { url: CANARY, weight: 1 },
    ]);
    const n = 20_000;
    const got = counts(picks(chooser, n));
    const [lo, hi] = binomialBounds(n, 0.1);
    expect(got[CANARY]).to.be.within(lo, hi);
    expect(got[STABLE] + got[CANARY]).to.equal(n);
  });

  const table: { weights: number[] }[] = [
    { weights: [1] },
    { weights: [1, 1] },
    { weights: [2, 1] },
    { weights: [3, 0, 1] },
    { weights: [10, 3, 7] },
  ];
  for (const { weights } of table) {
    it(`splits requests over weights ${weights.join(":")} in proportion, a weight of 0 getting none`, () => {
      const chooser = new WeightedRandom(11);
      const backends: WeightedBackend[] = weights.map((weight, i) => ({ url: `b${i}`, weight }));
      chooser.set(backends);
      const n = 20_000;
      const got = counts(picks(chooser, n));
      const total = weights.reduce((a, b) => a + b, 0);
      backends.forEach((b, i) => {
        const p = weights[i] / total;
        if (p === 0) {
          expect(got[b.url], b.url).to.equal(undefined);
        } else {
          const [lo, hi] = binomialBounds(n, p);
          expect(got[b.url] ?? 0, `${b.url} of weights ${weights.join(":")}`).to.be.within(lo, hi);
        }
      });
    });
  }

  it("does not alias with periodic traffic: a canary gets its share of each kind of request", () => {
    // The traffic alternates prediction and feedback. A rotation with an even period sent a
    // 1-of-10 canary only feedback (or only predictions), and a 5-of-10 canary likewise.
    for (const [stable, canary] of [
      [9, 1],
      [5, 5],
    ]) {
      const chooser = new WeightedRandom(3);
      chooser.set([
        { url: STABLE, weight: stable },
        { url: CANARY, weight: canary },
      ]);
      const byKind = { predict: 0, feedback: 0 };
      const n = 20_000;
      for (let i = 0; i < n; i++) {
        if (chooser.next()?.url === CANARY) byKind[i % 2 === 0 ? "predict" : "feedback"]++;
      }
      const [lo, hi] = binomialBounds(n / 2, canary / (stable + canary));
      expect(byKind.predict, `predictions to a ${canary}-of-${stable + canary} canary`).to.be.within(lo, hi);
      expect(byKind.feedback, `feedback to a ${canary}-of-${stable + canary} canary`).to.be.within(lo, hi);
    }
  });

  it("replays the same draws from the same seed", () => {
    const backends = [
      { url: STABLE, weight: 9 },
      { url: CANARY, weight: 1 },
    ];
    const a = new WeightedRandom(42);
    const b = new WeightedRandom(42);
    a.set(backends);
    b.set(backends);
    expect(picks(a, 200)).to.deep.equal(picks(b, 200));
  });

  it("chooses nothing when no backend is ready", () => {
    const chooser = new WeightedRandom(1);
    expect(chooser.next()).to.equal(undefined);
    chooser.set([{ url: STABLE, weight: 0 }]);
    expect(chooser.next()).to.equal(undefined);
    expect(chooser.list()).to.deep.equal([]);
  });

  it("follows changed weights from the next request on", () => {
    const chooser = new WeightedRandom(5);
    chooser.set([{ url: STABLE, weight: 9 }]);
    expect(new Set(picks(chooser, 50))).to.deep.equal(new Set([STABLE]));
    chooser.set([{ url: CANARY, weight: 1 }]);
    expect(new Set(picks(chooser, 50))).to.deep.equal(new Set([CANARY]));
  });

  it("refuses a weight that is not a non-negative integer, naming the backend", () => {
    const chooser = new WeightedRandom(1);
    expect(() => chooser.set([{ url: STABLE, weight: -1 }])).to.throw(
      `backend ${STABLE}: weight (-1) must be a non-negative integer`,
    );
    expect(() => chooser.set([{ url: CANARY, weight: 0.5 }])).to.throw(
      `backend ${CANARY}: weight (0.5) must be a non-negative integer`,
    );
  });
});

describe("sandbox namespace proxy: a canary sees predictions under alternating traffic", () => {
  const servers: http.Server[] = [];
  let proxy: NamespaceProxy | undefined;

  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
    await Promise.all(servers.splice(0).map((s) => new Promise((r) => s.close(r))));
  });

  /** A backend that answers every request and counts them by path. */
  async function backend(): Promise<{ url: string; seen: Record<string, number> }> {
    const seen: Record<string, number> = {};
    const server = http.createServer((req, res) => {
      seen[req.url ?? ""] = (seen[req.url ?? ""] ?? 0) + 1;
      req.resume();
      req.on("end", () => res.end("{}"));
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

  after(() => agent.destroy());

  function post(url: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const req = http.request(url, { method: "POST", agent }, (res) => {
        res.resume();
        res.on("end", resolve);
      });
      req.on("error", reject);
      req.end("{}");
    });
  }

  it("sends a 1-of-10 canary about a tenth of the predictions when each is followed by its feedback", async () => {
    const stable = await backend();
    const canary = await backend();
    proxy = new NamespaceProxy("production");
    await proxy.listen(0);
    proxy.setBackends([
      { url: stable.url, weight: 9 },
      { url: canary.url, weight: 1 },
    ]);
    const base = `http://127.0.0.1:${proxy.port}`;
    const n = 600;
    for (let i = 0; i < n; i++) {
      await post(`${base}/predict`);
      await post(`${base}/feedback`);
    }
    const [lo, hi] = binomialBounds(n, 0.1);
    expect(canary.seen["/predict"] ?? 0, "predictions the canary answered").to.be.within(lo, hi);
    expect(canary.seen["/feedback"] ?? 0, "feedback the canary got").to.be.within(lo, hi);
    expect((stable.seen["/predict"] ?? 0) + (canary.seen["/predict"] ?? 0)).to.equal(n);
  });
});
