import { test, expect, hydrated } from "./fixtures/test";
import { SpawnedGateway, freePorts } from "./fixtures/spawned";

/** A chat completion through the gateway (the demo LLM refuses about 1 % with 429: retried). */
async function chat(proxy: string, model: string, stream: boolean) {
  for (let attempt = 0; attempt < 5; attempt++) {
    const response = await fetch(`${proxy}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream, messages: [{ role: "user", content: "Status?" }] }),
    });
    const body = await response.text();
    if (response.status !== 429) {
      expect(response.status).toBe(200);
      return body;
    }
  }
  throw new Error("the demo LLM refused five requests in a row");
}

test.describe("models", () => {
  let server: SpawnedGateway | undefined;
  test.afterEach(() => server?.kill());

  test("LLM traffic shows up live per model, and with JavaScript off", async ({ page, browser }) => {
    const [proxy, dashboard, llm] = await freePorts(3);
    const upstream = `http://127.0.0.1:${llm}`;
    server = new SpawnedGateway(dashboard, {
      listen: `127.0.0.1:${proxy}`,
      dashboard: { listen: `127.0.0.1:${dashboard}` },
      history: { enabled: false },
      routes: [{ name: "llm", path: "/v1/*", llm: true, targets: [upstream] }],
      demo: { upstreams: [{ name: "llm", listen: `127.0.0.1:${llm}`, kind: "llm" }] },
    });
    const proxyUrl = `http://127.0.0.1:${proxy}`;
    await server.start();
    await page.goto(`${server.url}/models`);
    await hydrated(page);
    await expect(page.getByText("No LLM traffic yet")).toBeVisible();

    // A plain answer and a streamed one, for the same model.
    await chat(proxyUrl, "e2e-model", false);
    const streamed = await chat(proxyUrl, "e2e-model", true);
    expect(streamed).toContain("data: [DONE]");
    const row = page.locator('[data-testid="model-row"][data-model="e2e-model"]');
    // Pushed: the page was not reloaded.
    await expect(row.getByTestId("model-requests")).toHaveText("2", { timeout: 3_000 });
    const tokensOutText = await row.getByTestId("tokens-out").innerText();
    const digits = (text: string) => Number(text.replace(/[^0-9]/g, ""));
    const tokensIn = digits(await row.getByTestId("tokens-in").innerText());
    const tokensOut = digits(tokensOutText);
    expect(tokensIn).toBeGreaterThan(0);
    expect(tokensOut).toBeGreaterThan(0);
    await expect(page.getByTestId("model-matrix")).toContainText(upstream);

    // The same numbers as the API, and as the server renders them for a browser without script.
    const models = await (await fetch(`${server.url}/api/models`)).json();
    const model = models.find((m: { model: string }) => m.model === "e2e-model");
    expect([model.requests, model.input_tokens, model.output_tokens]).toEqual([2, tokensIn, tokensOut]);
    const noScript = await browser.newContext({ javaScriptEnabled: false });
    try {
      const plain = await noScript.newPage();
      await plain.goto(`${server.url}/models`);
      const plainRow = plain.locator('[data-testid="model-row"][data-model="e2e-model"]');
      await expect(plainRow.getByTestId("tokens-out")).toHaveText(tokensOutText);
      await expect(plain.getByTestId("model-matrix")).toContainText(upstream);
    } finally {
      await noScript.close();
    }
  });
});
