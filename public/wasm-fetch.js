// Makes loading the dashboard's WASM survive a dashboard that is briefly unreachable or was
// upgraded. Each page's code is a chunk fetched on first use (src/app/pages.rs). A fetch of a
// `/pkg/*.wasm` file that fails (restart, flaky network) is retried with backoff (0.5 s doubling
// to 10 s, like the live socket) instead of failing the navigation, which would stop the client.
// A chunk the server no longer has, or one of another build than the page's (the server names
// its build in the `x-gatewatch-site` header; a tab left open across an upgrade must not mix new
// code into the old page), reloads the page once — or loads the page the user was going to —
// which then gets the new build. Within a minute of such a reload, a 404 is retried like a
// network failure and a chunk of another build is taken as it is.
(function () {
  var fetchOnce = window.fetch.bind(window);
  var RELOADED_AT = "gatewatch-wasm-reloaded-at";
  var BUILD_HEADER = "x-gatewatch-site";
  // The build of the page's first WASM file (its main module).
  var pageBuild = null;
  // The link the user followed last: a page's code is fetched when the user first goes there,
  // before the address changes, so a reload for a newer build goes there instead.
  var followed = null;
  document.addEventListener(
    "click",
    function (event) {
      var link = event.target instanceof Element ? event.target.closest("a[href]") : null;
      if (link && link.origin === location.origin) followed = { href: link.href, at: Date.now() };
    },
    true,
  );

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
    if (followed && Date.now() - followed.at < 10000) location.assign(followed.href);
    else location.reload();
    return true;
  }

  window.fetch = function (input, init) {
    if (!isWasm(input)) return fetchOnce(input, init);
    var delay = 500;
    return new Promise(function (resolve) {
      function attempt() {
        fetchOnce(input, init).then(
          function (response) {
            if (response.ok) {
              var build = response.headers.get(BUILD_HEADER);
              if (pageBuild === null) pageBuild = build;
              else if (build !== pageBuild && reloadOnce()) return;
              return resolve(response);
            }
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
