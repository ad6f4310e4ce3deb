// Browser check of Pierre's pages with Debian's headless Chromium.
//
//   node check.mjs BASE_URL        (scripts/browser-check installs and runs it)
//
// For every page × theme × width combination it loads the page with the theme
// both emulated (prefers-color-scheme) and chosen explicitly (the `theme`
// cookie) and fails on: an unexpected status, any console error, uncaught
// exception or CSP violation, a failed sub-resource, the theme not applied,
// Tab not reaching the skip link first, horizontal overflow at 360 px, and any
// axe-core violation of impact serious or critical. On the design page it also
// drives the JS: theme toggle, phone menu, dialog and the htmx error toast.
// When the Strava app is configured (pointing at `pierre provider-sim`, as
// ./run sets it up), it also connects Strava through the simulator's consent
// page and disconnects again; otherwise that step is skipped.
// Screenshots go to target/screenshots/<page>-<theme>-<width>.png.
// The last line is "N passed, N failed" (N counts combinations).

import { createRequire } from "node:module";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const HERE = path.dirname(fileURLToPath(import.meta.url));
const SHOTS = process.env.SCREENSHOT_DIR || path.resolve(HERE, "../../target/screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

const PAGES = [
  { name: "landing", path: "/", status: 200 },
  { name: "design", path: "/design", status: 200, interactive: true },
  { name: "error", path: "/this-page-does-not-exist", status: 404 },
  { name: "login", path: "/login", status: 200 },
  { name: "signup", path: "/signup", status: 200 },
  { name: "dashboard", path: "/dashboard", status: 200, signedIn: true },
  { name: "settings-profile", path: "/settings/profile", status: 200, signedIn: true },
  { name: "settings-security", path: "/settings/security", status: 200, signedIn: true },
  { name: "settings-account", path: "/settings/account", status: 200, signedIn: true },
  { name: "settings-thresholds", path: "/settings/thresholds", status: 200, signedIn: true },
  { name: "activities", path: "/activities", status: 200, signedIn: true },
  { name: "upload", path: "/activities/upload", status: 200, signedIn: true },
  { name: "dashboard-all", path: "/dashboard?range=all", status: 200, signedIn: true },
  { name: "calendar", path: "/calendar?month=2013-08", status: 200, signedIn: true },
  { name: "calendar-empty", path: "/calendar", status: 200, signedIn: true },
  { name: "records", path: "/records", status: 200, signedIn: true },
  { name: "connections", path: "/connections", status: 200, signedIn: true },
  { name: "settings-sharing", path: "/settings/sharing", status: 200, signedIn: true },
  { name: "coach-invitations", path: "/coach/invitations", status: 200, signedIn: true },
  // As the demo coach (`pierre seed-demo`), when it exists: the roster and an athlete's views.
  { name: "coach-roster", path: "/coach", status: 200, coach: true },
  { name: "coach-dashboard", path: null, status: 200, coach: true },
  { name: "coach-calendar", path: null, status: 200, coach: true },
  { name: "coach-activities", path: null, status: 200, coach: true },
  { name: "coach-activity", path: null, status: 200, coach: true },
  // Filled in by signUp(): the page of an activity uploaded through the form.
  { name: "activity", path: null, status: 200, signedIn: true },
];
const THEMES = ["light", "dark"];
const WIDTHS = [
  { width: 390, height: 844 },
  { width: 1280, height: 900 },
];
const NARROWEST = 360;

const base = (process.argv[2] || process.env.BASE_URL || "").replace(/\/+$/, "");
if (!/^https?:\/\//.test(base)) {
  console.error("usage: node check.mjs BASE_URL   (for example http://127.0.0.1:8090)");
  process.exit(2);
}
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
  ],
});

let passed = 0;
let failed = 0;
// One account, created through the real sign-up form, whose signed-in state
// (cookies) the signed-in pages start from.
let signedInState = null;
try {
  signedInState = await signUp();
} catch (err) {
  console.log(`FAIL  sign-up through the form: ${err && err.message ? err.message : err}`);
  failed += 1;
}
if (signedInState) {
  try {
    const outcome = await connectStrava(signedInState);
    if (outcome) {
      passed += 1;
      console.log(`ok    ${outcome}`);
    } else if (process.env.PIERRE_EXPECT_CONNECT) {
      // ./test configures the simulator: a missing Connect button is a failure there.
      console.log("FAIL  connect flow: no Connect Strava button although the simulator was configured");
      failed += 1;
    } else {
      console.log("skip  connect flow: the Strava app is not configured (start pierre provider-sim and set up the app, as ./run does)");
    }
  } catch (err) {
    console.log(`FAIL  connect Strava through the simulator: ${err && err.message ? err.message : err}`);
    failed += 1;
  }
}
// The demo coach (./test seeds the demo data), and the paths of one athlete's coach views.
let coachState = null;
try {
  coachState = await coachSignIn();
} catch (err) {
  console.log(`FAIL  demo coach sign-in: ${err && err.message ? err.message : err}`);
  failed += 1;
}
if (!coachState) {
  if (process.env.PIERRE_EXPECT_COACH) {
    console.log("FAIL  coach pages: the demo coach could not sign in although the demo was seeded");
    failed += 1;
  } else {
    console.log("skip  coach pages: no demo coach (run pierre seed-demo, as ./run does)");
  }
  for (let i = PAGES.length - 1; i >= 0; i -= 1) if (PAGES[i].coach) PAGES.splice(i, 1);
}
try {
  for (const pageSpec of PAGES) {
    for (const theme of THEMES) {
      for (const size of WIDTHS) {
        const label = `${pageSpec.name} page, ${theme} theme, ${size.width} px`;
        let problems;
        try {
          problems = await checkCombination(pageSpec, theme, size);
        } catch (err) {
          problems = [`check crashed: ${err && err.message ? err.message : err}`];
        }
        if (problems.length === 0) {
          passed += 1;
          console.log(`ok    ${label}`);
        } else {
          failed += 1;
          console.log(`FAIL  ${label}`);
          for (const problem of problems) console.log(`      - [${label}] ${problem}`);
        }
      }
    }
  }
} finally {
  await browser.close();
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);

// Connect Strava through the provider's consent page and back, then
// disconnect (so the simulator's athlete is free for the next run). Returns a
// description when done, null when the Strava app is not configured.
async function connectStrava(state) {
  const context = await browser.newContext({ storageState: state });
  const page = await context.newPage();
  try {
    await page.goto(base + "/connections", { waitUntil: "load" });
    const connect = page.locator('form[action="/connections/strava/connect"] button[type=submit]');
    if ((await connect.count()) === 0) return null;
    await page.check("#range-30d");
    await Promise.all([page.waitForURL((u) => !u.href.startsWith(base), { timeout: 15000 }), connect.first().click()]);
    // The simulator's consent page: the last athlete (the first is the demo's), all scopes ticked.
    const authorize = page.locator('button[name="decision"][value="authorize"]');
    await authorize.waitFor({ timeout: 15000 });
    await page.locator('input[name="athlete"]').last().check();
    await Promise.all([page.waitForURL(base + "/connections", { timeout: 15000 }), authorize.click()]);
    const flash = await page.locator("#flash").innerText();
    if (!flash.includes("Strava is connected")) throw new Error(`no "connected" message after the consent page: ${flash}`);
    const facts = await page.locator("#connection-strava .connection-facts").innerText();
    if (!facts.includes("activity:read_all")) throw new Error(`granted scopes not shown: ${facts}`);
    await page.screenshot({ path: path.join(SHOTS, "connections-connected.png"), fullPage: true });
    await Promise.all([
      page.waitForURL(base + "/connections", { timeout: 15000 }),
      page.click("#connection-strava .connection-disconnect button[type=submit]"),
    ]);
    const after = await page.locator("#flash").innerText();
    if (!after.includes("Strava is disconnected")) throw new Error(`no "disconnected" message: ${after}`);
    return "connect Strava through the simulator's consent page, then disconnect";
  } finally {
    await context.close();
  }
}

async function signUp() {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(base + "/signup", { waitUntil: "load" });
  await page.fill("#signup-email", `browser-${Date.now()}@example.org`);
  await page.fill("#signup-name", "Browser Check");
  await page.fill("#signup-password", "granite otter sunrise meadow");
  await Promise.all([page.waitForURL("**/dashboard", { timeout: 15000 }), page.click("#signup-form button[type=submit]")]);
  // Thresholds from before the ride, so its page shows zones and the load counts.
  await page.goto(base + "/settings/thresholds", { waitUntil: "load" });
  await page.selectOption("#t-sport", "all");
  await page.fill("#t-from", "2013-01-01");
  await page.fill("#t-ftp", "300");
  await page.fill("#t-lthr", "165");
  await page.click("#thresholds-form button[type=submit]");
  await page.waitForURL("**/settings/thresholds?saved=1", { timeout: 15000 });
  // Upload a real device file through the upload form (htmx), and remember its page.
  await page.goto(base + "/activities/upload", { waitUntil: "load" });
  await page.setInputFiles("#upload-files", path.resolve(HERE, "../fixtures/activities/fit/Edge810-Vector-2013-08-16-15-35-10.fit"));
  await page.click("#upload-form button[type=submit]");
  const link = page.locator('#upload-results [data-outcome="imported"] + a');
  await link.waitFor({ timeout: 20000 });
  const href = await link.getAttribute("href");
  PAGES.find((p) => p.name === "activity").path = href;
  const state = await context.storageState();
  await context.close();
  return state;
}

// Sign in as the demo coach; fill in the coach-view paths from the roster. Null
// when there is no demo coach.
async function coachSignIn() {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    await page.goto(base + "/login", { waitUntil: "load" });
    await page.fill("input[name=email]", "coach@pierre.local");
    await page.fill("input[name=password]", "pierre demo training log");
    await Promise.all([
      page.waitForURL((u) => !u.pathname.startsWith("/login"), { timeout: 15000 }).catch(() => {}),
      page.click("main form button[type=submit]"),
    ]);
    if (new URL(page.url()).pathname.startsWith("/login")) return null;
    await page.goto(base + "/coach", { waitUntil: "load" });
    const athletes = await page
      .locator('#roster-region a[href^="/coach/athletes/"]')
      .evaluateAll((links) => [...new Set(links.map((a) => a.getAttribute("href")))]);
    const set = (name, p) => { PAGES.find((x) => x.name === name).path = p; };
    // The first athlete with an activity the coach may see.
    for (const athlete of athletes) {
      await page.goto(base + `${athlete}/activities`, { waitUntil: "load" });
      const links = page.locator(`main a[href^="${athlete}/activities/"]`);
      if ((await links.count()) === 0) continue;
      set("coach-dashboard", athlete);
      set("coach-calendar", `${athlete}/calendar`);
      set("coach-activities", `${athlete}/activities`);
      set("coach-activity", await links.first().getAttribute("href"));
      return await context.storageState();
    }
    throw new Error("no athlete of the demo coach has an activity to show");
  } finally {
    await context.close();
  }
}

async function checkCombination(pageSpec, theme, size) {
  const problems = [];
  if (!pageSpec.path) return ["rule setup: the upload through the form did not give an activity page"];
  const url = base + pageSpec.path;
  if (pageSpec.signedIn && !signedInState) return ["rule signed-in: no signed-in session (sign-up failed)"];
  const context = await browser.newContext({
    viewport: { width: size.width, height: size.height },
    colorScheme: theme,
    reducedMotion: "reduce",
    ...(pageSpec.signedIn ? { storageState: signedInState } : {}),
    ...(pageSpec.coach ? { storageState: coachState } : {}),
  });
  await context.addCookies([{ name: "theme", value: theme, url: base }]);
  const page = await context.newPage();

  // Errors the page may legitimately cause (an expected 404 document, or the
  // htmx 404 we trigger on purpose) are matched by these and ignored.
  const allowed = [];
  if (pageSpec.status >= 400) {
    allowed.push((text) => text.includes(`status of ${pageSpec.status}`));
  }
  page.on("console", (msg) => {
    if (msg.type() !== "error") return;
    const text = msg.text();
    if (allowed.some((allow) => allow(text, msg))) return;
    problems.push(`rule console-error: ${text}`);
  });
  page.on("pageerror", (err) => problems.push(`rule uncaught-exception: ${err.message}`));
  page.on("requestfailed", (req) =>
    problems.push(`rule request-failed: ${req.url()} (${req.failure()?.errorText})`),
  );
  page.on("response", (res) => {
    const status = res.status();
    if (status < 400 || res.url() === url) return;
    if (allowed.some((allow) => allow(`status of ${status}`, null, res.url()))) return;
    problems.push(`rule subresource-status: ${res.url()} answered ${status}`);
  });
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener("securitypolicyviolation", (e) => {
      window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} (${e.sourceFile}:${e.lineNumber})`);
    });
  });

  const response = await page.goto(url, { waitUntil: "load" });
  if (!response) {
    problems.push("rule status: no response");
    await context.close();
    return problems;
  }
  if (response.status() !== pageSpec.status) {
    problems.push(`rule status: expected ${pageSpec.status}, got ${response.status()}`);
  }
  await page.waitForFunction(() => typeof window.htmx === "object", null, { timeout: 5000 })
    .catch(() => problems.push("rule scripts-loaded: htmx did not load"));

  // The theme really applies: dark background in dark, light in light.
  const looks = await page.evaluate(() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\d+(\.\d+)?/g).map(Number);
    return {
      luminance: (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255,
      attr: document.documentElement.dataset.theme,
      js: document.documentElement.classList.contains("js"),
    };
  });
  if (looks.attr !== theme) problems.push(`rule theme-attribute: data-theme is "${looks.attr}"`);
  if (theme === "dark" ? looks.luminance > 0.25 : looks.luminance < 0.75) {
    problems.push(`rule theme-applied: body background luminance ${looks.luminance.toFixed(2)} in ${theme} theme`);
  }
  if (!looks.js) problems.push("rule scripts-loaded: app.js did not set html.js");

  await page.screenshot({
    path: path.join(SHOTS, `${pageSpec.name}-${theme}-${size.width}.png`),
    fullPage: true,
    animations: "disabled",
  });

  // Keyboard: the first Tab from the top of the page lands on the skip link.
  await page.keyboard.press("Tab");
  const first = await page.evaluate(() => {
    const el = document.activeElement;
    return el ? `${el.tagName.toLowerCase()}${el.className ? "." + el.className : ""} "${(el.textContent || "").trim()}"` : "nothing";
  });
  if (!first.includes("skip-link")) problems.push(`rule skip-link-first: first Tab focused ${first}`);
  await page.evaluate(() => document.activeElement && document.activeElement.blur());

  // axe-core, evaluated through the DevTools protocol (not an inline script,
  // which the CSP would rightly block).
  await page.evaluate(AXE_SOURCE);
  const violations = await page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => `${n.target.join(" ")}${n.failureSummary ? ": " + n.failureSummary.replace(/\s+/g, " ").slice(0, 160) : ""}`),
    }));
  });
  for (const v of violations) {
    if (v.impact === "serious" || v.impact === "critical") {
      problems.push(`rule axe/${v.id} (${v.impact}): ${v.help} — ${v.nodes.join(" | ")}`);
    }
  }

  if (pageSpec.interactive) await exercise(page, theme, size, allowed, problems);

  // No horizontal overflow on the narrowest phone.
  await page.setViewportSize({ width: NARROWEST, height: 800 });
  const overflow = await page.evaluate(() => {
    const width = document.documentElement.clientWidth;
    if (document.documentElement.scrollWidth <= width && document.body.scrollWidth <= width) return null;
    const culprits = [];
    for (const el of document.body.querySelectorAll("*")) {
      const box = el.getBoundingClientRect();
      if (box.right > width + 1 && !el.closest(".table-wrap, .tabs, .sr-only")) {
        culprits.push(`${el.tagName.toLowerCase()}.${el.className || ""} right=${Math.round(box.right)}`);
        if (culprits.length >= 3) break;
      }
    }
    return `scrollWidth ${document.documentElement.scrollWidth} > ${width}: ${culprits.join(", ")}`;
  });
  if (overflow) problems.push(`rule no-horizontal-overflow-${NARROWEST}: ${overflow}`);

  const csp = await page.evaluate(() => window.__csp || []);
  for (const v of csp) problems.push(`rule csp-violation: ${v}`);

  await context.close();
  return problems;
}

// Drive the JavaScript on the design page.
async function exercise(page, theme, size, allowed, problems) {
  // Phone menu: collapsed at first, opened by the Menu button.
  if (size.width < 768) {
    const toggle = page.locator(".nav-toggle");
    const nav = page.locator("#site-nav");
    if (await nav.isVisible()) problems.push("rule phone-menu: navigation is not collapsed on a phone");
    await toggle.click();
    if (!(await nav.isVisible())) problems.push("rule phone-menu: Menu button did not open the navigation");
    if ((await toggle.getAttribute("aria-expanded")) !== "true") problems.push("rule phone-menu: aria-expanded not updated");
  }

  // Theme toggle: flips data-theme and sets the cookie, without a reload.
  const other = theme === "dark" ? "light" : "dark";
  await page.locator(`.theme-btn[value="${other}"]`).click();
  const flipped = await page.evaluate(() => ({ attr: document.documentElement.dataset.theme, cookie: document.cookie }));
  if (flipped.attr !== other || !flipped.cookie.includes(`theme=${other}`)) {
    problems.push(`rule theme-toggle: after the click data-theme="${flipped.attr}", cookie "${flipped.cookie}"`);
  }
  await page.locator(`.theme-btn[value="${theme}"]`).click();
  if (size.width < 768) await page.locator(".nav-toggle").click();

  // Dialog: opens modal, Escape closes it.
  await page.locator('[data-dialog-open="demo-dialog"]').first().click();
  if (!(await page.locator("#demo-dialog").evaluate((d) => d.open))) problems.push("rule dialog: did not open");
  await page.keyboard.press("Escape");
  if (await page.locator("#demo-dialog").evaluate((d) => d.open)) problems.push("rule dialog: Escape did not close it");

  // htmx error response → toast (the 404 and htmx's own log line are expected).
  allowed.push((text, _msg, resUrl) => text.includes("status of 404") || text.includes("Response Status Error Code 404") || (resUrl || "").endsWith("/this-page-does-not-exist"));
  await page.locator("#demo-htmx-error").click();
  const toast = page.locator("#toasts .toast").filter({ hasText: "Page not found" });
  await toast.first().waitFor({ timeout: 5000 }).catch(() => problems.push("rule htmx-error-toast: no toast after an htmx 404"));
  await page.waitForFunction(() => !document.getElementById("progress").classList.contains("htmx-request"), null, { timeout: 5000 })
    .catch(() => problems.push("rule progress-bar: still shown after the request ended"));
}
