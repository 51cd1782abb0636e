import { test, expect } from "./fixtures/test";
import { chartShape } from "./fixtures/charts";

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

  test("?range= and &compare=1 are rendered by the server: the period's buckets and the previous period", async ({
    page,
    request,
  }) => {
    expect((await request.get(`http://127.0.0.1:3981/api/history-ssr-${Date.now()}`)).status()).toBe(200);
    await expect
      .poll(async () => (await (await request.get("/api/stats?period=24h")).json()).current.requests, {
        message: "the request is in the history's rollups",
      })
      .toBeGreaterThan(0);
    await page.goto("/?range=24h&compare=1");
    await expect(page.getByTestId("range-picker").getByRole("link", { name: "24 h", exact: true })).toHaveAttribute(
      "aria-current",
      "true",
    );
    await expect(page.getByTestId("compare-toggle")).toContainText("✓ Compare with previous");
    // Read by polling: without JavaScript the page reloads itself every 5 s, and a read that
    // meets a reload is tried again.
    for (const chart of ["chart-rps", "chart-latency", "chart-errors"]) {
      await expect
        .poll(async () => {
          const shape = await chartShape(page, chart);
          const previous = shape.lines.filter((l) => l.classes.includes("line-previous"));
          return {
            // 24 h in 5-minute buckets.
            slices: shape.sliceSpans.length,
            spans: [...new Set(shape.sliceSpans)],
            points: shape.lines.map((l) => l.heights.length),
            previous: previous.length,
            legend: shape.legend.some((l) => l.classes.includes("line-previous") && l.text.includes("previous period")),
          };
        }, { message: chart })
        .toEqual({
          slices: 288,
          spans: [300_000],
          points: Array(chart === "chart-latency" ? 4 : 2).fill(288),
          previous: 1,
          legend: true,
        });
    }
    await expect
      .poll(async () => Math.max(...(await chartShape(page, "chart-rps")).lines[0].heights), {
        message: "the requests the history holds",
      })
      .toBeGreaterThan(0);

    // Without compare, no second line.
    await page.goto("/?range=24h");
    await expect
      .poll(async () => (await chartShape(page, "chart-rps")).lines.map((l) => l.classes))
      .toEqual(["chart-line line-1"]);
  });
});

