/**
 * What every benchmark gets from the runner: the options, a progress log, temporary
 * directories under the run's own directory, and a register of things to stop, run at the
 * end of the run and on Ctrl-C, newest first.
 */
import * as fs from "fs";
import * as path from "path";
import { stopProcessesUnder } from "./processes";

export interface BenchContext {
  /** Fewer repetitions. */
  readonly quick: boolean;
  /** A progress line (the runner prefixes the elapsed time). */
  readonly log: (line: string) => void;
  /** Lines of the tools' own output, shown with --verbose only. */
  readonly detail: (line: string) => void;
  /** A new directory under the run's temporary directory. */
  tempDir(name: string): string;
  /** Registers a stop action (must be safe to run twice). */
  onCleanup(what: string, action: () => Promise<void>): void;
}

export class RunContext implements BenchContext {
  private readonly cleanups: { what: string; action: () => Promise<void> }[] = [];
  private cleaning: Promise<void> | undefined;

  constructor(
    readonly quick: boolean,
    readonly root: string,
    readonly log: (line: string) => void,
    readonly detail: (line: string) => void,
  ) {}

  tempDir(name: string): string {
    return fs.mkdtempSync(path.join(this.root, `${name}-`));
  }

  onCleanup(what: string, action: () => Promise<void>): void {
    this.cleanups.push({ what, action });
  }

  /**
   * Runs every registered stop action once, newest first, then stops any process of the run
   * still alive and removes the run directory.
   */
  cleanup(): Promise<void> {
    this.cleaning ??= (async () => {
      for (const { what, action } of [...this.cleanups].reverse()) {
        try {
          await action();
        } catch (err) {
          this.log(`cleanup: stopping ${what} failed: ${err instanceof Error ? err.message : String(err)}`);
        }
      }
      const stragglers = await stopProcessesUnder(this.root);
      if (stragglers > 0) this.log(`cleanup: stopped ${stragglers} leftover process(es) of this run`);
      fs.rmSync(this.root, { recursive: true, force: true });
    })();
    return this.cleaning;
  }
}
