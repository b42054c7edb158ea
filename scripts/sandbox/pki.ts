/**
 * The sandbox cluster's certificates, made with openssl (a CA, the API server's serving
 * certificate, the admin client certificate, the service-account key pair), and its admin
 * kubeconfig.
 */
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";

function openssl(args: string[], cwd: string): void {
  execFileSync("openssl", args, { cwd, stdio: ["ignore", "ignore", "pipe"] });
}

/** CA, API server serving certificate, admin client certificate, service-account key pair. */
export function makeCertificates(dir: string): void {
  fs.mkdirSync(dir, { recursive: true });
  openssl(["genrsa", "-out", "ca.key", "2048"], dir);
  openssl(
    [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-days",
      "30",
      "-subj",
      "/CN=churn-sandbox-ca",
      "-out",
      "ca.crt",
    ],
    dir,
  );
  fs.writeFileSync(
    path.join(dir, "apiserver.ext"),
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n" +
      "extendedKeyUsage=serverAuth\n",
  );
  fs.writeFileSync(path.join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
  const leaf = (name: string, subject: string, ext: string) => {
    openssl(["genrsa", "-out", `${name}.key`, "2048"], dir);
    openssl(["req", "-new", "-key", `${name}.key`, "-subj", subject, "-out", `${name}.csr`], dir);
    openssl(
      [
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "30",
        "-extfile",
        ext,
        "-out",
        `${name}.crt`,
      ],
      dir,
    );
  };
  leaf("apiserver", "/CN=kube-apiserver", "apiserver.ext");
  leaf("admin", "/O=system:masters/CN=churn-sandbox-admin", "client.ext");
  openssl(["genrsa", "-out", "sa.key", "2048"], dir);
  openssl(["rsa", "-in", "sa.key", "-pubout", "-out", "sa.pub"], dir);
}

/** The admin kubeconfig of the sandbox cluster, certificates inline, readable by its owner only. */
export function writeKubeconfig(file: string, server: string, pki: string): void {
  const b64 = (f: string) => fs.readFileSync(path.join(pki, f)).toString("base64");
  fs.writeFileSync(
    file,
    [
      "apiVersion: v1",
      "kind: Config",
      "clusters:",
      "- name: churn-sandbox",
      "  cluster:",
      `    server: ${server}`,
      `    certificate-authority-data: ${b64("ca.crt")}`,
      "users:",
      "- name: admin",
      "  user:",
      `    client-certificate-data: ${b64("admin.crt")}`,
      `    client-key-data: ${b64("admin.key")}`,
      "contexts:",
      "- name: churn-sandbox",
      "  context:",
      "    cluster: churn-sandbox",
      "    user: admin",
      "current-context: churn-sandbox",
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}
