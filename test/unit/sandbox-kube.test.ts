import { expect } from "chai";
import * as fs from "fs";
import * as https from "https";
import * as os from "os";
import * as path from "path";
import { loadKubeConfig } from "../../scripts/sandbox/kube";

describe("sandbox kubeconfig", () => {
  let dir: string;

  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sandbox-kubeconfig-"));
  });

  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("reads the current context's server, CA and client certificate (inline or by file)", async () => {
    fs.writeFileSync(path.join(dir, "client.key"), "KEY");
    const file = path.join(dir, "kubeconfig");
    fs.writeFileSync(
      file,
      [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: other",
        "  cluster: {server: 'https://10.0.0.1:6443'}",
        "- name: sandbox",
        "  cluster:",
        "    server: https://127.0.0.1:6443/",
        `    certificate-authority-data: ${Buffer.from("CA").toString("base64")}`,
        "users:",
        "- name: admin",
        "  user:",
        `    client-certificate-data: ${Buffer.from("CERT").toString("base64")}`,
        "    client-key: client.key",
        "contexts:",
        "- name: sandbox",
        "  context: {cluster: sandbox, user: admin}",
        "current-context: sandbox",
      ].join("\n"),
    );
    const kc = loadKubeConfig(file);
    expect(kc.getCurrentCluster()?.server).to.equal("https://127.0.0.1:6443");
    const tls: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(tls);
    expect(String(tls.ca)).to.equal("CA");
    expect(String(tls.cert)).to.equal("CERT");
    expect(String(tls.key)).to.equal("KEY");
  });

  it("names a current-context that does not exist", () => {
    const file = path.join(dir, "kubeconfig");
    fs.writeFileSync(file, "current-context: nowhere\ncontexts: []\n");
    expect(() => loadKubeConfig(file)).to.throw('current-context "nowhere" is not among its contexts');
  });

  it("names a kubeconfig file that does not exist", () => {
    const file = path.join(dir, "missing");
    expect(() => loadKubeConfig(file)).to.throw(`kubeconfig ${file} does not exist`);
  });
});
