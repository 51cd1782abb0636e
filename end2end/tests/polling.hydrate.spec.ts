import { test, expect } from "./fixtures/test";

const PROXY = "http://127.0.0.1:3981";

test("without the live socket the page polls: connection shown as down, data still current", async ({ page, request }) => {
  // Every attempt to open the live socket is refused by closing it at once.
  await page.routeWebSocket("**/api/live", (socket) => socket.close());
  await page.goto("/routes");
  await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-state", "reconnecting");

  const requests = page.locator('[data-testid="route"][data-route="e2e-api"]').getByTestId("route-requests");
  const before = Number((await requests.innerText()).replace(/[^0-9]/g, ""));
  for (let i = 0; i < 3; i++) expect((await request.get(`${PROXY}/api/polled-${Date.now()}`)).status()).toBe(200);
  // Pages re-read every 5 s while the socket is down.
  await expect
    .poll(async () => Number((await requests.innerText()).replace(/[^0-9]/g, "")), { timeout: 8_000 })
    .toBeGreaterThanOrEqual(before + 3);
  await expect(page.getByTestId("live-status")).toHaveAttribute("data-state", "reconnecting");
});
