// End-to-end test of the VS Code extension in a real VS Code (code-server) driven through headless Chromium.
//
// Started by test/e2e/run.sh, which provides everything through the environment:
//   CODE_SERVER      the code-server executable (runs on Node 24: NODE24_BIN must be first on PATH)
//   VSIX             the packaged extension
//   LENSCRIBE_PYTHON   a Python that has lenscribe (the extension gets it as lenscribe.server.pythonPath)
//   LENSCRIBE_E2E_MODEL_DIR  a real model directory (the extension gets it as lenscribe.modelDir)
//   ARTIFACTS        where screenshots and logs go
//   CHROMIUM         the browser (default /usr/bin/chromium)
//   E2E_TIMEOUT_S    the whole test's limit (default 900)
// LENSCRIBE_PYTHON also runs the backend's llama.cpp server: it needs llama-cpp-python[server] (the backend-test extra).
//
// Steps: install the .vsix into a fresh extensions dir; start code-server on 127.0.0.1 on a free port, with a fresh
// user-data dir, on a copy of test/e2e/workspace in a folder named "my proj é" (a space and a non-ASCII letter: the
// uris VS Code sends carry escapes); open shapes.py; wait for the summary code lens; hover `add` and assert the hover
// shows the model's summary; run "Lenscribe: Summarize File" and assert the outline opens; ...; set the summarizer
// backend in the Remote settings (their JSON in the settings editor: lenscribe.backend.url / .model, a real llama.cpp
// server on loopback serving the tiny GGUF of tests/tiny_gguf.py, started by llama_backend.py) and see a lens written
// by it, then unset it; ...; at the end, with no
// server configured or found, click "Install Server" and see the installed server summarize. Screenshots of each step
// land in ARTIFACTS. Everything it started is stopped, on success, failure or timeout.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const REPO = path.resolve(here, '..', '..', '..');
const env = (name, fallback) => {
  const v = process.env[name] ?? fallback;
  if (v === undefined || v === '') {
    throw new Error(`${name} is not set (run test/e2e/run.sh)`);
  }
  return v;
};

const CODE_SERVER = env('CODE_SERVER');
const VSIX = path.resolve(env('VSIX'));
const PYTHON = env('LENSCRIBE_PYTHON');
const MODEL_DIR = path.resolve(env('LENSCRIBE_E2E_MODEL_DIR'));
const ARTIFACTS = path.resolve(env('ARTIFACTS'));
const CHROMIUM = env('CHROMIUM', '/usr/bin/chromium');
const TIMEOUT_S = Number(env('E2E_TIMEOUT_S', '900'));
// Installing the server: a venv, then pip with the dependencies from the package index (~20 s on a fast line).
const INSTALL_TIMEOUT_MS = 420_000;
// What the model answers for shapes.py's functions (the first line of each summary), asked of the same pipeline on the
// command line, so that the test holds for any model: the tiny test model (tests/conftest.py TINY_PAIRS) says "Add two
// numbers and return the sum.", and the shipped one (for the README's screenshots) its own words.
function expectedSummaries(names) {
  const file = path.join(here, 'workspace', 'shapes.py');
  // the workspace turns lenscribe.groundingCheck off (the tiny model's sentences name words its code does not);
  // --no-cache: nothing in the user's summary cache (~/.cache/lenscribe)
  const args = ['-m', 'lenscribe', 'summarize', '--json', '--no-grounding-check', '--no-cache', '--model', MODEL_DIR, file];
  const run = spawnSync(PYTHON, args, {
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (run.status !== 0) {
    throw new Error(`lenscribe summarize ${file} failed (${run.status}): ${run.stderr}`);
  }
  const chunks = JSON.parse(run.stdout).chunks;
  return Object.fromEntries(
    names.map((name) => {
      const summary = chunks.find((c) => c.name === name)?.summary?.split('\n')[0].trim();
      if (!summary) {
        throw new Error(`the model gave no summary for ${name}(): ${run.stdout}`);
      }
      return [name, summary];
    }),
  );
}
const EXPECT = expectedSummaries(['add', 'read_lines']);

const started = Date.now();
const log = (msg) => console.log(`[e2e ${((Date.now() - started) / 1000).toFixed(1)}s] ${msg}`);

const cleanups = [];
async function cleanup() {
  while (cleanups.length > 0) {
    const fn = cleanups.pop();
    try {
      await fn();
    } catch (e) {
      console.error(`[e2e] cleanup: ${e?.message ?? e}`);
    }
  }
}

// The whole run's limit: whatever hangs, everything is stopped and the test fails.
const watchdog = setTimeout(() => {
  console.error(`[e2e] FAILED: the test did not finish in ${TIMEOUT_S} s`);
  void cleanup().finally(() => process.exit(1));
}, TIMEOUT_S * 1000);
watchdog.unref();

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

async function waitForHttp(url, ms) {
  const deadline = Date.now() + ms;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
      if (res.ok) {
        return;
      }
      last = `HTTP ${res.status}`;
    } catch (e) {
      last = e?.message ?? String(e);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`${url} did not answer in ${ms / 1000} s (${last})`);
}

function writeJson(file, value) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + '\n');
}

/** Copies the extension's Output channel and the other VS Code logs into the artifacts. */
function collectLogs(userData) {
  const logs = path.join(userData, 'logs');
  if (!fs.existsSync(logs)) {
    return;
  }
  const dest = path.join(ARTIFACTS, 'vscode-logs');
  fs.rmSync(dest, { recursive: true, force: true });
  fs.cpSync(logs, dest, { recursive: true });
  const walk = (dir) => fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)]));
  for (const file of walk(dest)) {
    if (/Lenscribe\.log$/.test(file)) {
      fs.copyFileSync(file, path.join(ARTIFACTS, 'lenscribe-output.log'));
    }
  }
}

/** The extension's Output channel so far (the log file code-server writes under the user-data dir). */
function lenscribeLog(userData) {
  const walk = (dir) =>
    fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }).flatMap((d) => (d.isDirectory() ? walk(path.join(dir, d.name)) : [path.join(dir, d.name)])) : [];
  return walk(path.join(userData, 'logs'))
    .filter((f) => /Lenscribe\.log$/.test(f))
    .map((f) => fs.readFileSync(f, 'utf8'))
    .join('\n');
}

/**
 * A PATH for code-server on which no lenscribe is found (code-server may still add the login shell's PATH entries for the
 * extension host, e.g. pyenv's shims: the test then checks that the extension found no lenscribe, from its log): the first entries are python3/python links to LENSCRIBE_PYTHON's
 * base interpreter (Python 3.11+ without lenscribe), and no directory with a `lenscribe` executable is kept.
 */
function pathWithoutLenscribe(binDir) {
  const base = spawnSync(PYTHON, ['-c', 'import sys; print(getattr(sys, "_base_executable", sys.executable))'], { encoding: 'utf8' }).stdout.trim();
  if (spawnSync(base, ['-I', '-c', 'import lenscribe'], { encoding: 'utf8' }).status === 0) {
    throw new Error(`${base} (the base of LENSCRIBE_PYTHON) can import lenscribe: the install test needs one that cannot`);
  }
  fs.mkdirSync(binDir, { recursive: true });
  for (const name of ['python3', 'python']) {
    fs.symlinkSync(base, path.join(binDir, name));
  }
  const kept = (process.env.PATH ?? '').split(path.delimiter).filter((d) => d !== '' && !fs.existsSync(path.join(d, 'lenscribe')));
  return [binDir, ...kept].join(path.delimiter);
}

/**
 * The summarizer backend: a real llama.cpp server (llama_cpp.server) on 127.0.0.1 serving the tiny GGUF that
 * llama_backend.py writes into `dir` (tests/tiny_gguf.py: every chat is answered with one known sentence). Resolves to
 * `{ url, model, reply }` once the server serves the model; the server stops when the test's cleanup closes its stdin
 * (or the test dies), its process group is killed if it lingers.
 */
function startBackend(dir, env) {
  fs.mkdirSync(dir, { recursive: true });
  const proc = spawn(PYTHON, [path.join(here, 'llama_backend.py'), dir, path.join(ARTIFACTS, 'llama-server.log')], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
    env: { ...env, PYTHONPATH: path.join(REPO, 'tests') },
  });
  const running = () => proc.exitCode === null && proc.signalCode === null;
  cleanups.push(async () => {
    proc.stdin.end();
    const deadline = Date.now() + 15_000;
    while (running() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
    }
    try {
      process.kill(-proc.pid, 'SIGKILL'); // whatever is left of its process group (the llama.cpp server)
    } catch {
      /* gone */
    }
  });
  let stdout = '';
  let stderr = '';
  proc.stderr.on('data', (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the llama.cpp server did not start in 240 s: ${stderr}`)), 240_000);
    timer.unref();
    proc.stdout.on('data', (d) => {
      stdout += d;
      const nl = stdout.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(stdout.slice(0, nl)));
      }
    });
    proc.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`llama_backend.py ended (${signal ?? `exit ${code}`}) before the server was up: ${stderr}`));
    });
  });
}

/** Runs a command from the command palette. */
async function runCommand(page, title) {
  await page.keyboard.press('F1');
  const quickInput = page.locator('.quick-input-widget input');
  await quickInput.waitFor({ state: 'visible', timeout: 15_000 });
  await quickInput.fill(`>${title}`);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 15_000 });
  await page.keyboard.press('Enter');
  await quickInput.waitFor({ state: 'hidden', timeout: 15_000 });
}

async function main() {
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lenscribe-vscode-e2e-'));
  cleanups.push(() => fs.rmSync(tmp, { recursive: true, force: true }));
  const userData = path.join(tmp, 'user-data');
  const extensions = path.join(tmp, 'extensions');
  // a space and a non-ASCII letter in the folder's path: every uri VS Code sends for it carries escapes
  const workspace = path.join(tmp, 'my proj é');
  const browserProfile = path.join(tmp, 'chromium-profile');
  fs.mkdirSync(path.join(tmp, 'chromium-home'));
  cleanups.push(() => collectLogs(userData));

  fs.cpSync(path.join(here, 'workspace'), workspace, { recursive: true });
  writeJson(path.join(workspace, '.vscode', 'settings.json'), {
    'lenscribe.server.pythonPath': PYTHON,
    'lenscribe.modelDir': MODEL_DIR,
    'lenscribe.cacheDir': path.join(tmp, 'summary-cache'),
    'lenscribe.hoverTimeoutMs': 20000,
    // the tiny model's memorised sentences name words its code does not ("two", "sum"): shown as they are here
    'lenscribe.groundingCheck': false,
    'lenscribe.trace.server': 'messages',
  });
  writeJson(path.join(userData, 'User', 'settings.json'), {
    'workbench.startupEditor': 'none',
    'workbench.tips.enabled': false,
    'workbench.welcomePage.walkthroughs.openOnInstall': false,
    'workbench.secondarySideBar.defaultVisibility': 'hidden',
    'chat.disableAIFeatures': true,
    'chat.commandCenter.enabled': false,
    'security.workspace.trust.enabled': false,
    'telemetry.telemetryLevel': 'off',
    'extensions.autoUpdate': false,
    'extensions.autoCheckUpdates': false,
    'extensions.ignoreRecommendations': true,
    'update.mode': 'none',
    'editor.hover.delay': 200,
    'editor.minimap.enabled': false,
    'window.commandCenter': false,
    'workbench.colorTheme': 'Default Dark Modern',
    'workbench.editor.useModal': 'off', // the settings editor in a tab, not in a modal over shapes.py
  });
  // the Remote settings (code-server's machine): a llama.cpp server answers one request at a time (docs/backend.md)
  const remoteSettingsFile = path.join(userData, 'Machine', 'settings.json');
  const remoteSettings = { 'lenscribe.backend.maxConcurrent': 1 };
  writeJson(remoteSettingsFile, remoteSettings);
  const config = path.join(tmp, 'code-server.yaml');
  fs.writeFileSync(config, 'auth: none\ncert: false\n');
  const common = ['--config', config, '--user-data-dir', userData, '--extensions-dir', extensions];
  // Nothing in the user's home: code-server, its extension host and Chromium get private XDG dirs (~/.config,
  // ~/.local/share, ~/.local/state; ~/.cache, where VS Code's @vscode/deviceid keeps Microsoft/DeveloperTools/deviceid),
  // Chromium a private HOME too (its ~/.pki); pip, installing the server, keeps to its own download cache.
  const isolatedEnv = {
    ...process.env,
    XDG_CONFIG_HOME: path.join(tmp, 'xdg-config'),
    XDG_DATA_HOME: path.join(tmp, 'xdg-data'),
    XDG_STATE_HOME: path.join(tmp, 'xdg-state'),
    XDG_CACHE_HOME: path.join(tmp, 'xdg-cache'),
    PIP_CACHE_DIR: process.env.PIP_CACHE_DIR ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'pip'),
    PATH: pathWithoutLenscribe(path.join(tmp, 'bin')),
  };
  // the backend's llama.cpp server starts meanwhile (a few seconds; it is used half-way through)
  const backendReady = startBackend(path.join(tmp, 'backend'), isolatedEnv);
  backendReady.catch(() => undefined); // awaited where it is used: no unhandled rejection before

  log(`installing ${path.basename(VSIX)} into code-server`);
  const install = spawnSync(CODE_SERVER, [...common, '--install-extension', VSIX], { encoding: 'utf8', timeout: 120_000, env: isolatedEnv });
  fs.writeFileSync(path.join(ARTIFACTS, 'install-extension.log'), `${install.stdout}\n${install.stderr}`);
  if (install.status !== 0) {
    throw new Error(`code-server --install-extension failed (${install.error?.message ?? `exit ${install.status}`}): ${install.stderr}`);
  }
  if (!fs.readdirSync(extensions).some((d) => d.startsWith('lenscribe.lenscribe-'))) {
    throw new Error(`the extension is not in ${extensions} after --install-extension: ${fs.readdirSync(extensions).join(', ')}`);
  }

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  log(`starting code-server on ${url}`);
  const serverLog = fs.openSync(path.join(ARTIFACTS, 'code-server.log'), 'w');
  const server = spawn(
    CODE_SERVER,
    [
      ...common,
      '--bind-addr', `127.0.0.1:${port}`,
      '--auth', 'none',
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
      workspace,
    ],
    { stdio: ['ignore', serverLog, serverLog], detached: true, env: { ...isolatedEnv, LENSCRIBE_E2E: '1' } },
  );
  cleanups.push(async () => {
    if (server.exitCode === null) {
      try {
        process.kill(-server.pid, 'SIGTERM'); // its whole process group: the extension host and the lenscribe server
      } catch {
        /* gone */
      }
      await new Promise((r) => setTimeout(r, 1500));
      try {
        process.kill(-server.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }
  });
  await waitForHttp(`${url}/healthz`, 60_000);

  log('starting chromium');
  const context = await chromium.launchPersistentContext(browserProfile, {
    executablePath: CHROMIUM,
    env: { ...isolatedEnv, HOME: path.join(tmp, 'chromium-home') },
    headless: true,
    viewport: { width: 1280, height: 800 },
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
    ],
    timeout: 60_000,
  });
  cleanups.push(() => context.close());
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(60_000);
  const browserLog = [];
  page.on('console', (m) => browserLog.push(`[${m.type()}] ${m.text()}`));
  cleanups.push(() => fs.writeFileSync(path.join(ARTIFACTS, 'browser-console.log'), browserLog.join('\n') + '\n'));
  const shot = async (name) => {
    const file = path.join(ARTIFACTS, name);
    await page.screenshot({ path: file });
    log(`screenshot ${file}`);
  };
  cleanups.push(() => (page.isClosed() ? undefined : shot('last.png')));

  await page.goto(`${url}/?folder=${encodeURIComponent(workspace)}`, { waitUntil: 'domcontentloaded' });
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 90_000 });
  log('workbench loaded');

  // Open shapes.py from the Explorer.
  const fileItem = page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'shapes.py' });
  await fileItem.first().waitFor({ state: 'visible', timeout: 60_000 });
  await fileItem.first().click();
  const editor = page.locator('.editor-instance .monaco-editor').first();
  await editor.locator('.view-line', { hasText: 'def add(a, b):' }).waitFor({ state: 'visible', timeout: 30_000 });
  log('shapes.py open');

  // The extension's status-bar item: starting -> ready.
  const status = page.locator('.statusbar-item', { hasText: 'Lenscribe' }).first();
  await status.waitFor({ state: 'visible', timeout: 60_000 });

  // Code lenses: the summaries arrive through workspace/codeLens/refresh.
  const lens = editor.locator('.codelens-decoration', { hasText: EXPECT.add });
  await lens.first().waitFor({ state: 'visible', timeout: 120_000 });
  log(`code lens: "${(await lens.first().innerText()).trim()}"`);
  const statusText = (await status.innerText()).trim();
  const statusLabel = (await status.getAttribute('aria-label')) ?? '';
  log(`status bar: "${statusText}" (${statusLabel})`);
  if (!/Lenscribe/.test(statusText)) {
    throw new Error(`status-bar item text is "${statusText}"`);
  }

  // Hover `add`: the hover widget must show the model's summary.
  const hoverWidget = page.locator('.monaco-hover:not(.hidden)', { hasText: EXPECT.add });
  const addToken = editor.locator('.view-line span span', { hasText: /^add$/ }).first();
  let hovered = false;
  for (let attempt = 1; attempt <= 5 && !hovered; attempt++) {
    await page.mouse.move(5, 5);
    await addToken.hover();
    try {
      await hoverWidget.first().waitFor({ state: 'visible', timeout: 15_000 });
      hovered = true;
    } catch {
      log(`hover attempt ${attempt}: no summary yet`);
    }
  }
  if (!hovered) {
    await shot('hover-failed.png');
    const visible = await page.locator('.monaco-hover').allInnerTexts();
    throw new Error(`no hover with "${EXPECT.add}" over add(); hover widgets: ${JSON.stringify(visible)}`);
  }
  const hoverText = (await hoverWidget.first().innerText()).trim();
  log(`hover: ${JSON.stringify(hoverText)}`);
  if (!hoverText.includes('add')) {
    throw new Error(`the hover does not name the function: ${hoverText}`);
  }
  await shot('vscode-hover.png');

  // Lenscribe: Summarize File -> an untitled markdown outline with every summary.
  await page.mouse.move(5, 5);
  await editor.locator('.view-line', { hasText: 'def add(a, b):' }).click();
  await runCommand(page, 'Lenscribe: Summarize File');
  // The outline: a new untitled markdown editor (word-wrapped: compare its text with the whitespace collapsed).
  const outlineEditor = page.locator('.editor-instance .monaco-editor', { hasText: '`read_lines`**' });
  await outlineEditor.first().waitFor({ state: 'visible', timeout: 60_000 });
  const outlineText = (await outlineEditor.first().locator('.view-lines').innerText()).replace(/\s+/g, ' ');
  for (const [name, summary] of Object.entries(EXPECT)) {
    if (!outlineText.includes(`\`${name}\`** (line`) || !outlineText.includes(summary)) {
      throw new Error(`the outline lacks ${name}: ${summary}; it reads: ${outlineText}`);
    }
  }
  const groups = await page.locator('.editor-group-container').evaluateAll((els) =>
    els.map((g) => [...g.querySelectorAll('.tabs-container .tab')].map((t) => t.getAttribute('aria-label') ?? t.textContent)),
  );
  log(`editor groups and tabs: ${JSON.stringify(groups)}`);
  const outlineTabs = groups.flat().filter((label) => /Untitled/.test(label ?? ''));
  if (outlineTabs.length !== 1) {
    throw new Error(`expected the outline in exactly one tab, found ${outlineTabs.length}: ${JSON.stringify(groups)}`);
  }
  const activeTab = (await page.locator('.editor-group-container.active .tabs-container .tab.active').first().innerText()).trim();
  if (!/Untitled/.test(activeTab) && !/shapes\.py/.test(activeTab)) {
    throw new Error(`the active tab is "${activeTab}", not the untitled outline`);
  }
  log('Summarize File opened the markdown outline');
  await shot('vscode-outline.png');

  // Lenscribe: Summarize Workspace -> the server's report in a notification.
  await runCommand(page, 'Lenscribe: Summarize Workspace');
  const done = page.locator('.notifications-toasts .notification-toast', { hasText: 'Lenscribe: workspace summarized' });
  await done.first().waitFor({ state: 'visible', timeout: 120_000 });
  log(`notification: ${JSON.stringify((await done.first().locator('.notification-list-item-message').innerText()).trim())}`);

  // Code actions on add(): Copy Summary (palette) -> the clipboard; the lightbulb menu (Ctrl+.) offers the three
  // actions, Insert summary as docstring edits the file in one undo step; Regenerate (palette) -> a 4-beam summary.
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: url });
  const shapes = page.locator('.editor-group-container .tab', { hasText: 'shapes.py' }).first();
  await shapes.click();
  const codeEditor = page.locator('.editor-instance .monaco-editor', { hasText: 'def add(a, b):' }).first();
  const returnLine = codeEditor.locator('.view-line', { hasText: 'return a + b' }).first();
  await returnLine.click({ position: { x: 60, y: 5 } }); // near the text: the line is wider than a half-width editor
  await runCommand(page, 'Lenscribe: Copy Summary');
  await page.locator('.statusbar-item', { hasText: 'copied the summary of add' }).first().waitFor({ timeout: 30_000 });
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  if (copied !== EXPECT.add) {
    throw new Error(`Copy Summary put ${JSON.stringify(copied)} on the clipboard, not ${JSON.stringify(EXPECT.add)}`);
  }
  log(`copy summary: clipboard ${JSON.stringify(copied)}`);
  await returnLine.click({ position: { x: 60, y: 5 } }); // near the text: the line is wider than a half-width editor
  await page.keyboard.press('Control+.');
  const menu = page.locator('.action-widget');
  const insertItem = menu.locator('.monaco-list-row', { hasText: 'Insert summary as docstring (add)' }).first();
  await insertItem.waitFor({ state: 'visible', timeout: 30_000 });
  const menuText = (await menu.first().innerText()).replace(/\s+/g, ' ');
  for (const title of ['Regenerate summary with beam search (add)', 'Copy summary (add)']) {
    if (!menuText.includes(title)) {
      throw new Error(`the code action menu lacks "${title}": ${menuText}`);
    }
  }
  await shot('vscode-code-actions.png');
  await insertItem.click();
  const docLine = codeEditor.locator('.view-line', { hasText: `"""${EXPECT.add}"""` });
  await docLine.first().waitFor({ state: 'visible', timeout: 30_000 });
  log('code action: the docstring is in add()');
  await page.keyboard.press('Control+z');
  await docLine.first().waitFor({ state: 'detached', timeout: 15_000 });
  if ((await codeEditor.locator('.view-line', { hasText: 'def add(a, b):' }).count()) !== 1) {
    throw new Error('one undo did not restore add()');
  }
  log('one undo removed it');
  await returnLine.click({ position: { x: 60, y: 5 } }); // near the text: the line is wider than a half-width editor
  await runCommand(page, 'Lenscribe: Regenerate Summary with Beam Search');
  const regenerated = page.locator('.notifications-toasts .notification-toast', { hasText: 'add (4 beams)' });
  await regenerated.first().waitFor({ state: 'visible', timeout: 120_000 });
  log(`regenerate: ${JSON.stringify((await regenerated.first().locator('.notification-list-item-message').innerText()).trim())}`);

  // Bring your own model (docs/backend.md): the two backend settings at the user level, set as a user sets them, in
  // the settings editor. lenscribe.backend.url and .model are machine-overridable settings (as lenscribe.server.*): in
  // a remote window such as code-server's, VS Code takes their user-level values from the Remote settings (the
  // machine the extension and the server run on: <user-data>/Machine/settings.json), and ignores them in the browser's
  // User settings. The server re-queues the open document for the backend; a lens shows the llama.cpp server's reply,
  // marked with its model. The settings editor opens in the outline's group (a tab: useModal off), beside shapes.py.
  const backend = await backendReady;
  log(`llama.cpp server at ${backend.url} (model ${backend.model})`);
  await outlineEditor.first().locator('.view-lines').click();
  await runCommand(page, 'Preferences: Open Remote Settings (JSON)');
  const settingsEditor = page.locator('.editor-instance .monaco-editor', { hasText: 'lenscribe.backend.maxConcurrent' }).first();
  await settingsEditor.waitFor({ state: 'visible', timeout: 30_000 });
  const saveRemoteSettings = async (values) => {
    const text = JSON.stringify(values, null, 2) + '\n';
    await settingsEditor.locator('.view-lines').click();
    await page.evaluate((t) => navigator.clipboard.writeText(t), text);
    await page.keyboard.press('Control+a');
    await page.keyboard.press('Control+v');
    await page.keyboard.press('Control+s');
    const deadline = Date.now() + 30_000;
    const saved = () => {
      try {
        return JSON.stringify(JSON.parse(fs.readFileSync(remoteSettingsFile, 'utf8'))) === JSON.stringify(values);
      } catch {
        return false; // being written
      }
    };
    while (!saved()) {
      if (Date.now() > deadline) {
        throw new Error(`the settings editor did not save ${text} to ${remoteSettingsFile}: ${fs.readFileSync(remoteSettingsFile, 'utf8')}`);
      }
      await page.waitForTimeout(250);
    }
  };
  await saveRemoteSettings({ ...remoteSettings, 'lenscribe.backend.url': backend.url, 'lenscribe.backend.model': backend.model });
  const backendLens = codeEditor.locator('.codelens-decoration', { hasText: `${backend.reply} · generated by ${backend.model}` });
  await backendLens.first().waitFor({ state: 'visible', timeout: 120_000 });
  log(`code lens from the backend: "${(await backendLens.first().innerText()).trim()}"`);
  await shot('vscode-backend-lens.png');
  // The backend unset: the shipped model's summaries (cached) again.
  await saveRemoteSettings(remoteSettings);
  await backendLens.first().waitFor({ state: 'detached', timeout: 60_000 });
  await codeEditor.locator('.codelens-decoration', { hasText: EXPECT.add }).first().waitFor({ state: 'visible', timeout: 60_000 });
  log('backend unset: the shipped model\'s lenses again');

  // A server that cannot start: changing lenscribe.server.pythonPath restarts the server; the error says why.
  const settingsFile = path.join(workspace, '.vscode', 'settings.json');
  const settings = JSON.parse(fs.readFileSync(settingsFile, 'utf8'));
  writeJson(settingsFile, { ...settings, 'lenscribe.server.pythonPath': '/nonexistent/bin/python' });
  const error = page.locator('.notifications-toasts .notification-toast', { hasText: 'cannot start the language server' });
  await error.first().waitFor({ state: 'visible', timeout: 60_000 });
  const errorText = (await error.first().locator('.notification-list-item-message').innerText()).trim();
  log(`error notification: ${JSON.stringify(errorText)}`);
  if (!errorText.includes('/nonexistent/bin/python') || !errorText.includes('lenscribe.server.pythonPath')) {
    throw new Error(`the error does not name the setting and the path: ${errorText}`);
  }
  await page.locator('.statusbar-item', { hasText: 'Lenscribe' }).locator('.codicon-error').first().waitFor({ timeout: 10_000 });
  await shot('vscode-start-error.png');
  await page.locator('.notifications-toasts .notification-toast .codicon-notifications-clear, .notifications-toasts .codicon-close').first().click().catch(() => undefined);

  // A server that starts and dies at once: one error, quoting what it wrote to stderr; no restart loop.
  writeJson(settingsFile, {
    ...settings,
    'lenscribe.server.command': [PYTHON, '-c', "import sys; sys.stderr.write('lenscribe-e2e: boom\\n'); sys.exit(3)"],
  });
  const died = page.locator('.notifications-toasts .notification-toast', { hasText: 'failed to start' });
  await died.first().waitFor({ state: 'visible', timeout: 60_000 });
  const diedText = (await died.first().locator('.notification-list-item-message').innerText()).trim();
  log(`error notification: ${JSON.stringify(diedText)}`);
  if (!diedText.includes('lenscribe-e2e: boom')) {
    throw new Error(`the start failure does not quote the server's stderr: ${diedText}`);
  }
  await page.waitForTimeout(3000);
  const failures = await page.locator('.notifications-toasts .notification-toast', { hasText: 'failed to start' }).count();
  if (failures !== 1) {
    throw new Error(`expected one start-failure notification, got ${failures}`);
  }

  // Back to the working settings: the extension restarts the server and is ready again.
  writeJson(settingsFile, settings);
  await page.locator('.statusbar-item', { hasText: 'Lenscribe' }).locator('.codicon-check').first().waitFor({ timeout: 60_000 });
  log('server restarted after the settings were fixed');

  // From no server at all: no server setting, no `lenscribe` on PATH, and PATH's python3 (the base interpreter of
  // LENSCRIBE_PYTHON, which cannot import lenscribe) -> the extension offers "Install Server", makes its own venv in its
  // global storage from the bundled wheel (dependencies from the package index) and starts the server from it.
  await runCommand(page, 'Notifications: Clear All Notifications');
  const noServer = { ...settings };
  delete noServer['lenscribe.server.pythonPath'];
  writeJson(settingsFile, noServer);
  const offer = page.locator('.notifications-toasts .notification-toast', { hasText: 'language server is not installed' });
  await offer.first().waitFor({ state: 'visible', timeout: 60_000 });
  if (!/No Python with the lenscribe package was found/.test(lenscribeLog(userData))) {
    throw new Error('the install was offered although the extension did not report that it found no server');
  }
  log(`install offer: ${JSON.stringify((await offer.first().locator('.notification-list-item-message').innerText()).trim())}`);
  await shot('vscode-install-offer.png');
  await offer.first().locator('.monaco-button', { hasText: 'Install Server' }).first().click();
  const installing = page.locator('.notifications-toasts .notification-toast', { hasText: 'installing the server' });
  await installing.first().waitFor({ state: 'visible', timeout: 30_000 });
  await shot('vscode-install-progress.png');
  await page.locator('.statusbar-item', { hasText: 'Lenscribe' }).locator('.codicon-check').first().waitFor({ timeout: INSTALL_TIMEOUT_MS });
  const marker = path.join(userData, 'User', 'globalStorage', 'lenscribe.lenscribe', 'server-venv', 'lenscribe-install.json');
  if (!fs.existsSync(marker)) {
    throw new Error(`the server is running but ${marker} is missing`);
  }
  log(`installed: ${fs.readFileSync(marker, 'utf8').replace(/\s+/g, ' ')}`);
  const startedFrom = lenscribeLog(userData).match(/starting the server \(([^)]*)\)[^\n]*/g) ?? [];
  if (!/own server environment/.test(startedFrom[startedFrom.length - 1] ?? '')) {
    throw new Error(`the last server start is not from the extension's own environment: ${startedFrom.join(' | ')}`);
  }
  log(startedFrom[startedFrom.length - 1]);
  await editor.locator('.codelens-decoration', { hasText: EXPECT.add }).first().waitFor({ state: 'visible', timeout: 120_000 });
  await shot('vscode-installed.png');
  // A request that only a running server answers: Copy Summary at the cursor (lenscribe.summaryAt).
  await returnLine.click({ position: { x: 60, y: 5 } });
  await runCommand(page, 'Lenscribe: Copy Summary');
  await page.locator('.statusbar-item', { hasText: 'copied the summary of add' }).first().waitFor({ timeout: 60_000 });
  log('the installed server summarizes');

  // Lenscribe: Update/Reinstall Server makes the environment again and restarts the server from it.
  const before = fs.statSync(marker).mtimeMs;
  await runCommand(page, 'Lenscribe: Update/Reinstall Server');
  await page.locator('.notifications-toasts .notification-toast', { hasText: 'installing the server' }).first().waitFor({ state: 'visible', timeout: 30_000 });
  const deadline = Date.now() + INSTALL_TIMEOUT_MS;
  while (!(fs.existsSync(marker) && fs.statSync(marker).mtimeMs > before)) {
    if (Date.now() > deadline) {
      throw new Error(`Update/Reinstall Server did not rewrite ${marker} in ${INSTALL_TIMEOUT_MS / 1000} s`);
    }
    await page.waitForTimeout(500);
  }
  await page.locator('.statusbar-item', { hasText: 'Lenscribe' }).locator('.codicon-check').first().waitFor({ timeout: 60_000 });
  const starts = lenscribeLog(userData).match(/starting the server \(the extension's own server environment\)/g) ?? [];
  if (starts.length < 2) {
    throw new Error(`expected the server to start again from the reinstalled environment (${starts.length} starts)`);
  }
  log('reinstalled and restarted');

  log(`PASSED in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

let failed = false;
try {
  await main();
} catch (e) {
  failed = true;
  console.error(`[e2e] FAILED: ${e?.stack ?? e}`);
} finally {
  await cleanup();
  clearTimeout(watchdog);
}
process.exit(failed ? 1 : 0);
