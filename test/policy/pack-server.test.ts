/**
 * The pack as the engine runs it: `@pulumi/pulumi/cmd/run-policy-pack` started in policy/,
 * spoken to over the analyzer gRPC protocol. Shows that the pack starts from the repository's
 * node_modules, how the SDK's server treats unknown values, and that the config files load.
 */
import * as grpc from "@grpc/grpc-js";
import { expect } from "chai";
import { ChildProcess, spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import * as analyzerRpc from "@pulumi/pulumi/proto/analyzer_grpc_pb";
import * as analyzer from "@pulumi/pulumi/proto/analyzer_pb";
import { Struct } from "google-protobuf/google/protobuf/struct_pb";
import { Empty } from "google-protobuf/google/protobuf/empty_pb";
import { policies } from "../../policy/pack";
import { EVIDENCE_ANNOTATION } from "../../policy/contract";
import { deployment, DEPLOYMENT, hpa, KEYS, pdb } from "./fixtures";
import { configFor, UNKNOWN, withValue } from "./helper";
import { trustingPolicyConfig } from "../fixtures/policy-configs";

const ROOT = path.resolve(__dirname, "..", "..");
const POLICY_DIR = path.join(ROOT, "policy");
const RUN_POLICY_PACK = require.resolve("@pulumi/pulumi/cmd/run-policy-pack", { paths: [POLICY_DIR] });
const PACK_VERSION = (
  JSON.parse(fs.readFileSync(path.join(POLICY_DIR, "package.json"), "utf8")) as { version: string }
).version;

type Client = InstanceType<typeof analyzerRpc.AnalyzerClient>;

function call<Req, Res>(
  fn: (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => void,
  req: Req,
) {
  return new Promise<Res>((resolve, reject) => fn(req, (err, res) => (err ? reject(err) : resolve(res))));
}

/** The policy config the engine hands the pack for a config file: schema defaults, "all", then the file. */
function engineConfig(file: Record<string, Record<string, unknown>>): analyzer.ConfigureAnalyzerRequest {
  const req = new analyzer.ConfigureAnalyzerRequest();
  const levels: Record<string, analyzer.EnforcementLevel> = {
    advisory: analyzer.EnforcementLevel.ADVISORY,
    mandatory: analyzer.EnforcementLevel.MANDATORY,
    disabled: analyzer.EnforcementLevel.DISABLED,
  };
  for (const p of policies) {
    const { enforcementLevel, ...props } = file[p.name] ?? {};
    const level = (enforcementLevel ?? file.all?.enforcementLevel ?? p.enforcementLevel) as string;
    const pc = new analyzer.PolicyConfig();
    pc.setEnforcementlevel(levels[level]);
    pc.setProperties(Struct.fromJavaScript(configFor(p.configSchema, props) as Record<string, never>));
    req.getPolicyconfigMap().set(p.name, pc);
  }
  return req;
}

function options(): analyzer.AnalyzerResourceOptions {
  const o = new analyzer.AnalyzerResourceOptions();
  o.setCustomtimeouts(new analyzer.AnalyzerResourceOptions.CustomTimeouts());
  return o;
}

interface Diagnostic {
  policy: string;
  level: "advisory" | "mandatory" | "other";
  message: string;
}

function diagnostics(res: analyzer.AnalyzeResponse): Diagnostic[] {
  return res.getDiagnosticsList().map((d) => ({
    policy: d.getPolicyname(),
    level:
      d.getEnforcementlevel() === analyzer.EnforcementLevel.MANDATORY
        ? "mandatory"
        : d.getEnforcementlevel() === analyzer.EnforcementLevel.ADVISORY
          ? "advisory"
          : "other",
    message: d.getMessage(),
  }));
}

describe("the policy pack served to the engine", function () {
  this.timeout(180_000);
  let child: ChildProcess;
  let client: Client;
  let stderr = "";

  before(async () => {
    child = spawn(process.execPath, [RUN_POLICY_PACK, "127.0.0.1:0", "."], {
      cwd: POLICY_DIR,
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stderr!.on("data", (b: Buffer) => (stderr += b.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      child.stdout!.on("data", (b: Buffer) => {
        out += b.toString();
        const m = /^(\d+)\s*$/m.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on("exit", (code) =>
        reject(new Error(`the pack exited with ${code} before serving:\n${stderr}`)),
      );
    });
    client = new analyzerRpc.AnalyzerClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    await call(client.configure.bind(client), engineConfig(trustingPolicyConfig(KEYS.publicKeyPem)));
  });

  after(() => {
    client?.close();
    if (child?.pid !== undefined && child.exitCode === null) {
      child.kill("SIGTERM");
    }
  });

  async function analyze(type: string, props: Record<string, unknown>): Promise<Diagnostic[]> {
    const req = new analyzer.AnalyzeRequest();
    req.setType(type);
    req.setName("churn-model-deployment");
    req.setUrn(`urn:pulumi:production::churn-model-cd::${type}::churn-model-deployment`);
    req.setProperties(Struct.fromJavaScript(props as Record<string, never>));
    req.setOptions(options());
    return diagnostics(await call(client.analyze.bind(client), req));
  }

  async function analyzeStack(resources: [string, string, Record<string, unknown>][]): Promise<Diagnostic[]> {
    const req = new analyzer.AnalyzeStackRequest();
    req.setResourcesList(
      resources.map(([type, name, props]) => {
        const r = new analyzer.AnalyzerResource();
        r.setType(type);
        r.setName(name);
        r.setUrn(`urn:pulumi:production::churn-model-cd::${type}::${name}`);
        r.setProperties(Struct.fromJavaScript(props as Record<string, never>));
        r.setOptions(options());
        return r;
      }),
    );
    return diagnostics(await call(client.analyzeStack.bind(client), req));
  }

  it("describes itself with every policy mandatory", async () => {
    const info = await call<Empty, analyzer.AnalyzerInfo>(client.getAnalyzerInfo.bind(client), new Empty());
    expect(info.getName()).to.equal("churn-model");
    expect(info.getVersion()).to.equal(PACK_VERSION);
    expect(
      info
        .getPoliciesList()
        .map((p) => [p.getName(), p.getEnforcementlevel() === analyzer.EnforcementLevel.MANDATORY]),
    ).to.deep.equal(policies.map((p) => [p.name, true]));
  });

  it("passes the compliant production Deployment", async () => {
    expect(await analyze(DEPLOYMENT, deployment())).to.deep.equal([]);
  });

  it("refuses a production Deployment without evidence, as a mandatory violation", async () => {
    const found = await analyze(DEPLOYMENT, deployment({ evidence: null }));
    expect(found).to.deep.equal([
      {
        policy: "promotion-evidence",
        level: "mandatory",
        message:
          `${promotionDescription()}\nDeployment "churn-model" runs in production without promotion evidence: ` +
          `the annotation ${EVIDENCE_ANNOTATION} must hold the signed evidence the promotion wrote`,
      },
    ]);
  });

  it("refuses evidence unknown at preview as a mandatory violation", async () => {
    const props = withValue(deployment(), ["metadata", "annotations", EVIDENCE_ANNOTATION], UNKNOWN);
    const found = await analyze(DEPLOYMENT, props);
    expect(found.map((d) => [d.policy, d.level])).to.deep.equal([["promotion-evidence", "mandatory"]]);
    expect(found[0].message).to.match(
      /because metadata\.annotations\.churn-model\/promotion-evidence is unknown/,
    );
  });

  it("turns another policy's unknown value into an advisory note at preview", async () => {
    const found = await analyze(DEPLOYMENT, withValue(deployment(), ["spec", "replicas"], UNKNOWN));
    expect(found).to.deep.equal([
      {
        policy: "production-replicas",
        level: "advisory",
        message:
          `can't run policy 'production-replicas' from policy pack 'churn-model@v${PACK_VERSION}' during preview: string ` +
          "value at .spec.replicas can't be known during preview",
      },
    ]);
  });

  it("refuses the latest tag with the allow-list of production.json", async () => {
    const props = withValue(
      deployment(),
      ["spec", "template", "spec", "containers", 0, "image"],
      "registry.internal.example.com/ml/churn-model:latest",
    );
    const found = await analyze(DEPLOYMENT, props);
    expect(found.map((d) => d.policy)).to.deep.equal(["promotion-evidence", "image-pinning"]);
    expect(found.every((d) => d.level === "mandatory")).to.equal(true);
  });

  it("passes the production stack with its HPA and PodDisruptionBudget", async () => {
    const found = await analyzeStack([
      [DEPLOYMENT, "churn-model-deployment", deployment()],
      ["kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "churn-model-hpa", hpa()],
      ["kubernetes:policy/v1:PodDisruptionBudget", "churn-model-pdb", pdb()],
    ]);
    expect(found).to.deep.equal([]);
  });

  it("refuses the production stack without a PodDisruptionBudget", async () => {
    const found = await analyzeStack([
      [DEPLOYMENT, "churn-model-deployment", deployment()],
      ["kubernetes:autoscaling/v2:HorizontalPodAutoscaler", "churn-model-hpa", hpa()],
    ]);
    expect(found.map((d) => [d.policy, d.level])).to.deep.equal([
      ["production-disruption-budget", "mandatory"],
    ]);
  });
});

function promotionDescription(): string {
  return policies.find((p) => p.name === "promotion-evidence")!.description;
}
