/**
 * Runs one policy the way the @pulumi/policy analyzer server does: props wrapped in the SDK's
 * unknown-checking proxy, config = the policy's configSchema defaults overlaid with the given
 * config, an UnknownValueError turned into the engine's advisory "can't run … during preview"
 * note, notApplicable recorded.
 */
import * as policySdk from "@pulumi/policy";
import {
  PolicyConfigSchema,
  PolicyResource,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import { isUnknownValueError } from "../../policy/lib/values";

/** What the engine puts where a value is unknown during preview. */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

const unknownCheckingProxy = (policySdk as unknown as { unknownCheckingProxy<T>(v: T): T })
  .unknownCheckingProxy;

export interface Outcome {
  /** The messages the policy reported, in order. */
  violations: string[];
  /** The URN each violation named (undefined: the resource under analysis). */
  urns: (string | undefined)[];
  /** The engine's advisory note when the policy read a value unknown during preview. */
  unknownAtPreview?: string;
  notApplicable?: string;
}

class NotApplicable extends Error {}

/** The policy's config as the engine hands it over: schema defaults, then the given values. */
export function configFor(schema: PolicyConfigSchema | undefined, given: Record<string, unknown> = {}) {
  const config: Record<string, unknown> = {};
  for (const [key, prop] of Object.entries(schema?.properties ?? {})) {
    const def = (prop as { default?: unknown }).default;
    if (def !== undefined) {
      config[key] = structuredClone(def);
    }
  }
  Object.assign(config, structuredClone(given));
  for (const key of schema?.required ?? []) {
    if (config[key] === undefined) {
      throw new Error(`policy config is missing required key ${key}`);
    }
  }
  return config;
}

function recorder(outcome: Outcome) {
  return (message: string, urn?: string) => {
    outcome.violations.push(message);
    outcome.urns.push(urn);
  };
}

function handle(policyName: string, err: unknown, outcome: Outcome): void {
  if (isUnknownValueError(err)) {
    outcome.unknownAtPreview = `can't run policy '${policyName}' during preview: ${err.message}`;
  } else if (err instanceof NotApplicable) {
    outcome.notApplicable = err.message;
  } else {
    throw err;
  }
}

const OPTS = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

export interface ResourceFixture {
  type: string;
  props: Record<string, unknown>;
  /** The Pulumi resource name. Default "fixture". */
  name?: string;
  /** The Pulumi project its URN names. Default "churn-model-cd". */
  project?: string;
  /** The stack its URN names. Default "production". */
  stack?: string;
}

function urnOf(type: string, name: string, project = "churn-model-cd", stack = "production"): string {
  return `urn:pulumi:${stack}::${project}::${type}::${name}`;
}

/** Runs a resource policy against one resource. */
export async function runResourcePolicy(
  policy: ResourceValidationPolicy,
  fixture: ResourceFixture,
  config: Record<string, unknown> = {},
): Promise<Outcome> {
  const outcome: Outcome = { violations: [], urns: [] };
  const name = fixture.name ?? "fixture";
  const cfg = configFor(policy.configSchema, config);
  const validations = Array.isArray(policy.validateResource)
    ? policy.validateResource
    : policy.validateResource
      ? [policy.validateResource]
      : [];
  for (const validate of validations) {
    const props = unknownCheckingProxy(structuredClone(fixture.props));
    const args: ResourceValidationArgs = {
      type: fixture.type,
      props,
      urn: urnOf(fixture.type, name, fixture.project, fixture.stack),
      name,
      opts: OPTS,
      stackTags: new Map(),
      isType: () => false,
      asType: () => undefined,
      getConfig: <T extends object>() => structuredClone(cfg) as T,
      notApplicable: (reason?: string): never => {
        throw new NotApplicable(reason ?? "Policy does not apply");
      },
    };
    try {
      await validate(args, recorder(outcome));
    } catch (err) {
      handle(policy.name, err, outcome);
    }
  }
  return outcome;
}

export interface StackFixture extends ResourceFixture {
  name: string;
  /** Property name → names of the fixtures that property depends on. */
  propertyDependencies?: Record<string, string[]>;
}

/** Runs a stack policy against a set of resources. */
export async function runStackPolicy(
  policy: StackValidationPolicy,
  fixtures: StackFixture[],
  config: Record<string, unknown> = {},
): Promise<Outcome> {
  const outcome: Outcome = { violations: [], urns: [] };
  const cfg = configFor(policy.configSchema, config);
  const byName = new Map<string, PolicyResource>();
  const resources: PolicyResource[] = fixtures.map((f) => {
    const r: PolicyResource = {
      type: f.type,
      props: unknownCheckingProxy(structuredClone(f.props)),
      urn: urnOf(f.type, f.name),
      name: f.name,
      opts: OPTS,
      dependencies: [],
      propertyDependencies: {},
      isType: () => false,
      asType: () => undefined,
    };
    byName.set(f.name, r);
    return r;
  });
  fixtures.forEach((f, i) => {
    for (const [prop, names] of Object.entries(f.propertyDependencies ?? {})) {
      const deps = names.map((n) => {
        const dep = byName.get(n);
        if (dep === undefined) {
          throw new Error(`fixture ${f.name} depends on unknown fixture ${n}`);
        }
        return dep;
      });
      resources[i].propertyDependencies[prop] = deps;
      resources[i].dependencies.push(...deps);
    }
  });
  const args: StackValidationArgs = {
    resources,
    stackTags: new Map(),
    getConfig: <T extends object>() => structuredClone(cfg) as T,
    notApplicable: (reason?: string): never => {
      throw new NotApplicable(reason ?? "Policy does not apply");
    },
  };
  try {
    await policy.validateStack(args, recorder(outcome));
  } catch (err) {
    handle(policy.name, err, outcome);
  }
  return outcome;
}

/** The URN the helper gives a fixture, to compare with reported URNs. */
export function fixtureUrn(type: string, name: string): string {
  return urnOf(type, name);
}

/** A deep copy of `value` with the property at `path` set (or deleted, for undefined). */
export function withValue<T>(value: T, path: (string | number)[], v: unknown): T {
  const copy = structuredClone(value) as Record<string | number, unknown>;
  let at = copy;
  for (const step of path.slice(0, -1)) {
    at = at[step] as Record<string | number, unknown>;
  }
  const last = path[path.length - 1];
  if (v === undefined) {
    if (Array.isArray(at) && typeof last === "number") {
      at.splice(last, 1);
    } else {
      delete at[last];
    }
  } else {
    at[last] = v;
  }
  return copy as T;
}
