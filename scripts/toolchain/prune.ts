/**
 * Which entries of the tool cache are stale: the project's builds that no current component
 * key names (an older version or module hash) and Node.js versions other than the pinned one.
 * Half-written builds (`.partial-<pid>`) and anything not recognised are never stale.
 */
import { COMPONENTS, NODE_VERSION } from "./components";
import { componentKey } from "./env";

function escape(s: string): string {
  return s.replace(/[-.]/g, "\\$&");
}

export function staleEntries(entries: readonly string[]): string[] {
  const current = new Set([...COMPONENTS.map(componentKey), `node-v${NODE_VERSION}`]);
  const patterns = [
    /^node-v\d+\.\d+\.\d+$/,
    ...COMPONENTS.map((c) => new RegExp(`^${escape(c.name)}-\\d[\\w.+]*-[0-9a-f]{10}$`)),
  ];
  return entries.filter((e) => !current.has(e) && patterns.some((p) => p.test(e)));
}
