// The dashboard served over HTTPS (`dashboard.tls`) with a certificate from the test's private
// CA (the spawned gateway's readiness check verifies it against that CA): Chromium loads the
// page, hydrates it without a console error, and the live socket is `wss://` and delivers a
// request the moment the proxy serves it.
import { execFileSync } from "node:child_process";
import { X509Certificate, createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { test, expect, hydrated } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./fixtures/chromium";

// A private CA and the dashboard's certificate for 127.0.0.1 (ECDSA P-256), made with openssl
// when the spec is loaded: each worker makes its own and launches its browser trusting it.
const certs = mkdtempSync(path.join(tmpdir(), "gatewatch-e2e-tls-"));
const openssl = (...args: string[]) => execFileSync("openssl", args, { cwd: certs, stdio: "ignore" });
const p256 = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
openssl("req", "-x509", ...p256, "-days", "2", "-subj", "/CN=Gatewatch e2e CA", "-keyout", "ca.key", "-out", "ca.pem");
openssl("req", ...p256, "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr");
writeFileSync(path.join(certs, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
  "-extfile", "san.ext", "-out", "server.pem");
const caPem = readFileSync(path.join(certs, "ca.pem"), "utf8");
// Chromium is told to accept the server's certificate by its public key
// (--ignore-certificate-errors-spki-list, which pins leaf keys: a CA cannot be added to headless
// Chromium without changing the machine's trust store). Every other certificate error stays one.
const serverKey = createHash("sha256")
  .update(new X509Certificate(readFileSync(path.join(certs, "server.pem"))).publicKey.export({ type: "spki", format: "der" }))
  .digest("base64");
test.use({
  launchOptions: {
    executablePath: CHROMIUM_PATH,
    args: [...CHROMIUM_ARGS, `--ignore-certificate-errors-spki-list=${serverKey}`],
  },
});

test.describe("the dashboard over HTTPS", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("hydrates, and its live socket is wss:// and delivers requests as they are served", async ({ page }) => {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: {
        listen: `127.0.0.1:${dashboard}`,
        tls: { certificates: [{ cert: path.join(certs, "server.pem"), key: path.join(certs, "server.key") }] },
      },
      routes: [{ name: "first", path: "/api/*", targets: ["http://127.0.0.1:3990"] }],
    }));
    server.dashboardCa = caPem;
    await server.start();
    const dashboard = server;

    const sockets: string[] = [];
    page.on("websocket", (socket) => sockets.push(socket.url()));
    await page.goto(`${dashboard.url}/requests`);
    await hydrated(page);
    expect(page.url()).toBe(`https://127.0.0.1:${dashboard.dashboardPort}/requests`);
    await expect.poll(() => sockets).toContainEqual(expect.stringMatching(`^wss://127\\.0\\.0\\.1:${dashboard.dashboardPort}/api/live`));

    const id = `over-tls-${Date.now()}`;
    const sent = await fetch(`${dashboard.proxyUrl}/api/over-tls`, { headers: { "x-request-id": id } });
    expect(sent.status).toBe(200);
    await expect(page.locator(`[data-testid="request-row"][data-request-id="${id}"]`)).toBeVisible();
  });
});
