// Applies the theme the user picked (see src/app/theme.rs) before the first paint.
(function () {
  try {
    var theme = localStorage.getItem("gatewatch-theme");
    if (theme === "dark" || theme === "light") {
      document.documentElement.setAttribute("data-theme", theme);
    }
  } catch (e) {
    /* storage unavailable: follow prefers-color-scheme */
  }
})();
