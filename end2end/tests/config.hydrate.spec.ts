import { readFileSync, readdirSync } from "node:fs";
import { test, expect } from "./fixtures/test";
import { SpawnedGateway, freePorts } from "./fixtures/spawned";

test.describe("config page", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("an edit is checked, applied, written to config.json and kept as a version", async ({ page }) => {
    const [proxy, dashboard] = await freePorts(2);
    const config = {
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [{ name: "first", path: "/first/*", targets: ["http://127.0.0.1:3990"] }],
    };
    server = new SpawnedGateway(dashboard, config);
    await server.start();
    const before = readFileSync(server.configPath, "utf8");

    await page.goto(`${server.url}/config`);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    await expect(page.getByTestId("config-routes")).toContainText("first");
    await page.getByTestId("edit-json").click();
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
    await expect(page.getByTestId("config-routes")).toContainText("added-in-ui");

    // Rolling back is reviewed first: the version is checked and its diff shown; nothing changes
    // until Apply.
    await page.getByTestId("config-review-version").click();
    await expect(page.getByTestId("config-reviewing")).toBeVisible();
    await expect(page.getByTestId("config-valid")).toBeVisible();
    await expect(page.getByTestId("config-diff")).toContainText('-       "name": "added-in-ui"');
    await expect(editor).toHaveValue(before);
    expect(readFileSync(server.configPath, "utf8")).toBe(text);
    await page.getByTestId("config-apply").click();
    await expect.poll(() => readFileSync(server!.configPath, "utf8")).toBe(before);
    await expect(page.getByTestId("apply-result")).toHaveAttribute("data-applied", "true");
    await expect(page.getByTestId("config-routes")).not.toContainText("added-in-ui");
    await expect(page.getByTestId("config-version")).toHaveCount(2);
    const rolledBack = await (await fetch(`${server.url}/api/routes`)).json();
    expect(rolledBack.map((r: { name: string }) => r.name)).toEqual(["first"]);
  });

  test("routes and targets edited in the form: errors at the field, then applied", async ({ page }) => {
    const [proxy, dashboard] = await freePorts(2);
    const config = {
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      routes: [
        { name: "first", path: "/first/*", strip_prefix: true, targets: ["http://127.0.0.1:3990"] },
      ],
    };
    server = new SpawnedGateway(dashboard, config);
    await server.start();
    const before = readFileSync(server.configPath, "utf8");

    await page.goto(`${server.url}/config`);
    await expect(page.locator("body")).toHaveAttribute("data-hydrated", "true");
    const route = page.getByTestId("form-route").first();
    await expect(route.getByTestId("route-name")).toHaveValue("first");

    // A bad URL: Check puts the error beside that input; nothing is written.
    await route.getByTestId("add-target").click();
    const added = route.getByTestId("form-target").nth(1);
    await added.getByTestId("target-url").fill("not a url");
    await page.getByTestId("config-check").click();
    await expect(added.getByTestId("field-error")).toContainText("absolute http(s) URL");
    await expect(added.getByTestId("target-url")).toHaveAttribute("aria-invalid", "true");
    await expect(route.getByTestId("form-target").first().getByTestId("field-error")).toHaveCount(0);
    await expect(page.getByTestId("config-apply")).toBeDisabled();
    expect(readFileSync(server.configPath, "utf8")).toBe(before);

    // Fixed, with weights and a new route: checked, applied, in the file.
    await added.getByTestId("target-url").fill("http://127.0.0.1:3991");
    await added.getByTestId("target-weight").fill("3");
    await route.getByTestId("form-target").first().getByTestId("target-weight").fill("1");
    await route.getByTestId("route-strategy").selectOption("weighted_round_robin");
    await page.getByTestId("add-route").click();
    const second = page.getByTestId("form-route").nth(1);
    await second.getByTestId("route-name").fill("second");
    await second.getByTestId("route-path").fill("/second");
    await second.getByTestId("target-url").fill("http://127.0.0.1:3992");
    await page.getByTestId("config-check").click();
    await expect(page.getByTestId("config-valid")).toBeVisible();
    await expect(page.getByTestId("field-error")).toHaveCount(0);
    await page.getByTestId("config-apply").click();
    await expect(page.getByTestId("apply-result")).toHaveAttribute("data-applied", "true");

    const written = JSON.parse(readFileSync(server.configPath, "utf8"));
    expect(written.routes).toEqual([
      {
        name: "first",
        path: "/first/*",
        strip_prefix: true,
        targets: [
          { url: "http://127.0.0.1:3990", weight: 1 },
          { url: "http://127.0.0.1:3991", weight: 3 },
        ],
        strategy: "weighted_round_robin",
      },
      { name: "second", path: "/second", targets: ["http://127.0.0.1:3992"] },
    ]);
    expect(written.dashboard).toEqual(config.dashboard);
    const routes = await (await fetch(`${server.url}/api/routes`)).json();
    expect(routes.map((r: { name: string }) => r.name).sort()).toEqual(["first", "second"]);
  });
});
