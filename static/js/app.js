// Pierre: the small enhancements htmx cannot do. Plain JS, no framework, no
// inline script anywhere (the CSP forbids it).
//
// Loaded without `defer` from <head>, so `html.js` is set before the first
// paint (no flash of the expanded phone menu); everything else listens on
// `document`, so nothing needs the DOM to be parsed yet.
//
// Sections: theme · phone menu · dialogs · dismiss · copy · toasts · htmx (progress
// bar, CSRF header, error toasts) · file drop zone.
(() => {
  "use strict";
  const root = document.documentElement;
  root.classList.add("js");

  const closest = (event, selector) =>
    event.target instanceof Element ? event.target.closest(selector) : null;

  // --- Theme -------------------------------------------------------------
  // The theme buttons are submit buttons of a form that POSTs to /theme (the
  // no-JS path). With JS we set the same cookie and flip data-theme in place.
  function setTheme(button) {
    const theme = button.value;
    if (theme !== "light" && theme !== "dark") return false;
    document.cookie = `theme=${theme}; Path=/; Max-Age=31536000; SameSite=Lax`;
    root.dataset.theme = theme;
    // The pressed button is now hidden: keep keyboard focus on its twin.
    const twin = document.querySelector(`.theme-btn:not([value="${theme}"])`);
    if (twin && document.activeElement === button) twin.focus();
    return true;
  }

  // --- Phone menu ----------------------------------------------------------
  function toggleMenu(button, open) {
    const nav = document.getElementById(button.getAttribute("aria-controls") || "");
    if (!nav) return;
    button.setAttribute("aria-expanded", String(open));
    nav.classList.toggle("is-open", open);
  }

  // --- Dismissible alerts and toasts ----------------------------------------
  function dismiss(el) {
    el.classList.add("is-leaving");
    const reduce = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
    window.setTimeout(() => el.remove(), reduce ? 0 : 200);
  }

  document.addEventListener("click", (event) => {
    const themeButton = closest(event, ".theme-btn");
    if (themeButton) {
      if (setTheme(themeButton)) event.preventDefault();
      return;
    }
    const menuButton = closest(event, ".nav-toggle");
    if (menuButton) {
      toggleMenu(menuButton, menuButton.getAttribute("aria-expanded") !== "true");
      return;
    }
    const opener = closest(event, "[data-dialog-open]");
    if (opener) {
      const dialog = document.getElementById(opener.dataset.dialogOpen || "");
      if (dialog instanceof HTMLDialogElement && !dialog.open) dialog.showModal();
      return;
    }
    const closer = closest(event, "[data-dialog-close]");
    if (closer) {
      closer.closest("dialog")?.close();
      return;
    }
    const copier = closest(event, "[data-copy]");
    if (copier instanceof HTMLElement) {
      copyText(copier.dataset.copy || "");
      return;
    }
    const toaster = closest(event, "[data-toast]");
    if (toaster instanceof HTMLElement) {
      const d = toaster.dataset;
      toast(d.toast || "info", d.toastTitle || "", d.toastMessage || "");
      return;
    }
    const dismisser = closest(event, "[data-dismiss]");
    if (dismisser) {
      const target = dismisser.closest(".alert");
      if (target) dismiss(target);
      return;
    }
    // A click on a modal dialog's backdrop lands on the dialog itself.
    if (event.target instanceof HTMLDialogElement && event.target.open) {
      const box = event.target.getBoundingClientRect();
      const inside = event.clientX >= box.left && event.clientX <= box.right &&
        event.clientY >= box.top && event.clientY <= box.bottom;
      if (!inside) event.target.close();
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const menuButton = document.querySelector('.nav-toggle[aria-expanded="true"]');
    if (menuButton instanceof HTMLElement) {
      toggleMenu(menuButton, false);
      menuButton.focus();
    }
  });

  // --- Copy to clipboard ------------------------------------------------------
  // <button data-copy="some-id"> copies the text of #some-id and says so.
  function copyText(id) {
    const source = document.getElementById(id);
    const text = source ? (source.textContent || "").trim() : "";
    if (!text || !navigator.clipboard) {
      toast("warning", "Could not copy", "Select the text and copy it by hand.");
      return;
    }
    navigator.clipboard.writeText(text).then(
      () => toast("success", "Copied", text),
      () => toast("warning", "Could not copy", "Select the text and copy it by hand."),
    );
  }

  // --- Toasts ---------------------------------------------------------------
  // Cloned from <template id="toast-template"> in base.html (built from the
  // alert component), appended to the role="status" region #toasts.
  const KINDS = ["success", "info", "warning", "error"];

  // toast(kind, title, message): also usable as window.Pierre.toast, and from
  // any element with data-toast="kind" data-toast-title data-toast-message.
  function toast(kind, title, message) {
    const region = document.getElementById("toasts");
    const template = document.getElementById("toast-template");
    if (!region || !(template instanceof HTMLTemplateElement)) return;
    const el = template.content.firstElementChild?.cloneNode(true);
    if (!(el instanceof HTMLElement)) return;
    const tone = KINDS.includes(kind) ? kind : "info";
    el.className = `alert toast tone-${tone}`;
    el.querySelector("use")?.setAttribute("href", `#i-${tone}`);
    const titleEl = el.querySelector(".alert-title");
    const messageEl = el.querySelector(".alert-message");
    if (titleEl) titleEl.textContent = title;
    if (messageEl) messageEl.textContent = message;
    region.append(el);
    // Errors stay until dismissed; the rest leave after a while unless the
    // pointer or focus is on them.
    if (kind !== "error") {
      const leave = () => {
        if (el.matches(":hover, :focus-within")) window.setTimeout(leave, 2000);
        else dismiss(el);
      };
      window.setTimeout(leave, 6000);
    }
  }
  window.Pierre = { toast };

  // --- htmx wiring ----------------------------------------------------------
  // Global progress bar: shown while any htmx request is in flight.
  let active = 0;
  function progress(delta) {
    active = Math.max(0, active + delta);
    document.getElementById("progress")?.classList.toggle("htmx-request", active > 0);
  }
  document.addEventListener("htmx:beforeSend", () => progress(1));
  document.addEventListener("htmx:afterRequest", () => progress(-1));

  // CSRF: every htmx request carries the page's token as X-CSRF-Token.
  document.addEventListener("htmx:configRequest", (event) => {
    const meta = document.querySelector('meta[name="csrf-token"]');
    const token = meta?.getAttribute("content");
    if (token && event.detail?.headers) event.detail.headers["X-CSRF-Token"] = token;
  });

  // Error responses are the error page's `content` block: show its title and
  // message (as text, never as HTML) in a toast instead of dropping them.
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail?.xhr;
    let title = "Request failed";
    let message = "The request could not be completed. Please try again.";
    if (xhr && typeof xhr.responseText === "string" && xhr.responseText) {
      const doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const h = doc.querySelector(".error-page h1, h1");
      const m = doc.querySelector(".error-message");
      const id = doc.querySelector(".error-request-id code");
      if (h?.textContent) title = h.textContent.trim();
      if (m?.textContent) message = m.textContent.trim();
      if (id?.textContent) message += ` (request id ${id.textContent.trim()})`;
    }
    toast("error", title, message);
  });
  document.addEventListener("htmx:sendError", () => {
    toast("error", "Could not reach Pierre", "Check your connection and try again.");
  });
  document.addEventListener("htmx:timeout", () => {
    toast("error", "Pierre took too long to answer", "Please try again in a moment.");
  });

  // --- File drop zone -------------------------------------------------------
  // The zone is a <label> around a file input, so click and keyboard work
  // natively; this adds dropping files onto it and lists the chosen names.
  document.addEventListener("dragover", (event) => {
    const zone = closest(event, ".dropzone");
    if (!zone) return;
    event.preventDefault();
    zone.classList.add("is-dragover");
  });
  document.addEventListener("dragleave", (event) => {
    const zone = closest(event, ".dropzone");
    if (zone && !(event.relatedTarget instanceof Node && zone.contains(event.relatedTarget))) {
      zone.classList.remove("is-dragover");
    }
  });
  document.addEventListener("drop", (event) => {
    const zone = closest(event, ".dropzone");
    if (!zone) return;
    event.preventDefault();
    zone.classList.remove("is-dragover");
    const input = zone.querySelector('input[type="file"]');
    if (input instanceof HTMLInputElement && event.dataTransfer?.files.length) {
      input.files = event.dataTransfer.files;
      input.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || input.type !== "file") return;
    const list = input.closest(".dropzone")?.querySelector(".dropzone-files");
    if (!list) return;
    list.replaceChildren(...Array.from(input.files || [], (file) => {
      const li = document.createElement("li");
      li.textContent = `${file.name} (${Math.max(1, Math.round(file.size / 1024))} KB)`;
      return li;
    }));
  });
})();

// Upload progress: forms with data-upload-progress="ID" show the percentage sent
// in the <progress id="ID"> while htmx uploads them.
document.addEventListener("htmx:xhr:progress", (event) => {
  const form = event.target && event.target.closest ? event.target.closest("[data-upload-progress]") : null;
  if (!form || !event.detail || !event.detail.lengthComputable) return;
  const bar = document.getElementById(form.dataset.uploadProgress);
  if (!bar) return;
  const percent = Math.round((event.detail.loaded / event.detail.total) * 100);
  bar.hidden = false;
  bar.value = percent;
  bar.textContent = `${percent}%`;
});

// Destructive buttons ask first: <button data-confirm="Delete this?">.
document.addEventListener("click", (event) => {
  const button = event.target && event.target.closest ? event.target.closest("[data-confirm]") : null;
  if (button && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
