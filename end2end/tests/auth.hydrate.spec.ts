import { readFileSync } from "node:fs";
import { test, expect, hydrated } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";
import { ADMIN, VIEWER, authSection, signIn } from "./fixtures/accounts";

// With JavaScript: the same sign-in, then the hydrated dashboard under the strict CSP (the
// fixture fails the test on any console error, CSP violations included).
test.describe("accounts in the browser", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("an admin signs in, applies a config edit and finds it in the audit log", async ({ page }) => {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [{ name: "first", path: "/first/*", targets: ["http://127.0.0.1:3990"] }],
      auth: authSection(),
    }));
    await server.start();

    await page.goto(`${server.url}/config`);
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(`${server.url}/config`);
    await hydrated(page);
    await expect(page.getByTestId("session-user")).toContainText("alice");

    await page.getByTestId("edit-json").click();
    const edited = JSON.parse(readFileSync(server.configPath, "utf8"));
    edited.routes.push({ name: "added-by-alice", path: "/added/*", targets: ["http://127.0.0.1:3991"] });
    await page.getByTestId("config-text").fill(JSON.stringify(edited, null, 2) + "\n");
    await page.getByTestId("config-check").click();
    await expect(page.getByTestId("config-valid")).toBeVisible();
    await page.getByTestId("config-apply").click();
    await expect(page.getByTestId("apply-result")).toHaveAttribute("data-applied", "true");

    const entry = page.getByTestId("audit-entry").first();
    await expect(entry).toContainText("alice");
    await expect(entry).toContainText("config.apply");
    await expect(entry).toContainText("routes added: added-by-alice");
    await entry.getByTestId("audit-diff-toggle").click();
    await expect(entry.getByTestId("audit-diff")).toContainText("added-by-alice");

    // The kept versions say who wrote them: the file as alice left it, the one before by hand.
    await expect(page.getByTestId("config-author")).toHaveText("file written by alice");
    await expect(page.getByTestId("config-version-author").first()).toHaveText("edited by hand");
  });

  test("a viewer's config page is read-only and says why", async ({ page }) => {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [],
      auth: authSection(),
    }));
    await server.start();
    await page.goto(`${server.url}/config`);
    await signIn(page, VIEWER);
    await hydrated(page);
    await expect(page.getByTestId("session-user")).toContainText("viewer");
    await expect(page.getByTestId("config-read-only")).toContainText("viewer");
    await expect(page.getByTestId("config-apply")).toBeDisabled();
    await expect(page.getByTestId("config-check")).toBeDisabled();
    await expect(page.getByTestId("audit")).toHaveCount(0);
  });
});
