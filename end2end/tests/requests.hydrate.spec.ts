// "Older requests" on the request log in a hydrated page: the link pages back through the
// history, keeping the filters in the URL, and an older page lists older requests only.
import { test, hydrated } from "./fixtures/test";
import { pageBack, sendInOrder } from "./fixtures/request-log";

test("Older requests pages back: older rows, none of the previous page's, the filters kept", async ({ page, request }) => {
  // Once hydrated, an older page (`cursor`) must not take live rows: the newest requests, read
  // when the live socket opens, would otherwise be listed on top of its older ones.
  const path = `/api/older-${Date.now()}`;
  const newestFirst = await sendInOrder(request, path, 12);
  await page.goto(`/requests?path=${encodeURIComponent(path)}&limit=5`);
  await hydrated(page);
  await pageBack(page, path, 5, [newestFirst.slice(0, 5), newestFirst.slice(5, 10), newestFirst.slice(10)]);
});
