import { writeFileSync } from "node:fs";
import { test, expect } from "./fixtures/test";
import { SpawnedGateway, freePorts } from "./fixtures/spawned";

test.describe("config page, server-rendered (JavaScript off)", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("shows the running config readably; a rejected file is said plainly", async ({ page }) => {
    const [proxy, dashboard] = await freePorts(2);
    server = new SpawnedGateway(dashboard, {
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      history: { enabled: false },
      routes: [
        {
          name: "shown",
          path: "/shown/*",
          targets: [{ url: "http://127.0.0.1:3990", weight: 3 }, "http://127.0.0.1:3991"],
          strategy: "weighted_round_robin",
          timeout_ms: 1500,
          health_check: { path: "/health", interval_ms: 2000 },
        },
      ],
    });
    await server.start();
    await page.goto(`${server.url}/config`);
    await expect(page.getByRole("heading", { name: "Running config" })).toBeVisible();
    const routes = page.getByTestId("config-routes");
    await expect(routes).toContainText("shown");
    await expect(routes).toContainText("http://127.0.0.1:3990 ×3, http://127.0.0.1:3991");
    await expect(routes).toContainText("weighted round robin");
    await expect(routes).toContainText("timeout_ms 1500");
    await expect(routes).toContainText("health_check path /health · interval_ms 2000");
    await expect(page.getByTestId("config-settings")).toContainText(`127.0.0.1:${proxy}`);
    await expect(page.getByTestId("config-file-differs")).toHaveCount(0);
    // Editing needs the script; without it those controls are not offered.
    await expect(page.getByTestId("config-check")).toBeHidden();

    // A broken file is rejected: the page says the file differs and shows what still runs.
    const broken = `{ "listen": "127.0.0.1:${proxy}", "routes": [ { "name": "broken" } ] }\n`;
    writeFileSync(server.configPath, broken);
    await expect
      .poll(async () => {
        await page.goto(`${server!.url}/config`);
        return page.getByTestId("config-file-differs").count();
      })
      .toBe(1);
    await expect(page.getByTestId("config-routes")).toContainText("shown");
    await expect(page.getByTestId("config-routes")).not.toContainText("broken");
  });
});
