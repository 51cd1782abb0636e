import { test, expect } from "./fixtures/test";

test.describe("overview, hydrated", () => {
  test("hydrates and the theme toggle works and is remembered", async ({ overview, page }) => {
    await overview.goto();
    await overview.waitForHydration();
    const before = await overview.effectiveTheme();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const backgroundBefore = await background();

    await overview.themeToggle.click();
    const after = before === "dark" ? "light" : "dark";
    await expect(page.locator("html")).toHaveAttribute("data-theme", after);
    expect(await background()).not.toEqual(backgroundBefore);

    await page.reload();
    await expect(page.locator("html")).toHaveAttribute("data-theme", after);
    await overview.waitForHydration();
  });

  test("refresh calls the overview server function and shows its answer", async ({ overview, page }) => {
    await overview.goto();
    await overview.waitForHydration();
    const renderedAt = await overview.generatedAt.getAttribute("datetime");

    const response = page.waitForResponse((r) => r.url().endsWith("/api/fn/overview"));
    await overview.refresh.click();
    const answer = await response;
    expect(answer.status()).toBe(200);
    const { status } = await answer.json();

    await expect(overview.generatedAt).not.toHaveAttribute("datetime", renderedAt ?? "");
    const shownAt = await overview.generatedAt.getAttribute("datetime");
    expect(Date.parse(shownAt ?? "")).toBe(Date.parse(status.generated_at));
    await expect(overview.proxyListen).toHaveText(status.proxy_listen);
  });

  test("the live socket pushes uptime ticks into the page", async ({ overview }) => {
    await overview.goto();
    await overview.waitForHydration();
    await expect(overview.liveStatus).toHaveAttribute("data-state", "live");
    const first = await overview.uptimeSeconds();
    // Ticks arrive once a second: within a few seconds the uptime shown must advance.
    await expect.poll(() => overview.uptimeSeconds(), { timeout: 4_000 }).toBeGreaterThan(first);
  });
});
