import { readFileSync, readdirSync } from "node:fs";
import { test, expect } from "./fixtures/test";
import { SpawnedGateway } from "./fixtures/spawned";

test.describe("config page", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("an edit is checked, applied, written to config.json and kept as a version", async ({ page }) => {
    const config = {
      listen: "127.0.0.1:3984",
      dashboard: { listen: "127.0.0.1:3904" },
      routes: [{ name: "first", path: "/first/*", targets: ["http://127.0.0.1:3990"] }],
    };
    server = new SpawnedGateway(3904, config);
    await server.start();
    const before = readFileSync(server.configPath, "utf8");

    await page.goto(`${server.url}/config`);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await expect(page.getByTestId("config-routes")).toContainText("first");
    const editor = page.getByTestId("config-text");
    await expect(editor).toHaveValue(before);

    // An invalid edit: the error names the field, nothing can be applied, the file is untouched.
    const invalid = structuredClone(config);
    invalid.routes[0].targets = ["not a url"];
    await editor.fill(JSON.stringify(invalid, null, 2));
    await page.getByTestId("config-check").click();
    await expect(page.getByTestId("config-error").first()).toContainText("routes[0].targets[0]");
    await expect(page.getByTestId("config-apply")).toBeDisabled();
    expect(readFileSync(server.configPath, "utf8")).toBe(before);

    // A valid edit: a diff, then apply.
    const valid = structuredClone(config);
    valid.routes.push({ name: "added-in-ui", path: "/added/*", targets: ["http://127.0.0.1:3991"] });
    const text = JSON.stringify(valid, null, 2) + "\n";
    await editor.fill(text);
    await page.getByTestId("config-check").click();
    await expect(page.getByTestId("config-valid")).toBeVisible();
    await expect(page.getByTestId("config-diff")).toContainText('+       "name": "added-in-ui"');
    await page.getByTestId("config-apply").click();
    await expect(page.getByTestId("apply-result")).toHaveAttribute("data-applied", "true");

    expect(readFileSync(server.configPath, "utf8")).toBe(text);
    const versions = readdirSync(`${server.configPath}.versions`);
    expect(versions).toHaveLength(1);
    expect(readFileSync(`${server.configPath}.versions/${versions[0]}`, "utf8")).toBe(before);
    const routes = await (await fetch(`${server.url}/api/routes`)).json();
    expect(routes.map((r: { name: string }) => r.name)).toContain("added-in-ui");
    await expect(page.getByTestId("config-version")).toHaveCount(1);
  });
});
