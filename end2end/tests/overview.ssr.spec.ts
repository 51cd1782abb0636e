import { test, expect } from "./fixtures/test";

test.describe("overview, server-rendered (JavaScript off)", () => {
  test("shows the gateway's data without any script", async ({ overview, page }) => {
    await overview.goto();
    await expect(page).toHaveTitle("Gatewatch");
    await expect(overview.proxyListen).toHaveText("127.0.0.1:3981");
    await expect(overview.dashboardListen).toHaveText("127.0.0.1:3901");
    await expect(overview.configPath).toHaveText("end2end/fixtures/gatewatch.e2e.json");
    await expect(overview.uptime).toHaveText(/^\d+(s|m \d\ds)$/);
    // No WASM ran, so the page says it refreshes itself and hides controls that need scripts.
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
    await expect(overview.staticNotice).toBeVisible();
    await expect(overview.refresh).toBeHidden();
    await expect(overview.liveStatus).toBeHidden();
  });

  test("an unknown page is a clear 404", async ({ page, consoleErrors }) => {
    // Chromium logs the 404 document itself as a failed resource load.
    consoleErrors.expect(/status of 404/);
    const response = await page.goto("/no/such/page");
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
  });
});
