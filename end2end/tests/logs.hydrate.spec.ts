// The Logs page's level filter and search in a hydrated page: the form re-reads the list, and
// lines pushed live are filtered the same way.
import { test, expect, hydrated } from "./fixtures/test";
import { LoggingGateway, listedLines, submitLogFilters } from "./fixtures/gateway-log";

test.describe("logs page, hydrated", () => {
  let server: LoggingGateway | undefined;
  test.afterEach(() => server?.kill());

  test("lines pushed live are filtered by level and search as the page's own are", async ({ page }) => {
    server = await LoggingGateway.start();
    const token = `live${Date.now()}`;
    const route = `alpha-${token}`;
    await page.goto(`${server.url}/logs?level=warn&search=${token}`);
    await hydrated(page);
    await page.evaluate(() => ((window as { marked?: boolean }).marked = true));
    await expect(page.getByTestId("log-line")).toHaveCount(0);

    // Oldest first: an error that does not match the search, an info line that matches it but
    // is below the level, then a warning and an error that match both.
    await server.rejectTarget(`other-${Date.now()}`);
    await server.addRouteToNowhere(route);
    await server.rejectTarget(`nope-${token}`);
    // Pushed in order: once the last line is shown, every earlier one has reached the page.
    await expect(page.getByTestId("log-line").filter({ hasText: `nope-${token}` })).toBeVisible();
    const lines = await listedLines(page);
    expect(lines.map((l) => l.level)).toEqual(["ERROR", "WARN"]);
    expect(lines[1].message).toContain("target unhealthy");
    expect(lines[1].message).toContain(route);
    expect(await page.evaluate(() => (window as { marked?: boolean }).marked), "pushed, not reloaded").toBe(true);
  });

  test("the form re-reads the list with the new filters, and live lines follow them", async ({ page }) => {
    server = await LoggingGateway.start();
    const token = `form${Date.now()}`;
    const first = `alpha-${token}`;
    await server.addRouteToNowhere(first); // INFO, WARN
    await server.rejectTarget(`nope-${token}`); // ERROR

    await page.goto(`${server.url}/logs`);
    await hydrated(page);
    const levels = async () => (await listedLines(page)).map((l) => l.level);
    await submitLogFilters(page, "error", token);
    await expect.poll(levels).toEqual(["ERROR"]);
    await submitLogFilters(page, "info", first);
    await expect.poll(levels).toEqual(["WARN", "INFO"]);
    expect((await listedLines(page)).every((l) => l.message.includes(first))).toBe(true);

    // Lines pushed after a submit follow the filters it set: of a second route's info and
    // warning, only the warning is listed.
    await submitLogFilters(page, "warn", token);
    await expect.poll(levels).toEqual(["ERROR", "WARN"]);
    await hydrated(page);
    const second = `beta-${token}`;
    await server.addRouteToNowhere(second);
    await expect(page.getByTestId("log-line").filter({ hasText: second })).toHaveCount(1);
    const lines = await listedLines(page);
    expect(lines.map((l) => l.level)).toEqual(["WARN", "ERROR", "WARN"]);
    expect(lines[0].message).toContain(second);
  });
});
