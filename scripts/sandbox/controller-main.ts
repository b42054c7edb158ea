/**
 * The sandbox controller's command line (run detached by scripts/sandbox/controller-process.ts):
 *
 *   ts-node scripts/sandbox/controller-main.ts --kubeconfig FILE --namespaces staging,production
 *     --state-dir DIR [--targets-file FILE]
 *
 * It records itself in <stateDir>/controller.json once the first reconcile ran, and stops its
 * service processes on SIGTERM or SIGINT.
 */
import * as fs from "fs";
import * as path from "path";
import { Controller } from "./controller";
import { controllerStateFile, ControllerProcessState } from "./controller-process";
import { loadKubeConfig } from "./kube";
import { servicesFile } from "./services-state";

export function parseControllerArgs(argv: readonly string[]): {
  kubeconfig: string;
  namespaces: string[];
  stateDir: string;
  targetsFile?: string;
} {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const m = /^--(kubeconfig|namespaces|state-dir|targets-file)(?:=(.*))?$/.exec(argv[i]);
    const value = m?.[2] ?? argv[i + 1];
    if (!m || value === undefined) {
      throw new Error(
        `bad argument ${argv[i]}; usage: --kubeconfig FILE --namespaces a,b --state-dir DIR [--targets-file FILE]`,
      );
    }
    if (m[2] === undefined) {
      i++;
    }
    flags.set(m[1], value);
  }
  const missing = ["kubeconfig", "namespaces", "state-dir"].filter((k) => !flags.get(k));
  if (missing.length > 0) {
    throw new Error(`missing ${missing.map((k) => `--${k}`).join(", ")}`);
  }
  return {
    kubeconfig: flags.get("kubeconfig") as string,
    namespaces: (flags.get("namespaces") as string).split(",").filter((s) => s !== ""),
    stateDir: flags.get("state-dir") as string,
    targetsFile: flags.get("targets-file"),
  };
}

async function main(): Promise<void> {
  const args = parseControllerArgs(process.argv.slice(2));
  const controller = new Controller({
    kubeConfig: loadKubeConfig(args.kubeconfig),
    namespaces: args.namespaces,
    stateDir: args.stateDir,
    targetsFile: args.targetsFile,
  });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) {
      return;
    }
    stopping = true;
    console.log(`[controller] ${signal}: stopping service processes`);
    controller.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`[controller] stopping failed: ${(err as Error).message}`);
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  await controller.start();
  const record: ControllerProcessState = {
    pid: process.pid,
    logFile: path.join(path.resolve(args.stateDir), "logs", "controller.log"),
    servicesFile: servicesFile(args.stateDir),
  };
  fs.writeFileSync(controllerStateFile(args.stateDir), `${JSON.stringify(record, null, 2)}\n`);
  console.log(
    `[controller] watching ${args.namespaces.join(", ")}; services in ${servicesFile(args.stateDir)}`,
  );
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(`[controller] ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
