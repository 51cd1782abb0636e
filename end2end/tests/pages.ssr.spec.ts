import { test, expect } from "./fixtures/test";

const PROXY = "http://127.0.0.1:3981";

test.describe("every page, server-rendered (JavaScript off)", () => {
  test("each page shows its data without any script", async ({ page, request }) => {
    // A request through the proxy, so the lists have something in them.
    const sent = await request.get(`${PROXY}/api/ssr-check`, {
      headers: { authorization: "Bearer e2e-s3cret-key", "x-e2e-note": "visible-value" },
    });
    expect(sent.status()).toBe(200);
    const id = sent.headers()["x-request-id"];
    // The request is recorded when the recorder next drains the proxy's events (every 20 ms);
    // a page rendered before that would not list it, and without JavaScript it never updates.
    await expect
      .poll(async () => (await request.get(`/api/requests/${id}`)).status(), {
        message: "the request is recorded",
      })
      .toBe(200);

    await page.goto("/requests");
    await expect(page.getByRole("heading", { name: "Requests" })).toBeVisible();
    await expect(page.locator(`[data-request-id="${id}"]`)).toBeVisible();
    // Filters are a plain GET form: applying one works without JavaScript.
    await page.getByTestId("filter-path").fill("/api/ssr-check");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect(page).toHaveURL(/path=%2Fapi%2Fssr-check/);
    await expect(page.getByTestId("request-row")).not.toHaveCount(0);
    for (const row of await page.getByTestId("request-row").all()) {
      await expect(row.locator("td.path")).toHaveText("/api/ssr-check");
    }

    await page.goto(`/requests/${id}`);
    await expect(page.getByTestId("request-detail")).toContainText("e2e-api");
    await expect(page.getByTestId("request-detail")).toContainText(id);
    // Headers both ways, the credential's scheme shown and its value never.
    const requestHeaders = page.getByTestId("request-headers");
    await expect(requestHeaders.locator("tr", { hasText: "x-e2e-note" })).toContainText("visible-value");
    await expect(requestHeaders.locator("tr", { hasText: "authorization" })).toContainText("Bearer [redacted]");
    await expect(page.getByTestId("response-headers").locator("tr", { hasText: "x-request-id" })).toContainText(id);
    expect(await page.content()).not.toContain("e2e-s3cret-key");

    await page.goto("/routes");
    await expect(page.locator('[data-route="e2e-api"]')).toBeVisible();
    // e2e-api's two targets, e2e-stoppable's and e2e-alerting's.
    await expect(page.getByTestId("target-row")).toHaveCount(4);

    await page.goto("/models");
    await expect(page.getByRole("heading", { name: "Models" })).toBeVisible();
    await expect(page.getByText("No LLM traffic yet")).toBeVisible();

    await page.goto("/alerts");
    await expect(page.getByRole("heading", { name: "Alerts", exact: true })).toBeVisible();
    await expect(page.getByTestId("alert-rule")).not.toHaveCount(0);

    await page.goto("/logs");
    await expect(page.getByRole("heading", { name: "Logs" })).toBeVisible();
    await expect(page.getByTestId("log-line").first()).toBeVisible();

    await page.goto("/");
    await expect(page.getByTestId("health-grid")).toBeVisible();
    await expect(page.getByTestId("chart-rps")).toBeVisible();
    await expect(page.getByTestId("card-totals")).not.toHaveText("0");
  });

  test("bad filters are reported, not crashed on", async ({ page }) => {
    await page.goto("/requests?status=abc");
    await expect(page.getByTestId("load-error")).toContainText("status");
  });
});
