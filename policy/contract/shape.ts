/**
 * The shape checks the contract's strict readers share (evidence-schema.ts, approval.ts): an
 * object with only known fields, a non-empty string, an RFC3339 timestamp. Each throws
 * ContractError naming the path.
 */
import { ContractError } from "./errors";

export const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `value` as an object with no field outside `keys`, and every one of `required`. */
export function objectAt(
  value: unknown,
  at: string,
  keys: readonly string[],
  required: readonly string[] = [],
): Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ContractError(`${at} must be an object`);
  }
  const obj = value as Record<string, unknown>;
  const extra = Object.keys(obj).filter((k) => !keys.includes(k));
  if (extra.length > 0) {
    throw new ContractError(`${at} has unknown field${extra.length > 1 ? "s" : ""} ${extra.join(", ")}`);
  }
  const missing = required.filter((k) => !(k in obj));
  if (missing.length > 0) {
    throw new ContractError(`${at} is missing ${missing.join(", ")}`);
  }
  return obj;
}

export function nonEmptyString(value: unknown, at: string): string {
  if (typeof value !== "string" || value.trim() === "") {
    throw new ContractError(`${at} must be a non-empty string`);
  }
  return value;
}

export function timestamp(value: unknown, at: string): string {
  if (typeof value !== "string" || !RFC3339.test(value) || Number.isNaN(Date.parse(value))) {
    throw new ContractError(`${at} must be an RFC3339 timestamp (got ${JSON.stringify(value)})`);
  }
  return value;
}
