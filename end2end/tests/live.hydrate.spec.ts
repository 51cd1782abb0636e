import { test, expect, hydrated } from "./fixtures/test";
import type { APIRequestContext, Locator, Page } from "@playwright/test";

const PROXY = "http://127.0.0.1:3981";

/** The number a cell shows (`1 234` → 1234). */
async function numberIn(cell: Locator): Promise<number> {
  return Number((await cell.innerText()).replace(/[^0-9]/g, ""));
}

/** Marks an element, so the test can tell later whether the page kept it or rebuilt it. */
async function mark(element: Locator) {
  await element.evaluate((node) => ((node as HTMLElement & { __kept?: boolean }).__kept = true));
}

async function kept(element: Locator): Promise<boolean> {
  return element.evaluate((node) => (node as HTMLElement & { __kept?: boolean }).__kept === true);
}

async function send(request: APIRequestContext, path: string, count: number) {
  for (let i = 0; i < count; i++) {
    expect((await request.get(`${PROXY}${path}?n=${i}`)).status()).toBe(200);
  }
}

test("routes & backends follow the traffic live: counts, rate and status per target, in place", async ({
  page,
  request,
}) => {
  await page.goto("/routes");
  await hydrated(page);
  const card = page.locator('[data-testid="route"][data-route="e2e-api"]');
  const requests = card.getByTestId("route-requests");
  const before = await numberIn(requests);
  const row = card.locator('[data-testid="target-row"][data-target="http://127.0.0.1:3990"]');
  await mark(card);
  await mark(row);

  await send(request, `/api/routes-live-${Date.now()}`, 6);
  // Pushed once a second: no reload, no navigation.
  await expect.poll(() => numberIn(requests), { timeout: 3_000 }).toBeGreaterThanOrEqual(before + 6);
  await expect(card.getByTestId("route-rps")).not.toHaveText("0.00/s");
  await expect(row.getByTestId("target-status")).toContainText("2xx");
  await expect(row.getByTestId("target-rps")).not.toHaveText("0.00/s");
  expect(await kept(card), "the route's card is updated, not rebuilt").toBe(true);
  expect(await kept(row), "the target's row is updated, not rebuilt").toBe(true);
});

test("the health grid's last check and failure count follow the checks live", async ({ page }) => {
  await page.goto("/");
  await hydrated(page);
  const tile = page.locator('[data-testid="target-tile"][data-target="http://127.0.0.1:3990"]');
  const lastCheck = tile.getByTestId("tile-last-check");
  const first = await lastCheck.innerText();
  // Checks run every 500 ms and the time is shown to the second.
  await expect(lastCheck).not.toHaveText(first, { timeout: 3_000 });
  await expect(tile.getByTestId("tile-failures")).toHaveText("0");
});

/**
 * Times (ms) at which the page changed the element's subtree, with changes less than 50 ms apart
 * counted as one render (one flush may touch the DOM in several microtasks).
 */
async function watchRenders(page: Page, selector: string) {
  await page.evaluate((selector) => {
    const w = window as unknown as { __renders: number[] };
    w.__renders = [];
    new MutationObserver(() => {
      const now = performance.now();
      const last = w.__renders[w.__renders.length - 1];
      if (last === undefined || now - last >= 50) w.__renders.push(now);
    }).observe(document.querySelector(selector)!, { childList: true, subtree: true, characterData: true });
  }, selector);
}

test("a busy gateway's updates are coalesced: at most 4 renders a second", async ({ page, request }) => {
  const path = `/api/coalesce-${Date.now()}`;
  await page.goto(`/requests?path=${encodeURIComponent(path)}`);
  await hydrated(page);
  await watchRenders(page, '[data-testid="requests-table"] tbody');
  // About 3 s of steady traffic from 8 clients: the server publishes a batch every 100 ms.
  const until = Date.now() + 3_000;
  let sent = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        expect((await request.get(`${PROXY}${path}`)).status()).toBe(200);
        sent++;
      }
    }),
  );
  await expect(page.getByTestId("request-row").first()).toBeVisible();
  const renders: number[] = await page.evaluate(() => (window as unknown as { __renders: number[] }).__renders);
  console.log(`${sent} requests in 3 s → ${renders.length} renders of the live list at ${renders.map((t) => t.toFixed(0)).join(", ")} ms`);
  expect(sent).toBeGreaterThan(100);
  expect(renders.length).toBeGreaterThanOrEqual(3);
  // Flushes start at least 250 ms apart. What the observer sees also includes each render's own
  // work, which varies by a few ms, so: no two renders closer than 200 ms (without coalescing
  // they would follow the server's 100 ms batches), and at most 4 a second over the whole run.
  const gaps = renders.slice(1).map((t, i) => t - renders[i]);
  expect(Math.min(...gaps)).toBeGreaterThanOrEqual(200);
  const seconds = (renders[renders.length - 1] - renders[0]) / 1_000;
  expect(renders.length - 1).toBeLessThanOrEqual(4 * seconds);
});

test("a tab kept open under traffic stays bounded: rows and heap stop growing", async ({ page, request }) => {
  test.setTimeout(60_000);
  const path = `/api/long-run-${Date.now()}`;
  await page.goto(`/requests?path=${encodeURIComponent(path)}`);
  await hydrated(page);
  const cdp = await page.context().newCDPSession(page);
  const heap = async () => {
    await cdp.send("HeapProfiler.collectGarbage");
    return (await cdp.send("Runtime.getHeapUsage")).usedSize;
  };
  const nodes = () => page.evaluate(() => document.getElementsByTagName("*").length);
  const rows = page.getByTestId("request-row");
  /** Sends `count` requests, 20 at a time; resolves once the last one is listed. */
  const burst = async (count: number) => {
    let last = "";
    for (let i = 0; i < count; i += 20) {
      const sent = await Promise.all(Array.from({ length: 20 }, () => request.get(`${PROXY}${path}`)));
      last = sent[sent.length - 1].headers()["x-request-id"];
    }
    await expect(page.locator(`[data-request-id="${last}"]`)).toBeVisible();
  };
  // Past the live list's bound (the newest 200 requests) first, then twice as much again.
  await burst(400);
  const warm = { heap: await heap(), nodes: await nodes(), rows: await rows.count() };
  await burst(800);
  const after = { heap: await heap(), nodes: await nodes(), rows: await rows.count() };
  console.log(`after 400 requests: ${JSON.stringify(warm)}; after 1 200: ${JSON.stringify(after)}`);
  // Other tests' traffic shares the live list, so it may hold fewer of ours, never more than 200.
  expect(warm.rows).toBeLessThanOrEqual(200);
  expect(after.rows).toBeLessThanOrEqual(200);
  expect(after.nodes).toBeLessThanOrEqual(warm.nodes + (after.rows - warm.rows) * 20 + 50);
  // The JS heap keeps no per-request garbage; WASM memory is bounded by the lists' caps.
  expect(after.heap).toBeLessThan(warm.heap + 2_000_000);
});
