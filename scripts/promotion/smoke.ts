/**
 * Smoke tests against a deployed churn-model service: it is healthy, serves the version
 * just deployed, and answers a few predictions whose answers any sound churn model gives
 * (a brand-new month-to-month customer with many support calls churns; a customer of six
 * years on a two-year contract does not).
 */
export interface SmokeCase {
  readonly name: string;
  readonly customer: Record<string, unknown>;
  readonly churn: boolean;
}

export const SMOKE_CASES: readonly SmokeCase[] = [
  {
    name: "new month-to-month customer with many support calls churns",
    customer: {
      tenureMonths: 1,
      monthlyCharges: 105,
      contract: "month-to-month",
      internetService: "fiber-optic",
      paymentMethod: "electronic-check",
      supportCalls: 7,
      paperlessBilling: true,
      seniorCitizen: false,
    },
    churn: true,
  },
  {
    name: "six-year customer on a two-year contract stays",
    customer: {
      tenureMonths: 72,
      monthlyCharges: 25,
      contract: "two-year",
      internetService: "none",
      paymentMethod: "credit-card",
      supportCalls: 0,
      paperlessBilling: false,
      seniorCitizen: false,
    },
    churn: false,
  },
];

export interface SmokeResult {
  readonly passed: boolean;
  readonly failures: readonly string[];
}

async function json(url: URL, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { raw: text.slice(0, 200) };
  }
  return { status: res.status, body };
}

/**
 * Waits (up to `waitMs`) until the service reports `version` healthy, then runs the cases.
 * Every failure is a sentence; no exception escapes for a failing service.
 */
export async function runSmokeTests(
  serviceUrl: string,
  version: string,
  opts: { waitMs?: number; log?: (line: string) => void } = {},
): Promise<SmokeResult> {
  const log = opts.log ?? (() => undefined);
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  let last = "";
  for (;;) {
    try {
      const h = await json(new URL("/healthz", serviceUrl), {});
      if (h.status === 200 && h.body.version === version) break;
      last = `GET /healthz answered ${h.status} with version ${JSON.stringify(h.body.version)}`;
    } catch (err) {
      last = `GET /healthz failed: ${(err as Error).message}`;
    }
    if (Date.now() > deadline) {
      return { passed: false, failures: [`the service never reported version ${version} healthy: ${last}`] };
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  log(`smoke: ${serviceUrl} serves ${version} and is healthy`);
  const failures: string[] = [];
  for (const c of SMOKE_CASES) {
    try {
      const r = await json(new URL("/predict", serviceUrl), {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(c.customer),
      });
      if (r.status !== 200) {
        failures.push(
          `${c.name}: POST /predict answered ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`,
        );
      } else if (r.body.churn !== c.churn) {
        failures.push(
          `${c.name}: predicted churn=${String(r.body.churn)} (p=${String(r.body.churnProbability)})`,
        );
      } else {
        log(`smoke: ok — ${c.name} (p=${Number(r.body.churnProbability).toFixed(3)})`);
      }
    } catch (err) {
      failures.push(`${c.name}: POST /predict failed: ${(err as Error).message}`);
    }
  }
  return { passed: failures.length === 0, failures };
}
