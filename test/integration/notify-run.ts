/**
 * One run of the notifier in its own process, as a promotion would run it: open the stack's
 * notifier (which starts delivering what earlier runs left), send the events given, drain,
 * exit. The stack config comes from $NOTIFY_RUN_CONFIG (the JSON value of
 * churn-model:notifications) instead of the engine; the outbox from $CHURN_NOTIFY_DIR.
 * With $NOTIFY_RUN_NO_DRAIN=1 it does not drain but waits to be killed.
 */
import { openNotifier } from "../../scripts/promotion/notify";
import type { EventType } from "../../scripts/promotion/notify/events";

async function run(): Promise<void> {
  const config = process.env.NOTIFY_RUN_CONFIG ?? "";
  const types = (process.env.NOTIFY_RUN_EVENTS ?? "").split(",").filter((t) => t !== "") as EventType[];
  const sink = await openNotifier("production", {
    readConfig: async () => ({ "churn-model:notifications": { value: config, secret: true } }),
    warn: (line) => process.stderr.write(`${line}\n`),
  });
  for (const type of types) {
    const id = sink.notify({ type, stack: "production", from: "staging", modelVersion: "1.1.0" });
    process.stdout.write(`queued ${type} ${id}\n`);
  }
  if (process.env.NOTIFY_RUN_NO_DRAIN === "1") {
    process.stdout.write("waiting\n");
    setInterval(() => undefined, 1000);
    return;
  }
  await sink.drain();
  process.stdout.write("drained\n");
}

run().catch((err: unknown) => {
  process.stderr.write(`notify-run: ${String(err)}\n`);
  process.exitCode = 1;
});
