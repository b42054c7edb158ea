/**
 * Scrape wiring: how Prometheus finds the model service's pods and which labels its
 * series carry. The metrics contract (DESIGN.md) needs `namespace`, `version` and
 * `job="churn-model"` on every series; the pod annotations below are what the usual
 * kubernetes_sd relabelling reads, and `prometheusScrapeConfig` is a ready-made job.
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

/**
 * A Prometheus scrape job (kubernetes_sd on pods) that keeps the churn-model pods of the
 * given namespaces and sets exactly the contract's labels.
 */
export function prometheusScrapeConfig(namespaces: readonly string[]): Record<string, unknown> {
  return {
    job_name: "churn-model",
    scrape_interval: "15s",
    kubernetes_sd_configs: [{ role: "pod", namespaces: { names: [...namespaces] } }],
    relabel_configs: [
      {
        source_labels: ["__meta_kubernetes_pod_label_churn_model_scrape_job"],
        regex: "churn-model",
        action: "keep",
      },
      {
        source_labels: ["__meta_kubernetes_pod_annotation_prometheus_io_scrape"],
        regex: "true",
        action: "keep",
      },
      {
        source_labels: ["__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port"],
        regex: "([^:]+)(?::\\d+)?;(\\d+)",
        replacement: "$1:$2",
        target_label: "__address__",
      },
      { source_labels: ["__meta_kubernetes_namespace"], target_label: "namespace" },
      { source_labels: ["__meta_kubernetes_pod_label_app_kubernetes_io_version"], target_label: "version" },
      { source_labels: ["__meta_kubernetes_pod_name"], target_label: "pod" },
    ],
  };
}
