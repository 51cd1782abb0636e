// Request-to-browser latency: how long after a request finishes it shows in an open dashboard's
// live log. Run by bench/dashboard.sh (`BENCH=1 npx playwright test bench`); prints a JSON line.
import { test, expect, hydrated, noteWhenShown } from "./fixtures/test";

test.skip(!process.env.BENCH, "set BENCH=1 to measure");

test("request-to-browser latency", async ({ page, request }) => {
  test.setTimeout(120_000);
  await page.goto("/requests");
  await hydrated(page);
  const samples: number[] = [];
  for (let i = 0; i < 100; i++) {
    const path = `/api/bench-${i}-${Date.now()}`;
    // The page itself notes (by wall clock) when the row appears: no polling delay in the measure.
    const appeared = await noteWhenShown(page, `td.path[title="${path}"]`);
    const sent = await request.get(`http://127.0.0.1:3981${path}`);
    expect(sent.status()).toBe(200);
    const finished = Date.now();
    samples.push(Math.max(0, (await appeared()) - finished));
  }
  samples.sort((a, b) => a - b);
  const at = (q: number) => samples[Math.min(samples.length - 1, Math.floor(q * samples.length))];
  console.log(`BENCH ${JSON.stringify({ samples: samples.length, p50_ms: at(0.5), p95_ms: at(0.95), max_ms: samples[samples.length - 1] })}`);
});
