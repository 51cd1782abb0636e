import { defineConfig } from "@playwright/test";
import * as path from "node:path";
import { CHROMIUM_ARGS, CHROMIUM_PATH } from "./tests/fixtures/chromium";

// The release binary built by `build_release` in scripts/env.sh (scripts/test.sh passes its path).
const binary = process.env.GATEWATCH_BIN ?? path.resolve(__dirname, "../target/server-release/gatewatch");
const dashboardPort = 3901;
// Where the shared gateway's config (fixtures/gatewatch.e2e.json, `history.path`) keeps its
// request history. Removed before the gateway starts: every run begins with an empty history, so
// nothing left by an earlier run (its requests, their `seq`s, its rollups) shows in this one.
const historyDir = path.resolve(__dirname, ".e2e-history");

export default defineConfig({
  testDir: "./tests",
  fullyParallel: true,
  // A `test.only` left in a spec would silently skip the rest of the suite, on CI or not.
  forbidOnly: true,
  retries: 0,
  workers: 2,
  timeout: 30_000,
  expect: { timeout: 5_000 },
  reporter: [["list"]],
  outputDir: "test-results",
  use: {
    baseURL: `http://127.0.0.1:${dashboardPort}`,
    trace: "retain-on-failure",
    launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
  },
  projects: [
    // Live behaviour once the WASM has hydrated the page.
    { name: "hydrated", testMatch: /.*\.hydrate\.spec\.ts/, use: { javaScriptEnabled: true } },
    // The server-rendered page alone, as a browser without JavaScript sees it.
    { name: "no-js", testMatch: /.*\.ssr\.spec\.ts/, use: { javaScriptEnabled: false } },
  ],
  webServer: [
    {
      // Real upstreams on loopback for the routes in the e2e config (see support/upstreams.mjs).
      command: "node end2end/support/upstreams.mjs",
      cwd: path.resolve(__dirname, ".."),
      url: "http://127.0.0.1:3990/health",
      reuseExistingServer: false,
      timeout: 20_000,
      stdout: "pipe",
    },
    {
      command: `rm -rf "${historyDir}" && exec "${binary}" --config end2end/fixtures/gatewatch.e2e.json`,
      cwd: path.resolve(__dirname, ".."),
      url: `http://127.0.0.1:${dashboardPort}/`,
      reuseExistingServer: false,
      timeout: 60_000,
      stdout: "pipe",
      stderr: "pipe",
    },
  ],
});
