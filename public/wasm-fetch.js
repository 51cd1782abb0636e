// Makes loading the dashboard's WASM survive a dashboard that is briefly unreachable. Each page's
// code is a chunk fetched on first use (src/app/pages.rs); a fetch of a `/pkg/*.wasm` file that
// fails (restart, upgrade, flaky network) is retried with backoff (0.5 s doubling to 10 s, like
// the live socket) instead of failing the navigation, which would stop the client. A chunk the
// server no longer has (a newer build is running) reloads the page once, which then gets the new
// build; a second 404 within a minute is retried like a network failure.
(function () {
  var fetchOnce = window.fetch.bind(window);
  var RELOADED_AT = "gatewatch-wasm-reloaded-at";

  function isWasm(input) {
    try {
      var url = new URL(input instanceof Request ? input.url : String(input), location.href);
      return (
        url.origin === location.origin &&
        url.pathname.indexOf("/pkg/") === 0 &&
        /\.wasm$/.test(url.pathname)
      );
    } catch (e) {
      return false;
    }
  }

  function reloadOnce() {
    try {
      var last = Number(sessionStorage.getItem(RELOADED_AT) || 0);
      if (Date.now() - last < 60000) return false;
      sessionStorage.setItem(RELOADED_AT, String(Date.now()));
    } catch (e) {
      return false;
    }
    location.reload();
    return true;
  }

  window.fetch = function (input, init) {
    if (!isWasm(input)) return fetchOnce(input, init);
    var delay = 500;
    return new Promise(function (resolve) {
      function attempt() {
        fetchOnce(input, init).then(
          function (response) {
            if (response.ok) return resolve(response);
            if (response.status === 404 && reloadOnce()) return;
            retry();
          },
          retry,
        );
      }
      function retry() {
        setTimeout(attempt, delay);
        delay = Math.min(delay * 2, 10000);
      }
      attempt();
    });
  };
})();
