/**
 * How each tool is had, decided from what the machine has (no I/O here): an installed tool
 * is used as it is, the pinned Kubernetes provider in the engine's plugin cache counts as
 * installed, the engine's own plugin download is tried before a Go build, and building from
 * Go modules is the fallback when nothing else works.
 */
import { Component } from "./components";

/** What the machine has of one component. */
export interface ToolFacts {
  /** Per binary of the component: where an installed copy is and why it counts, or undefined. */
  readonly installed: readonly ({ readonly path: string; readonly why: string } | undefined)[];
  /** Whether the project's build of it is in the tool cache. */
  readonly cached: boolean;
  /** The provider only: whether the pinned version is in the engine's plugin cache. */
  readonly inPluginCache?: boolean;
  /** The provider only: that plugin cache's directory, for the messages. */
  readonly pluginCache?: string;
}

export type RouteKind =
  | "installed" // an installed copy, used as it is
  | "plugin-cache" // the provider at the pinned version in the engine's plugin cache
  | "cached" // the project's build, already in the tool cache
  | "install-built-plugin" // the provider's build from the tool cache, put into the plugin cache
  | "download" // `pulumi plugin install resource kubernetes <pinned>`, a Go build if that fails
  | "build"; // a Go build from the component's module

export interface Route {
  readonly kind: RouteKind;
  readonly why: string;
}

export const PROVIDER = "pulumi-resource-kubernetes";

/**
 * The route for one component:
 * - `--force`: a Go build;
 * - the provider at the pinned version in the engine's plugin cache: that;
 * - every binary installed (on PATH outside the tool cache, or the language host in the
 *   installed pulumi's distribution): those;
 * - the project's build in the tool cache: that (the provider's is put into the plugin cache);
 * - the provider otherwise: the engine's plugin download, with a Go build if it fails;
 * - anything else: a Go build.
 */
export function routeFor(c: Component, facts: ToolFacts, force = false): Route {
  const provider = c.name === PROVIDER;
  if (force) {
    return { kind: "build", why: "--force" };
  }
  if (provider && facts.inPluginCache) {
    return {
      kind: "plugin-cache",
      why: `version ${c.version} is in the plugin cache ${facts.pluginCache ?? ""}`.trim(),
    };
  }
  if (facts.installed.length > 0 && facts.installed.every((i) => i !== undefined)) {
    const where = facts.installed.map((i) => `${i!.path} (${i!.why})`).join(", ");
    return { kind: "installed", why: `installed: ${where}` };
  }
  const missing = c.builds
    .filter((_, i) => facts.installed[i] === undefined)
    .map((b) => b.binary)
    .join(", ");
  if (facts.cached) {
    return provider
      ? {
          kind: "install-built-plugin",
          why: `not in the plugin cache; the project's build is in the tool cache`,
        }
      : { kind: "cached", why: `${missing} not installed; the project's build is in the tool cache` };
  }
  if (provider) {
    return {
      kind: "download",
      why: `not in the plugin cache, not on PATH, not built: trying the engine's plugin download first`,
    };
  }
  return { kind: "build", why: `${missing} not installed and not built yet` };
}

/** Routes that leave something to do (what `install --check` reports as missing). */
export function needsWork(route: Route): boolean {
  return route.kind === "build" || route.kind === "download" || route.kind === "install-built-plugin";
}
