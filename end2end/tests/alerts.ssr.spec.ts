// Alerts without JavaScript: the server renders the Alerts page and the navigation's badge with
// the state of the moment, read-only.
import { test, expect } from "./fixtures/test";
import { AlertsPage, FIRES_THE_SHARED_RULE, RULE, fireTheRule, ruleState } from "./fixtures/alerts-page";

test.describe("alerts, server-rendered (JavaScript off)", () => {
  test("the Alerts page lists the rules with their condition and state", async ({ page }) => {
    const alerts = new AlertsPage(page);
    await alerts.goto();
    await expect(page.getByRole("heading", { name: "Alerts", exact: true })).toBeVisible();
    const row = alerts.rule();
    await expect(row).toBeVisible();
    await expect(row).toContainText(RULE.metric);
    await expect(row).toContainText(`route ${RULE.route}`);
    await expect(row).toContainText("above 50.0%");
    await expect(row.getByTestId("rule-state")).toContainText(/inactive|pending|firing/);
    // The timeline's range is a link, so it changes without scripts too.
    await page.getByTestId("alert-range").getByRole("link", { name: "7 d", exact: true }).click();
    await expect(page).toHaveURL(/\/alerts\?range=7d$/);
    await expect(page.getByRole("heading", { name: "Timeline · last 7 d" })).toBeVisible();
  });

  test("a firing alert is rendered on the Alerts page and counted in every page's badge", FIRES_THE_SHARED_RULE, async ({
    page,
    request,
  }) => {
    await fireTheRule(request, `ssr-${Date.now()}`);
    await expect.poll(() => ruleState(request), { message: `${RULE.name} fires` }).toBe("firing");

    const alerts = new AlertsPage(page);
    await alerts.goto();
    await expect(page.locator("body")).not.toHaveAttribute("data-hydrated", "true");
    await expect(alerts.firing()).toBeVisible();
    await expect(alerts.firing().getByTestId("alert-value")).toHaveText("100.0% > 50.0%");
    await expect(alerts.firing()).toContainText("critical");
    await expect(alerts.firingCard).toHaveText("1");
    await expect(alerts.rule()).toHaveAttribute("data-state", "firing");
    await expect(alerts.episodes().first()).toHaveAttribute("data-ongoing", "true");
    await expect(alerts.badge).toBeVisible();
    await expect(alerts.badge).toHaveText("1");
    // Read-only without scripts: the controls need them (this gateway has no accounts, so the
    // caller is an admin).
    await expect(alerts.firing().getByTestId("silence-rule")).toBeHidden();

    // Every page's navigation carries the count.
    await page.goto("/routes");
    await expect(page.getByTestId("alerts-badge")).toHaveText("1");
  });
});
