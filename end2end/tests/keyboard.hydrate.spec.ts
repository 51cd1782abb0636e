// Keyboard use, the way someone without a mouse works the dashboard: Tab order, visible focus,
// the skip link, and the main actions (navigate, filter, open a request, switch theme) done with
// keys only.
import type { Page } from "@playwright/test";
import { test, expect } from "./fixtures/test";

const PROXY = "http://127.0.0.1:3981";

type Focused = { name: string; tag: string; id: string; href: string | null; outline: boolean };

/** What has the focus: its accessible-ish name, and whether a focus ring is drawn around it. */
async function focused(page: Page): Promise<Focused> {
  return page.evaluate(() => {
    const el = document.activeElement as HTMLElement | null;
    if (!el || el === document.body) return { name: "", tag: "body", id: "", href: null, outline: false };
    const style = getComputedStyle(el);
    const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) > 0;
    const name = (el.getAttribute("aria-label") ?? el.textContent ?? "").trim().replace(/\s+/g, " ");
    return { name, tag: el.tagName.toLowerCase(), id: el.id, href: el.getAttribute("href"), outline };
  });
}

/** Presses Tab until `wanted` has the focus (at most `limit` times); returns every stop on the way. */
async function tabTo(page: Page, wanted: (f: Focused) => boolean, limit = 60): Promise<Focused[]> {
  const stops: Focused[] = [];
  for (let i = 0; i < limit; i++) {
    await page.keyboard.press("Tab");
    const now = await focused(page);
    stops.push(now);
    if (wanted(now)) return stops;
  }
  throw new Error(`not reached by Tab in ${limit} presses; stops: ${stops.map((s) => s.name || s.tag).join(" → ")}`);
}

async function hydrated(page: Page) {
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
}

test("the skip link comes first and moves the focus to the page's content", async ({ page }) => {
  await page.goto("/routes");
  await hydrated(page);
  await page.keyboard.press("Tab");
  const first = await focused(page);
  expect(first).toMatchObject({ name: "Skip to content", href: "#main", outline: true });
  await expect(page.getByRole("link", { name: "Skip to content" })).toBeInViewport();
  await page.keyboard.press("Enter");
  expect(await page.evaluate(() => document.activeElement?.id)).toBe("main");
  // The next Tab continues inside the content, not back at the top bar.
  await page.keyboard.press("Tab");
  expect(await page.evaluate(() => !!document.activeElement?.closest("main"))).toBe(true);
});

test("the top bar is in reading order and every stop shows its focus", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  const stops = await tabTo(page, (f) => f.name.startsWith("Switch to"));
  // The Alerts link carries the count of firing alerts when there are any ("Alerts1 firing").
  expect(stops.map((s) => s.name.replace(/^Alerts\d+ firing$/, "Alerts"))).toEqual([
    "Skip to content",
    "Gatewatch",
    "Overview",
    "Requests",
    "Routes & backends",
    "Models",
    "Logs",
    "Alerts",
    "Config",
    stops[stops.length - 1].name,
  ]);
  for (const stop of stops) expect(stop.outline, `focus ring on ${stop.name}`).toBe(true);

  // The theme switch works from the keyboard too.
  const before = await page.evaluate(() => document.documentElement.dataset.theme ?? "");
  await page.keyboard.press("Enter");
  await expect
    .poll(() => page.evaluate(() => document.documentElement.dataset.theme ?? ""))
    .not.toBe(before);
});

test("filter the request log and open a request with the keyboard only", async ({ page, request }) => {
  const path = `/api/keyboard-${Date.now()}`;
  const sent = await request.get(`${PROXY}${path}`);
  const id = sent.headers()["x-request-id"];

  await page.goto("/");
  await hydrated(page);
  await tabTo(page, (f) => f.name === "Requests" && f.href === "/requests");
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(/\/requests$/);
  await hydrated(page);

  const toFilter = await tabTo(page, (f) => f.id === "filter-path", 80);
  for (const stop of toFilter) expect(stop.outline, `focus ring on ${stop.name || stop.id}`).toBe(true);
  await page.keyboard.type(path);
  await page.keyboard.press("Enter");
  await expect.poll(() => new URL(page.url()).searchParams.get("path")).toBe(path);
  await hydrated(page);

  await tabTo(page, (f) => f.href === `/requests/${id}`, 80);
  await page.keyboard.press("Enter");
  await expect(page).toHaveURL(new RegExp(`/requests/${id}$`));
  await expect(page.getByText(path).first()).toBeVisible();
});
