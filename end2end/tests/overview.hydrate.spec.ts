import { test, expect, hydrated } from "./fixtures/test";
import { chartShape, type ChartShape } from "./fixtures/charts";

const PROXY = "http://127.0.0.1:3981";

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

/** The history ranges: one chart point (and one clickable slice) per bucket of this width. */
const RANGES = [
  { range: "1h", label: "1 h", points: 60, bucketMs: 60_000 },
  { range: "24h", label: "24 h", points: 288, bucketMs: 300_000 },
  { range: "7d", label: "7 d", points: 168, bucketMs: 3_600_000 },
] as const;

const CHARTS = ["chart-rps", "chart-latency", "chart-errors"] as const;

/** Drawn from the live series: a slice per minute, of at most the 15 minutes (16 minutes begun). */
function isLive(chart: ChartShape): boolean {
  return chart.sliceSpans.length >= 1 && chart.sliceSpans.length <= 16 && chart.sliceSpans.every((ms) => ms === 60_000);
}

test.describe("overview, history ranges (?range=, &compare=1)", () => {
  test.beforeEach(async ({ request }) => {
    // Traffic in the history (the shared gateway's starts empty each run): a request, then its
    // minute's rollup, which the charts of every range are drawn from.
    expect((await request.get(`${PROXY}/api/history-${Date.now()}`)).status()).toBe(200);
    await expect
      .poll(async () => (await (await request.get("/api/stats?period=1h")).json()).current.requests, {
        message: "the request is in the history's rollups",
      })
      .toBeGreaterThan(0);
  });

  test("the range picker switches the charts to the history, one point per bucket", async ({ page }) => {
    await page.goto("/");
    await hydrated(page);
    const picker = page.getByTestId("range-picker");
    // Live: the last 15 minutes at most, a slice a minute, and nothing to compare with.
    expect(isLive(await chartShape(page, "chart-rps"))).toBe(true);
    await expect(page.getByTestId("compare-toggle")).toHaveCount(0);

    for (const { range, label, points, bucketMs } of RANGES) {
      await picker.getByRole("link", { name: label, exact: true }).click();
      await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe(range);
      await expect(picker.getByRole("link", { name: label, exact: true })).toHaveAttribute("aria-current", "true");
      for (const chart of CHARTS) {
        await expect
          .poll(async () => (await chartShape(page, chart)).sliceSpans, { message: `${chart} over ${range}` })
          .toEqual(Array(points).fill(bucketMs));
        const shape = await chartShape(page, chart);
        for (const line of shape.lines) expect(line.heights, `${chart} ${line.classes}`).toHaveLength(points);
        expect(shape.lines.some((l) => l.classes.includes("line-previous"))).toBe(false);
      }
      // The requests chart draws the traffic the history holds.
      const rps = await chartShape(page, "chart-rps");
      expect(Math.max(...rps.lines[0].heights), `requests over ${range}`).toBeGreaterThan(0);
    }

    await picker.getByRole("link", { name: "Live 15 m", exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.has("range")).toBe(false);
    await expect.poll(async () => isLive(await chartShape(page, "chart-rps"))).toBe(true);
    await expect(page.getByTestId("compare-toggle")).toHaveCount(0);
  });

  test("compare overlays the previous period on every chart, and stays on across ranges", async ({ page }) => {
    await page.goto("/?range=1h");
    await hydrated(page);
    const toggle = page.getByTestId("compare-toggle");
    await toggle.click();
    await expect.poll(() => new URL(page.url()).searchParams.get("compare")).toBe("1");
    expect(new URL(page.url()).searchParams.get("range")).toBe("1h");
    await expect(toggle).toContainText("✓ Compare with previous");

    const expectOverlay = async (points: number) => {
      for (const chart of CHARTS) {
        await expect
          .poll(async () => (await chartShape(page, chart)).lines.filter((l) => l.classes.includes("line-previous")).length, {
            message: `${chart}: a line for the previous period`,
          })
          .toBe(1);
        const shape = await chartShape(page, chart);
        const previous = shape.lines.find((l) => l.classes.includes("line-previous"))!;
        // On the same bucket grid as the current period.
        expect(previous.heights).toHaveLength(points);
        expect(shape.lines[0].heights).toHaveLength(points);
        const entry = shape.legend.find((l) => l.classes.includes("line-previous"));
        expect(entry?.text, `${chart}: the legend names it`).toContain("previous period");
      }
    };
    await expectOverlay(60);

    // Another range keeps the comparison: the picker's links carry the query along.
    await page.getByTestId("range-picker").getByRole("link", { name: "24 h", exact: true }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get("range")).toBe("24h");
    expect(new URL(page.url()).searchParams.get("compare")).toBe("1");
    await expect
      .poll(async () => (await chartShape(page, "chart-rps")).sliceSpans.length)
      .toBe(288);
    await expectOverlay(288);

    // And off again.
    await toggle.click();
    await expect.poll(() => new URL(page.url()).searchParams.has("compare")).toBe(false);
    for (const chart of CHARTS) {
      await expect
        .poll(async () => (await chartShape(page, chart)).lines.filter((l) => l.classes.includes("line-previous")).length)
        .toBe(0);
      expect((await chartShape(page, chart)).legend.some((l) => l.text.includes("previous period"))).toBe(false);
    }
  });
});
