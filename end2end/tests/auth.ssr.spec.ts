import { test, expect } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";
import { ADMIN, VIEWER, authSection, signIn } from "./fixtures/accounts";

// Without JavaScript: the sign-in page is a plain form, and everything after it server-rendered.
test.describe("signing in without JavaScript", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("a page asks for sign-in, comes back after it, shows who is signed in, and signs out", async ({ page, consoleErrors }) => {
    // The answer to a wrong password is the sign-in page with status 401, which Chromium logs.
    consoleErrors.expect(/status of 401/);
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [],
      auth: authSection(),
    }));
    await server.start();

    await page.goto(`${server.url}/requests?status=5xx`);
    await expect(page).toHaveURL(/\/login\?next=/);
    // A wrong password: the same page, saying so, nothing more.
    await signIn(page, { name: ADMIN.name, password: "wrong" });
    await expect(page.getByTestId("login-error")).toHaveText("Wrong user name or password.");
    await signIn(page, ADMIN);
    await expect(page).toHaveURL(`${server.url}/requests?status=5xx`);
    await expect(page.getByTestId("session-user")).toContainText("alice");
    await expect(page.getByTestId("session-user")).toContainText("admin");

    await page.getByTestId("logout").click();
    await expect(page).toHaveURL(/\/login$/);
    await page.goto(`${server.url}/`);
    await expect(page).toHaveURL(/\/login\?next=%2F|\/login\?next=\//);
  });

  test("a viewer sees the config read-only, with the reason", async ({ page }) => {
    server = await SpawnedGateway.onFreePorts(({ proxy, dashboard }) => ({
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [],
      auth: authSection(),
    }));
    await server.start();
    await page.goto(`${server.url}/config`);
    await signIn(page, VIEWER);
    await expect(page).toHaveURL(`${server.url}/config`);
    await expect(page.getByTestId("config-read-only")).toContainText("viewer");
    await expect(page.getByTestId("config-apply")).toBeDisabled();
  });
});
