// WCAG AA checks with axe-core on every page, in both themes: colour contrast and the rest of
// axe's WCAG 2 A/AA rules (labels, names, landmarks, keyboard-reachable controls).
import AxeBuilder from "@axe-core/playwright";
import { test, expect } from "./fixtures/test";

const PAGES = ["/", "/requests", "/routes", "/models", "/logs", "/alerts", "/config"];

for (const theme of ["light", "dark"] as const) {
  test(`no WCAG A/AA violations, ${theme} theme`, async ({ page, request }) => {
    test.setTimeout(60_000);
    // Rows of every status class are on the requests page, whatever else ran before: their
    // tinted backgrounds are where contrast is tightest.
    for (const status of [404, 503]) await request.get(`http://127.0.0.1:3981/api/a11y?status=${status}`);
    await request.get("http://127.0.0.1:3981/no-route-for-this");
    const sent = await request.get("http://127.0.0.1:3981/api/a11y");
    const pages = [...PAGES, `/requests/${sent.headers()["x-request-id"]}`];
    await page.emulateMedia({ colorScheme: theme });
    const found: string[] = [];
    for (const url of pages) {
      await page.goto(url);
      await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
      const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa"]).analyze();
      for (const v of results.violations) {
        found.push(`${url}: ${v.id} (${v.nodes.length}) ${v.nodes.slice(0, 3).map((n) => n.target.join(" ") + " " + (n.failureSummary ?? "").split("\n").slice(1, 2).join("")).join(" | ")}`);
      }
    }
    expect(found, found.join("\n")).toEqual([]);
  });
}
