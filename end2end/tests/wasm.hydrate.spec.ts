// The WASM client is split into one lazily loaded chunk per page (src/app/pages.rs, built with
// `cargo leptos build --split --precompress`): a page's first load fetches the main module and
// that page's chunks only, at most 400 KB brotli in all, and another page's code arrives when
// the user first navigates there.
import { test, expect, hydrated } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";
import type { APIRequestContext, Page } from "@playwright/test";
import { cpSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";

const PROXY = "http://127.0.0.1:3981";
const BUDGET_BYTES = 400_000;

/** The page's own chunk, as `cargo leptos --split` names it after the route type. */
const CHUNK_OF_PAGE: Record<string, RegExp> = {
  overview: /\/split___overview_route_view_\d+\.wasm$/,
  requests: /\/split___requests_route_view_\d+\.wasm$/,
  request_detail: /\/split___request_detail_route_view_\d+\.wasm$/,
  routes: /\/split___routes_route_view_\d+\.wasm$/,
  models: /\/split___models_route_view_\d+\.wasm$/,
  logs: /\/split___logs_route_view_\d+\.wasm$/,
  alerts: /\/split___alerts_route_view_\d+\.wasm$/,
  config: /\/split___config_route_view_\d+\.wasm$/,
};

/** Every `.wasm` URL the page requests from now on. */
function recordWasm(page: Page): Set<string> {
  const urls = new Set<string>();
  page.on("request", (request) => {
    if (new URL(request.url()).pathname.endsWith(".wasm")) urls.add(request.url());
  });
  return urls;
}

/** What a browser that accepts brotli downloads for `url`: the precompressed file's length. */
async function brotliBytes(request: APIRequestContext, url: string): Promise<number> {
  const response = await request.get(url, { headers: { "accept-encoding": "br" } });
  expect(response.status(), url).toBe(200);
  expect(response.headers()["content-encoding"], `${url} is served precompressed`).toBe("br");
  return Number(response.headers()["content-length"]);
}

function pagesOf(urls: Set<string>): string[] {
  return Object.entries(CHUNK_OF_PAGE)
    .filter(([, chunk]) => [...urls].some((url) => chunk.test(url)))
    .map(([name]) => name);
}

test("each page's first load fetches its own code only, at most 400 KB of WASM (brotli)", async ({
  page,
  request,
}) => {
  const sent = await request.get(`${PROXY}/api/wasm-budget`);
  const id = sent.headers()["x-request-id"];
  const pages: [string, string][] = [
    ["/", "overview"],
    ["/requests", "requests"],
    [`/requests/${id}`, "request_detail"],
    ["/routes", "routes"],
    ["/models", "models"],
    ["/logs", "logs"],
    ["/alerts", "alerts"],
    ["/config", "config"],
  ];
  const sizes: Record<string, number> = {};
  for (const [path, name] of pages) {
    await page.goto("about:blank");
    const wasm = recordWasm(page);
    await page.goto(path);
    await hydrated(page);
    expect(pagesOf(wasm), `${path} loads its own page's code and no other's`).toEqual([name]);
    let total = 0;
    for (const url of wasm) total += await brotliBytes(request, url);
    sizes[path.startsWith("/requests/") ? "/requests/:id" : path] = total;
    expect(total, `${path}: WASM downloaded on first load (brotli bytes)`).toBeLessThanOrEqual(
      BUDGET_BYTES,
    );
  }
  console.log(`first-load WASM, brotli bytes per page: ${JSON.stringify(sizes)}`);
});

test("a page's code is fetched when the user first navigates to it, and the page works", async ({
  page,
  request,
}) => {
  const wasm = recordWasm(page);
  await page.goto("/");
  await hydrated(page);
  expect(pagesOf(wasm)).toEqual(["overview"]);

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Requests" }).click();
  await expect(page).toHaveURL(/\/requests$/);
  await expect(page.getByRole("heading", { name: "Requests", exact: true })).toBeVisible();
  expect(pagesOf(wasm)).toEqual(["overview", "requests"]);
  // The page is live, not just painted: a request sent now shows up in its log.
  const sent = await request.get(`${PROXY}/api/lazy-${Date.now()}`);
  const id = sent.headers()["x-request-id"];
  await expect(page.locator(`[data-request-id="${id}"]`)).toBeVisible();
});

test("a page's code that cannot be fetched for a moment is retried, and the navigation completes", async ({
  page,
  consoleErrors,
}) => {
  // Chromium reports each refused fetch in the console.
  consoleErrors.expect(/Failed to load resource|ERR_CONNECTION_REFUSED/);
  await page.goto("/");
  await hydrated(page);
  let refused = 0;
  await page.route(CHUNK_OF_PAGE.logs, async (route) => {
    if (refused < 2) {
      refused += 1;
      await route.abort("connectionrefused");
    } else {
      await route.continue();
    }
  });

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Logs" }).click();
  await expect(page.getByRole("heading", { name: "Logs", exact: true })).toBeVisible();
  expect(refused).toBe(2);
  // The client survived: it still takes live updates.
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-state", "live");
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Overview" }).click();
  await expect(page.getByRole("heading", { name: "Overview", exact: true })).toBeVisible();
});

test.describe("a gateway restarted while the page is open", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("code of the same build is loaded into the page; code of a newer build makes it reload", async ({
    page,
  }) => {
    // A copy of the built site stands for a newer build: its files are newer.
    const newer = mkdtempSync(path.join(tmpdir(), "gatewatch-site-"));
    cpSync(path.resolve(__dirname, "../../target/site"), newer, { recursive: true });
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
    }));
    await server.start();
    await page.goto(server.url);
    await hydrated(page);
    const nav = page.getByRole("navigation", { name: "Main" });
    const live = page.getByTestId("live-status");
    // A context destroyed mid-call is a navigation under way: not the same document.
    const sameDocument = () =>
      page.evaluate(() => (window as { marked?: boolean }).marked === true).catch(() => false);
    await page.evaluate(() => ((window as { marked?: boolean }).marked = true));

    await server.stop();
    await server.start();
    await expect(live).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    await nav.getByRole("link", { name: "Logs" }).click();
    await expect(page.getByRole("heading", { name: "Logs", exact: true })).toBeVisible();
    expect(await sameDocument(), "same build: the page's code is loaded without a reload").toBe(true);

    await server.stop();
    await server.start({ LEPTOS_SITE_ROOT: newer });
    await expect(live).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    await nav.getByRole("link", { name: "Models" }).click();
    await expect.poll(sameDocument, { message: "newer build: the page reloads" }).toBe(false);
    await hydrated(page);
    await expect(page.getByRole("heading", { name: "Models", exact: true })).toBeVisible();
  });
});
