// Screenshots of every page at phone, laptop and wide widths in both themes, for a person to look
// at (`SCREENSHOTS=1 npx playwright test screenshots`); written to test-results/screenshots/.
import { test, expect } from "./fixtures/test";

const PAGES = ["/", "/requests", "/routes", "/models", "/logs", "/alerts", "/config"];
const WIDTHS = [390, 1024, 1600];

test.skip(!process.env.SCREENSHOTS, "set SCREENSHOTS=1 to take screenshots");

for (const theme of ["light", "dark"] as const) {
  test(`screenshots, ${theme} theme`, async ({ page, request }) => {
    test.setTimeout(120_000);
    for (let i = 0; i < 40; i++) await request.get(`http://127.0.0.1:3981/api/items/${i}`);
    await request.get("http://127.0.0.1:3981/nowhere");
    const detailed = await request.get("http://127.0.0.1:3981/api/detail", {
      headers: { authorization: "Bearer not-shown", "x-tenant": "acme" },
    });
    const detail = `/requests/${detailed.headers()["x-request-id"]}`;
    await page.emulateMedia({ colorScheme: theme });
    for (const width of WIDTHS) {
      await page.setViewportSize({ width, height: 900 });
      for (const url of [...PAGES, detail]) {
        await page.goto(url);
        await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
        const name = url === "/" ? "overview" : url === detail ? "request-detail" : url.slice(1);
        await page.screenshot({ path: `test-results/screenshots/${name}-${width}-${theme}.png`, fullPage: true });
      }
    }
  });
}
