/**
 * What a dry run says about a promotion lock held on another host. That host's holder
 * cannot be checked from here (its process is not on this machine), so it counts as alive:
 * the dry run reports no pending recovery and a promotion now stops with exit 2. On CI every
 * runner is another host, so a lost runner's lock looks like this until a person says it is
 * gone (`--take-over-from HOST`).
 */
import * as os from "os";
import { Journal, newestJournal, readLatest } from "./lock";

/** The warning for a lock in `dir` (or the backend's journal `remote`) held by a promotion on another host; else undefined. */
export function foreignHolderWarning(
  dir: string,
  remote: Journal | undefined,
  host: string = os.hostname(),
): string | undefined {
  const j = newestJournal(readLatest(dir), remote);
  if (j === undefined || j.state !== "held" || j.holder.host === host) return undefined;
  const h = j.holder;
  const doing = `during "${j.phase}"${j.target !== undefined ? ` of ${j.target}` : ""}`;
  return (
    `warning: the promotion lock of ${j.stack} is held by a promotion on host ${h.host} (pid ${h.pid}, ` +
    `started ${h.startedAt}, ${doing}). Whether it still runs cannot be seen from this host, so this dry ` +
    "run counts it as running and reports no pending recovery, and a promotion now stops with exit 2. " +
    `If host ${h.host} is gone for good (a lost CI runner), promote with --take-over-from ${h.host} ` +
    "(the deploy-model workflow's take_over_from input): that promotion recovers what it left first"
  );
}
