/**
 * Reading resource properties as policies receive them: plain JSON, wrapped by
 * @pulumi/policy in a proxy that throws UnknownValueError when a policy reads a value that
 * is unknown during preview. The engine turns an uncaught UnknownValueError into an advisory
 * note ("can't run policy … during preview") and runs resource policies again during the
 * update, when the values are known. Policies that must not let an unknown through at preview
 * (promotion-evidence) catch the error themselves and report a violation.
 */
import * as policySdk from "@pulumi/policy";

type UnknownValueErrorClass = new (...args: never[]) => Error & { readonly props: readonly PropertyKey[] };

/** The SDK exports UnknownValueError at runtime; its type declarations omit it. */
const UnknownValueError = (policySdk as unknown as { UnknownValueError: UnknownValueErrorClass })
  .UnknownValueError;

/** True when `err` is the SDK's signal that a policy read a value unknown during preview. */
export function isUnknownValueError(err: unknown): err is Error & { readonly props: readonly PropertyKey[] } {
  return err instanceof UnknownValueError;
}

/** The property path of an unknown value, e.g. `spec.template.spec.containers[0].image`. */
export function unknownPath(err: Error & { readonly props: readonly PropertyKey[] }): string {
  let out = "";
  for (const p of err.props) {
    const s = String(p);
    out += /^\d+$/.test(s) ? `[${s}]` : out === "" ? s : `.${s}`;
  }
  return out;
}

/** The value `read` returns, or `fallback` when it reads a value unknown during preview. */
export function orWhenUnknown<T>(read: () => T, fallback: T): T {
  try {
    return read();
  } catch (err) {
    if (isUnknownValueError(err)) {
      return fallback;
    }
    throw err;
  }
}

/** `v` as a JSON object, or undefined. */
export function record(v: unknown): Record<string, unknown> | undefined {
  return typeof v === "object" && v !== null && !Array.isArray(v)
    ? (v as Record<string, unknown>)
    : undefined;
}

/** `v` as an array, or an empty one. */
export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

/** `v` as a string, or undefined. */
export function text(v: unknown): string | undefined {
  return typeof v === "string" ? v : undefined;
}

/** `v` as a number, or undefined. */
export function num(v: unknown): number | undefined {
  return typeof v === "number" ? v : undefined;
}
