/** Reads a Pulumi.<stack>.yaml into the flat key → string map Pulumi hands a program. */
import * as fs from "fs";
import * as yaml from "js-yaml";
import * as path from "path";
import { ConfigSource } from "../../stacks/config";

export const REPO = path.resolve(__dirname, "..", "..");

export function stackConfigMap(stack: string): Map<string, string> {
  const doc = yaml.load(fs.readFileSync(path.join(REPO, `Pulumi.${stack}.yaml`), "utf8")) as {
    config: Record<string, unknown>;
  };
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(doc.config)) {
    const key = k.startsWith("churn-model:") ? k.slice("churn-model:".length) : k;
    out.set(key, typeof v === "string" ? v : JSON.stringify(v));
  }
  return out;
}

export function source(map: Map<string, string>): ConfigSource {
  return { get: (k) => map.get(k) };
}
