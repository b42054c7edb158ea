/**
 * The one reader of a Pulumi program's config: `readStackConfig` (stacks/config.ts) and the
 * Deployments program (deployments/config.ts) both read their keys through it. It collects
 * every problem, each naming its key as `<namespace>:<key>` with what is accepted, so a
 * program reports them all together before any resource is declared.
 */

/** What the reader needs from Pulumi's config object (lets unit tests pass a plain map). */
export interface ConfigSource {
  get(key: string): string | undefined;
}

/** A predicate for an integer from `lo` to `hi` in a structured value. */
export const isInt = (lo: number, hi: number) => (v: unknown) =>
  typeof v === "number" && Number.isInteger(v) && v >= lo && v <= hi;

export class ConfigReader {
  readonly problems: string[] = [];
  constructor(
    readonly namespace: string,
    protected readonly src: ConfigSource,
  ) {}

  /** Records a problem of `<namespace>:<key>`; returns undefined for the value. */
  fail(key: string, message: string): undefined {
    this.problems.push(`${this.namespace}:${key} ${message}`);
    return undefined;
  }

  raw(key: string): string | undefined {
    return this.src.get(key);
  }

  /** A string (or its default) matching `pattern`; undefined and a problem when missing or not matching. */
  string(
    key: string,
    opts: { default?: string; pattern?: RegExp; accepted?: string } = {},
  ): string | undefined {
    const v = this.src.get(key) ?? opts.default;
    if (v === undefined) return this.fail(key, `is required (${opts.accepted ?? "a string"})`);
    if (opts.pattern && !opts.pattern.test(v)) {
      return this.fail(
        key,
        `must be ${opts.accepted ?? `matching ${opts.pattern}`} (got ${JSON.stringify(v)})`,
      );
    }
    return v;
  }

  /** A string that may be absent; when given it must match `pattern`. */
  optional(key: string, pattern: RegExp, accepted: string): string | undefined {
    const v = this.src.get(key);
    if (v !== undefined && !pattern.test(v)) {
      this.fail(key, `must be ${accepted} (got ${JSON.stringify(v)})`);
    }
    return v;
  }

  oneOf<T extends string>(key: string, allowed: readonly T[], def?: T): T | undefined {
    const v = this.src.get(key) ?? def;
    if (v === undefined) return this.fail(key, `is required: one of ${allowed.join(", ")}`);
    if (!(allowed as readonly string[]).includes(v)) {
      this.fail(key, `must be one of ${allowed.join(", ")} (got ${JSON.stringify(v)})`);
      return def;
    }
    return v as T;
  }

  int(key: string, def: number, min: number, max: number): number {
    const raw = this.src.get(key);
    if (raw === undefined) return def;
    const n = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
      this.fail(key, `must be an integer from ${min} to ${max} (got ${JSON.stringify(raw)})`);
      return def;
    }
    return n;
  }

  bool(key: string, def: boolean): boolean {
    const raw = this.src.get(key);
    if (raw === undefined) return def;
    if (raw !== "true" && raw !== "false") {
      this.fail(key, `must be true or false (got ${JSON.stringify(raw)})`);
      return def;
    }
    return raw === "true";
  }

  /** A structured (object) config value, e.g. `replicas: {min: 2, max: 6}`. */
  object(key: string): Record<string, unknown> {
    const raw = this.src.get(key);
    if (raw === undefined) return {};
    try {
      const v: unknown = JSON.parse(raw);
      if (typeof v === "object" && v !== null && !Array.isArray(v)) return v as Record<string, unknown>;
    } catch {
      // reported below
    }
    this.fail(key, `must be an object (got ${JSON.stringify(raw)})`);
    return {};
  }

  /** The field `name` of the structured value `key`, checked. */
  field(
    key: string,
    obj: Record<string, unknown>,
    name: string,
    check: (v: unknown) => boolean,
    accepted: string,
  ): unknown {
    const v = obj[name];
    if (v === undefined) return this.fail(`${key}.${name}`, `is required (${accepted})`);
    if (!check(v)) return this.fail(`${key}.${name}`, `must be ${accepted} (got ${JSON.stringify(v)})`);
    return v;
  }
}
