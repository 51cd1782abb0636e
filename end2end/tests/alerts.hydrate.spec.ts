// Alerts, live: the navigation's badge, the Alerts page and the overview's request-rate chart
// follow an alert as it fires and resolves, pushed over the live socket to pages opened before
// it fired; admins silence and unsilence, viewers cannot.
import { test, expect, hydrated } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";
import { ADMIN, VIEWER, authSection, signIn } from "./fixtures/accounts";
import { AlertsPage, FIRES_FOR_MS, FIRES_THE_SHARED_RULE, RULE, fireTheRule, untilInactive } from "./fixtures/alerts-page";

test("the badge, the Alerts page and the overview follow an alert live as it fires and resolves", FIRES_THE_SHARED_RULE, async ({
  page,
  context,
  request,
}) => {
  test.setTimeout(FIRES_FOR_MS * 2 + 30_000);
  await untilInactive(request);
  const alerts = new AlertsPage(page);
  await alerts.goto();
  await hydrated(page);
  await expect(alerts.rule()).toHaveAttribute("data-state", "inactive");
  await expect(alerts.firing()).toHaveCount(0);
  await expect(alerts.badge).toBeHidden();
  const episodesBefore = await alerts.episodes().count();
  // The overview too, open before the alert fires: its chart marks the start.
  const overview = await context.newPage();
  await overview.goto("/");
  await hydrated(overview);
  const markers = overview.getByTestId("chart-rps").locator("polyline.chart-markers");
  /** Alert starts marked on the request-rate chart: one polyline, 3 points per vertical line. */
  const marked = async () =>
    (await markers.count()) === 0 ? 0 : (await markers.getAttribute("points"))!.trim().split(/\s+/).length / 3;
  const markedBefore = await marked();
  await page.evaluate(() => ((window as { marked?: boolean }).marked = true));

  await fireTheRule(request, `live-${Date.now()}`);
  // Pushed, not reloaded: the badge on every page, the page's tables, cards and timeline.
  await expect(alerts.badge).toBeVisible();
  await expect(alerts.badge).toHaveText("1");
  await expect(alerts.firing()).toBeVisible();
  await expect(alerts.firing().getByTestId("alert-value")).toHaveText("100.0% > 50.0%");
  await expect(alerts.firing()).toHaveAttribute("data-silenced", "false");
  await expect(alerts.firingCard).toHaveText("1");
  await expect(alerts.rule()).toHaveAttribute("data-state", "firing");
  await expect(alerts.rule().getByTestId("rule-value")).toHaveText("100.0%");
  await expect(alerts.episodes().first()).toHaveAttribute("data-ongoing", "true");
  await expect(alerts.episodes().first().getByTestId("episode-end")).toHaveText("firing");
  // How long it fires counts up with the clock the server ticks.
  const lasted = await alerts.firing().getByTestId("alert-for").innerText();
  await expect(alerts.firing().getByTestId("alert-for")).not.toHaveText(lasted);
  await expect(overview.getByTestId("alerts-badge")).toHaveText("1");
  await expect.poll(marked, { message: "a marker where it fired" }).toBe(markedBefore + 1);
  await expect(overview.getByTestId("chart-rps").locator("li.line-markers")).toContainText("alerts fired");

  // No more failures: it resolves once its window holds none, resolve_for_s later.
  await expect(alerts.badge).toBeHidden({ timeout: FIRES_FOR_MS + 10_000 });
  await expect(alerts.firing()).toHaveCount(0);
  await expect(alerts.noFiring).toBeVisible();
  await expect(alerts.rule()).toHaveAttribute("data-state", "inactive");
  await expect(alerts.episodes()).toHaveCount(episodesBefore + 1);
  await expect(alerts.episodes().first()).toHaveAttribute("data-ongoing", "false");
  await expect(alerts.episodes().first().getByTestId("episode-end")).not.toHaveText("firing");
  await expect(overview.getByTestId("alerts-badge")).toBeHidden();
  expect(await page.evaluate(() => (window as { marked?: boolean }).marked), "the page was not reloaded").toBe(true);
  await overview.close();
});

test.describe("silences, on a gateway with accounts", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  /** A gateway of its own whose one rule fires as soon as it is evaluated. */
  async function gatewayWithAFiringRule() {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [],
      auth: authSection(),
      // The host's memory in use is always above 0 %.
      alerts: { rules: [{ name: "always", metric: "memory_percent", above: 0, severity: "warning" }] },
    }));
    await server.start();
    return server;
  }

  test("an admin silences a firing alert for a chosen time and unsilences it", async ({ page }) => {
    const gateway = await gatewayWithAFiringRule();
    await page.goto(`${gateway.url}/alerts`);
    await signIn(page, ADMIN);
    await hydrated(page);
    const alerts = new AlertsPage(page);
    const row = alerts.firing("always");
    await expect(row).toBeVisible();
    await expect(row).toHaveAttribute("data-silenced", "false");
    await expect(page.getByTestId("no-silences")).toBeVisible();

    await row.getByTestId("silence-duration").selectOption({ label: "4 h" });
    await row.getByTestId("silence-rule").click();
    await expect(row).toHaveAttribute("data-silenced", "true");
    await expect(row.getByTestId("silenced")).toBeVisible();
    const silence = page.getByTestId("silence");
    await expect(silence).toHaveCount(1);
    await expect(silence).toContainText("rule always");
    await expect(silence).toContainText(ADMIN.name);
    // Silenced for the 4 hours picked, by the server's clock.
    const silences = (await (await page.request.get(`${gateway.url}/api/alerts`)).json()).silences as {
      created_at: string;
      until: string;
    }[];
    expect(Date.parse(silences[0].until) - Date.parse(silences[0].created_at)).toBe(4 * 3_600_000);
    // Still firing, and counted: a silence only stops notifications.
    await expect(alerts.badge).toHaveText("1");

    await row.getByTestId("unsilence").click();
    await expect(row).toHaveAttribute("data-silenced", "false");
    await expect(page.getByTestId("no-silences")).toBeVisible();
    await expect(row.getByTestId("silence-rule")).toBeVisible();
  });

  test("a viewer sees the alert and no silence controls", async ({ page }) => {
    const gateway = await gatewayWithAFiringRule();
    await page.goto(`${gateway.url}/alerts`);
    await signIn(page, VIEWER);
    await hydrated(page);
    const alerts = new AlertsPage(page);
    await expect(alerts.firing("always")).toBeVisible();
    await expect(alerts.badge).toHaveText("1");
    await expect(page.getByTestId("silence-rule")).toHaveCount(0);
    await expect(page.getByTestId("unsilence")).toHaveCount(0);
    await expect(page.getByTestId("silence-route")).toHaveCount(0);
  });
});
