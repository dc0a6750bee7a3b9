/* IDMX: keyboard focus after htmx swaps. A static file, because the Content-Security-Policy forbids
   inline script and eval (htmx's hx-on needs the latter).

   htmx already puts focus back on a control whose id is still in the page after a swap (the support
   button, the rating's radio buttons). When the control used is gone, as after a pairwise choice that
   brings a new pair, focus would fall to the page body and a keyboard or screen-reader user would have
   to start again from the top: it goes instead to the element of the new content marked
   data-focus-after-swap (the new pair's first choice). What was saved is announced by the page's live
   region (#announcer in base.html), which the server's answer fills out of band. */
(function () {
  "use strict";

  function focusLost() {
    var active = document.activeElement;
    return !active || active === document.body || !document.documentElement.contains(active);
  }

  document.addEventListener("htmx:afterSwap", function (event) {
    var root = event.target;
    if (!root || !root.querySelector || !focusLost()) {
      return;
    }
    var target = root.matches("[data-focus-after-swap]") ? root : root.querySelector("[data-focus-after-swap]");
    if (target) {
      target.focus();
    }
  });
}());
