import { test, expect, hydrated } from "./fixtures/test";
import { checkIntervalMs } from "./fixtures/e2e-config";
import { SpawnedGateway } from "./fixtures/spawned";
import type { APIRequestContext, Locator, Page } from "@playwright/test";

const PROXY = "http://127.0.0.1:3981";
/** How often the shared gateway probes the e2e-api route's targets, as its config says. */
const API_CHECK_INTERVAL_MS = checkIntervalMs("e2e-api");

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
  // The time is shown to the second and checks are further apart: the next check changes it once
  // it is on the page (routes are pushed each second). Two intervals leave room for a slow push.
  await expect(lastCheck).not.toHaveText(first, { timeout: 2 * API_CHECK_INTERVAL_MS + 2_000 });
  await expect(tile.getByTestId("tile-failures")).toHaveText("0");
});

/** Starts recording when the page applies live events (its `gatewatch:live-flush` marks). */
async function watchFlushes(page: Page) {
  await page.evaluate(() => {
    const w = window as unknown as { __flushes: number[] };
    w.__flushes = [];
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) if (entry.name === "gatewatch:live-flush") w.__flushes.push(entry.startTime);
    }).observe({ type: "mark" });
  });
}

/**
 * For the tests that flood the gateway. The live list is bounded (the newest 200 requests, at most
 * 100 per 100 ms batch, the rest counted as omitted), so a flood running beside any test that
 * watches the list, this file's other flood included, pushes that test's requests out of it.
 * They run alone.
 */
const FLOOD = { lock: "-exclusive-" };

test("a busy gateway's updates are coalesced: at most 4 renders a second", FLOOD, async ({ page, request }) => {
  const path = `/api/coalesce-${Date.now()}`;
  await page.goto(`/requests?path=${encodeURIComponent(path)}`);
  await hydrated(page);
  await watchFlushes(page);
  // About 3 s of steady traffic from 8 clients: the server publishes a batch every 100 ms.
  const until = Date.now() + 3_000;
  let sent = 0;
  let last = "";
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (Date.now() < until) {
        const response = await request.get(`${PROXY}${path}`);
        expect(response.status()).toBe(200);
        last = response.headers()["x-request-id"];
        sent++;
      }
    }),
  );
  // Widgets render only when events are applied: the live list shows the last request.
  await expect(page.locator(`[data-request-id="${last}"]`)).toBeVisible();
  const flushes: number[] = await page.evaluate(() => (window as unknown as { __flushes: number[] }).__flushes);
  console.log(`${sent} requests in 3 s → ${flushes.length} flushes at ${flushes.map((t) => t.toFixed(0)).join(", ")} ms`);
  expect(sent).toBeGreaterThan(100);
  // Without coalescing there would be one per 100 ms batch (and one per metrics tick).
  expect(flushes.length).toBeGreaterThanOrEqual(8);
  for (const start of flushes) {
    const inSecond = flushes.filter((t) => t >= start && t < start + 1_000).length;
    expect(inSecond, `flushes in the second from ${start.toFixed(0)} ms`).toBeLessThanOrEqual(4);
  }
});

test("a tab kept open under traffic stays bounded: rows and heap stop growing", FLOOD, async ({ page, request }) => {
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

test.describe("a freshly started gateway, its request log open before the first request ever", () => {
  // A gateway of its own with an empty history (in its own temporary directory): the first
  // request it serves is `seq` 0, the number that must not be mistaken for "nothing rendered".
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  async function freshGateway() {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [{ name: "first", path: "/api/*", targets: ["http://127.0.0.1:3990"] }],
    }));
    await server.start();
    return server;
  }

  /** Sends one request through `server`'s proxy with an id of the test's choosing. */
  async function send(server: SpawnedGateway, id: string) {
    const sent = await fetch(`${server.proxyUrl}/api/first-ever`, { headers: { "x-request-id": id } });
    expect(sent.status).toBe(200);
    expect(sent.headers.get("x-request-id")).toBe(id);
  }

  /** That request was the gateway's very first: the case under test, not some later one. */
  async function expectFirstEver(server: SpawnedGateway, id: string) {
    await expect
      .poll(async () => (await fetch(`${server.url}/api/requests/${id}`)).status, { message: "the request is recorded" })
      .toBe(200);
    const recorded = await (await fetch(`${server.url}/api/requests/${id}`)).json();
    expect(recorded.seq, "the first request a fresh gateway serves").toBe(0);
  }

  test("the first request appears live", async ({ page }) => {
    const gateway = await freshGateway();
    await page.goto(`${gateway.url}/requests`);
    await hydrated(page);
    await expect(page.getByTestId("no-requests")).toBeVisible();
    await expect(page.getByTestId("request-row")).toHaveCount(0);
    await page.evaluate(() => ((window as { marked?: boolean }).marked = true));

    const id = `first-ever-${Date.now()}`;
    await send(gateway, id);
    // Pushed by the socket; the page must keep it.
    await expect(page.locator(`[data-testid="request-row"][data-request-id="${id}"]`)).toBeVisible();
    await expect(page.getByTestId("request-row")).toHaveCount(1);
    await expect(page.getByTestId("no-requests")).toHaveCount(0);
    expect(await page.evaluate(() => (window as { marked?: boolean }).marked), "shown without a reload").toBe(true);
    await expectFirstEver(gateway, id);
  });

  test("paused before the first request: it waits, and Resume shows it", async ({ page }) => {
    const gateway = await freshGateway();
    await page.goto(`${gateway.url}/requests`);
    await hydrated(page);
    await expect(page.getByTestId("no-requests")).toBeVisible();
    await page.getByTestId("pause").click();
    await expect(page.getByTestId("live-note")).toContainText("Paused · 0 new requests waiting");

    const id = `first-paused-${Date.now()}`;
    await send(gateway, id);
    await expect(page.getByTestId("live-note")).toContainText("Paused · 1 new request waiting");
    const row = page.locator(`[data-testid="request-row"][data-request-id="${id}"]`);
    await expect(row).toHaveCount(0);
    await page.getByTestId("pause").click();
    await expect(row).toBeVisible();
    await expectFirstEver(gateway, id);
  });
});
