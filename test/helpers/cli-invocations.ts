/**
 * Finds the project commands a workflow or hook runs (`npm run X -- --flag …`, `./dev X -- …`)
 * and checks them against the code: the npm script must exist and every flag must be one the
 * called CLI accepts, as listed by the `FLAGS` the CLI module exports.
 */
import * as fs from "fs";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");

export interface Invocation {
  /** The npm script the command runs. */
  readonly script: string;
  /** `--flags` passed to the script after `--`, in order. */
  readonly flags: readonly string[];
  /** Arguments given before `--` (npm would take them for itself). */
  readonly strayArgs: readonly string[];
  /** Where it was found, e.g. `.github/workflows/ci.yml: jobs.lint`. */
  readonly where: string;
  /** The command as written. */
  readonly text: string;
}

/** `./dev` names that are not npm scripts: `env` prints the environment and runs nothing (`setup X` is checked as X). */
const DEV_BUILTINS = new Set(["env"]);

/** Cuts a shell command line at the end of the first command (operators, closing quote). */
function commandExtent(rest: string): string {
  const end = rest.search(/\s(?:&&|\|\||\|)\s|[;'\n)]/);
  return end === -1 ? rest : rest.slice(0, end);
}

/** Every project command in a piece of shell text. */
export function findInvocations(shell: string, where: string): Invocation[] {
  const text = shell
    .split("\n")
    .filter((line) => !line.trim().startsWith("#"))
    .join("\n")
    .replace(/\\\n\s*/g, " ");
  const found: Invocation[] = [];
  const re = /(?:^|[\s;&|('"])(npm run|\.\/dev|npm test)(?=\s|$)([^\n]*)/g;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const runner = m[1];
    const rest = commandExtent(m[2]);
    re.lastIndex = m.index + m[0].length - m[2].length + rest.length;
    const words = rest
      .trim()
      .split(/\s+/)
      .filter((w) => w !== "");
    let script: string;
    let args: string[];
    if (runner === "npm test") {
      script = "test";
      args = words;
    } else if (runner === "./dev" && words[0] === "setup") {
      // `./dev setup X` sets up what script X needs: checked as X, without running it.
      script = words[1] ?? "";
      args = words.slice(2);
    } else {
      script = words[0] ?? "";
      args = words.slice(1);
    }
    if (runner === "./dev" && DEV_BUILTINS.has(script)) {
      continue;
    }
    const separator = args.indexOf("--");
    const stray = separator === -1 ? args : args.slice(0, separator);
    const after = separator === -1 ? "" : args.slice(separator + 1).join(" ");
    const flags = [...after.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((f) => f[0]);
    found.push({ script, flags, strayArgs: stray, where, text: `${runner} ${rest.trim()}` });
  }
  return found;
}

export function packageScripts(): Record<string, string> {
  const pkg = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts?: Record<string, string>;
  };
  return pkg.scripts ?? {};
}

/**
 * The project CLI module an npm script runs (`scripts/promote.ts`), if its command names one:
 * the TypeScript itself, or its compiled JavaScript in dist/ (`dist/scripts/promote.js`).
 */
export function cliModule(scriptCommand: string): string | undefined {
  const source = /(?:^|\s)((?:scripts|deployments)\/[\w./-]+\.ts)(?=\s|$)/.exec(scriptCommand)?.[1];
  if (source !== undefined) return source;
  const compiled = /(?:^|\s)dist\/((?:scripts|deployments)\/[\w./-]+)\.js(?=\s|$)/.exec(scriptCommand)?.[1];
  return compiled === undefined ? undefined : `${compiled}.ts`;
}

/** The flags a CLI module exports as `FLAGS`, or a problem saying why they cannot be read. */
export async function acceptedFlags(modulePath: string): Promise<readonly string[] | string> {
  const file = path.join(REPO_ROOT, modulePath);
  if (!fs.existsSync(file)) {
    return `${modulePath} does not exist`;
  }
  const mod = (await import(file)) as { FLAGS?: unknown };
  if (!Array.isArray(mod.FLAGS) || !mod.FLAGS.every((f) => typeof f === "string")) {
    return `${modulePath} does not export FLAGS: readonly string[]`;
  }
  return mod.FLAGS as string[];
}

/** Every mismatch between the invocations and the code, as readable lines (empty: none). */
export async function driftProblems(invocations: readonly Invocation[]): Promise<string[]> {
  const scripts = packageScripts();
  const problems: string[] = [];
  for (const inv of invocations) {
    const command = scripts[inv.script];
    if (command === undefined) {
      problems.push(
        `${inv.where}: \`${inv.text}\` runs npm script "${inv.script}", which package.json does not define`,
      );
      continue;
    }
    if (inv.strayArgs.length > 0) {
      problems.push(
        `${inv.where}: \`${inv.text}\` passes ${inv.strayArgs.join(" ")} before \`--\` (npm takes them)`,
      );
    }
    if (inv.flags.length === 0) {
      continue;
    }
    const module = cliModule(command);
    if (module === undefined) {
      problems.push(
        `${inv.where}: \`${inv.text}\` passes ${inv.flags.join(" ")} to "${command}", which is not a project CLI exporting FLAGS`,
      );
      continue;
    }
    const accepted = await acceptedFlags(module);
    if (typeof accepted === "string") {
      problems.push(`${inv.where}: \`${inv.text}\` cannot be checked: ${accepted}`);
      continue;
    }
    const unknown = inv.flags.filter((f) => !accepted.includes(f));
    if (unknown.length > 0) {
      problems.push(
        `${inv.where}: \`${inv.text}\` passes ${unknown.join(", ")}, which ${module} does not accept (FLAGS: ${accepted.join(", ")})`,
      );
    }
  }
  return problems;
}
