// "Older requests" on the request log, server-rendered: with more requests than a page holds,
// the link pages back through the history, keeping the filters in the URL.
import { test } from "./fixtures/test";
import { pageBack, sendInOrder } from "./fixtures/request-log";

test("Older requests pages back: older rows, none of the previous page's, the filters kept", async ({ page, request }) => {
  const path = `/api/older-ssr-${Date.now()}`;
  const newestFirst = await sendInOrder(request, path, 12);
  await page.goto(`/requests?path=${encodeURIComponent(path)}&limit=5`);
  // 12 requests, 5 a page.
  await pageBack(page, path, 5, [newestFirst.slice(0, 5), newestFirst.slice(5, 10), newestFirst.slice(10)]);
});
