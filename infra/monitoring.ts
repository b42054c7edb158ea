/**
 * Scrape wiring: how Prometheus finds the model service's pods and which labels its
 * series carry. The metrics contract (docs/design.md) needs `namespace`, `version` and
 * `job="churn-model"` on every series; the pod annotations below are what the usual
 * kubernetes_sd relabelling reads.
 */

/** Pod labels Prometheus relabels into the `job` label. */
export function scrapeLabels(): Record<string, string> {
  return { "churn-model/scrape-job": "churn-model" };
}

/** Pod annotations of the conventional Prometheus kubernetes_sd scrape. */
export function scrapeAnnotations(port: number): Record<string, string> {
  return {
    "prometheus.io/scrape": "true",
    "prometheus.io/port": String(port),
    "prometheus.io/path": "/metrics",
  };
}
