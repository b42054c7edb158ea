/**
 * `npm run build`: compiles the TypeScript the CLIs and the Pulumi program run (the files
 * tsconfig.build.json includes) to JavaScript in dist/, one file at a time and without
 * type-checking (`npm run typecheck` checks the whole repository), each with a source map so a
 * stack trace under `node --enable-source-maps` names the .ts line. A per-file transpile is what
 * ts-node --transpile-only did at every start; here it runs once per change of the sources
 * (./dev runs it when scripts/toolchain/build-stamp.sh says dist/ is stale, and so does
 * build.ts `ensureBuilt` before the engine runs the program, compiled too: Pulumi.yaml `main`).
 * It records the sources' hash (build-stamp.sh write) once every file is written.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as ts from "typescript";
import { REPO_ROOT } from "./env";

const ROOT = REPO_ROOT;
const CONFIG = path.join(ROOT, "tsconfig.build.json");
const STAMP = path.join(ROOT, "scripts", "toolchain", "build-stamp.sh");

export interface BuildResult {
  readonly files: number;
  readonly outDir: string;
}

/** The parsed tsconfig.build.json: its compiler options and the files it includes. */
export function buildConfig(configFile = CONFIG): ts.ParsedCommandLine {
  const parsed = ts.getParsedCommandLineOfConfigFile(
    configFile,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
      },
    },
  );
  if (parsed === undefined) throw new Error(`cannot read ${configFile}`);
  if (parsed.errors.length > 0) {
    throw new Error(
      parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("\n"),
    );
  }
  return parsed;
}

/** Transpiles every included file to outDir (default: the config's, dist/); returns how many. */
export function compile(configFile = CONFIG, outDirOverride?: string): BuildResult {
  const { options, fileNames } = buildConfig(configFile);
  const rootDir = options.rootDir ?? ROOT;
  const outDir = outDirOverride ?? options.outDir ?? path.join(ROOT, "dist");
  const compilerOptions: ts.CompilerOptions = {
    ...options,
    sourceMap: true,
    inlineSources: false,
    noEmit: false,
    declaration: false,
    incremental: false,
  };
  let files = 0;
  for (const file of fileNames) {
    if (file.endsWith(".d.ts")) continue;
    const rel = path.relative(rootDir, file);
    const out = path.join(outDir, rel.replace(/\.ts$/, ".js"));
    const result = ts.transpileModule(fs.readFileSync(file, "utf8"), {
      fileName: file,
      compilerOptions,
      reportDiagnostics: true,
    });
    const problems = (result.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
    if (problems.length > 0) {
      throw new Error(
        `${rel}: ${problems.map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n")).join("; ")}`,
      );
    }
    // The map names the source relative to the output, as tsc writes it.
    const map = JSON.parse(result.sourceMapText ?? "{}") as { sources?: string[]; file?: string };
    map.file = path.basename(out);
    map.sources = [path.relative(path.dirname(out), file).split(path.sep).join("/")];
    const text = result.outputText.replace(
      /\/\/# sourceMappingURL=.*$/m,
      `//# sourceMappingURL=${path.basename(out)}.map`,
    );
    fs.mkdirSync(path.dirname(out), { recursive: true });
    writeIfChanged(out, text);
    writeIfChanged(`${out}.map`, JSON.stringify(map));
    files++;
  }
  return { files, outDir };
}

/** Writes only what changed, so an unchanged file keeps its mtime. */
function writeIfChanged(file: string, text: string): void {
  try {
    if (fs.readFileSync(file, "utf8") === text) return;
  } catch {
    // not there yet
  }
  fs.writeFileSync(file, text);
}

if (require.main === module) {
  const started = Date.now();
  try {
    const { files, outDir } = compile();
    const stamped = spawnSync("bash", [STAMP, "write"], { stdio: "inherit" });
    if (stamped.status !== 0) throw new Error(`${STAMP} write failed (exit ${stamped.status})`);
    process.stderr.write(
      `build: ${files} files compiled to ${path.relative(process.cwd(), outDir) || "."} in ${Date.now() - started} ms\n`,
    );
  } catch (err) {
    process.stderr.write(`build: ${(err as Error).message}\n`);
    process.exitCode = 1;
  }
}
