// The Logs page's level filter and search as a plain GET form: the server renders the narrowed
// list.
import { test, expect } from "./fixtures/test";
import { LoggingGateway, listedLines, submitLogFilters } from "./fixtures/gateway-log";

test.describe("logs page, server-rendered (JavaScript off)", () => {
  let server: LoggingGateway | undefined;
  test.afterEach(() => server?.kill());

  test("the level filter and the search narrow the list, from the form", async ({ page }) => {
    server = await LoggingGateway.start();
    const token = `ssr${Date.now()}`;
    const route = `alpha-${token}`;
    const bad = `nope-${token}`;
    const other = `other-${Date.now()}`;
    await server.rejectTarget(other); // ERROR, not ours
    await server.addRouteToNowhere(route); // INFO, then WARN
    await server.rejectTarget(bad); // ERROR

    // Read by polling: without JavaScript the page reloads itself every 5 s, and a read that
    // meets a reload is tried again.
    /** Each listed line's level, and which of `texts` its message contains. */
    const listed = (...texts: string[]) => async () =>
      (await listedLines(page)).map((l) => [l.level, ...texts.filter((t) => l.message.includes(t))].join(" "));

    await page.goto(`${server.url}/logs`);
    // Unfiltered: every level from info up, the other error among them.
    await expect
      .poll(async () => {
        const lines = await listedLines(page);
        return {
          levels: [...new Set(lines.map((l) => l.level))].sort(),
          ours: lines.filter((l) => l.message.includes(token)).length,
          other: lines.filter((l) => l.message.includes(other)).map((l) => l.level),
        };
      })
      .toEqual({ levels: ["ERROR", "INFO", "WARN"], ours: 3, other: ["ERROR"] });

    // Errors only, and of those the ones with our text: not the other error.
    await submitLogFilters(page, "error", token);
    await expect.poll(listed(bad)).toEqual([`ERROR ${bad}`]);
    await expect(page.getByTestId("log-level")).toHaveValue("error");
    await expect(page.getByTestId("log-search")).toHaveValue(token);

    await submitLogFilters(page, "warn", token);
    await expect.poll(listed(bad, route)).toEqual([`ERROR ${bad}`, `WARN ${route}`]);

    await submitLogFilters(page, "info", token);
    await expect.poll(listed(bad, route, `config applied: routes added: ${route}`)).toEqual([
      `ERROR ${bad}`,
      `WARN ${route}`,
      `INFO ${route} config applied: routes added: ${route}`,
    ]);

    // The search narrows by text: the route's lines, not the rejected target's.
    await submitLogFilters(page, "info", route);
    await expect.poll(listed(route)).toEqual([`WARN ${route}`, `INFO ${route}`]);
  });
});
