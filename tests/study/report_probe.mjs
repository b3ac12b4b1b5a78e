// Loads an HTML page in headless Chromium through the DevTools protocol (--remote-debugging-pipe) and
// prints, as one JSON object, what rendered: every image (loaded, natural size), every table's row
// count, how every table is laid out (its width, its scroll container, whether its first column stays
// in view when scrolled to the right end), which cells are bold per column, the colour of each signed
// number, the page's width against the window's, console errors, uncaught exceptions, error log
// entries and every URL the page requested; saves a screenshot of the top of the page.
//   node report_probe.mjs CHROMIUM_BINARY FILE_URL SCREENSHOT_PNG
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const [chromium, url, screenshotPath] = process.argv.slice(2);
const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'qtalign-chromium-'));
const browser = spawn(chromium, [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  `--user-data-dir=${userDataDir}`, '--remote-debugging-pipe', 'about:blank',
], { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
let browserLog = '';
browser.stdio[2].on('data', (chunk) => { browserLog += chunk; });

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 0;
const pending = new Map();
const listeners = [];
let buffer = '';
fromBrowser.on('data', (chunk) => {
  buffer += chunk.toString('utf8');
  for (let end = buffer.indexOf('\0'); end >= 0; end = buffer.indexOf('\0')) {
    const message = JSON.parse(buffer.slice(0, end));
    buffer = buffer.slice(end + 1);
    if (message.id !== undefined && pending.has(message.id)) {
      const { resolve, reject } = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) reject(new Error(JSON.stringify(message.error)));
      else resolve(message.result);
    } else if (message.method) {
      for (const listener of listeners) listener(message);
    }
  }
});

function send(method, params = {}, sessionId = undefined) {
  const message = { id: ++nextId, method, params };
  if (sessionId) message.sessionId = sessionId;
  toBrowser.write(JSON.stringify(message) + '\0');
  return new Promise((resolve, reject) => pending.set(message.id, { resolve, reject }));
}

function fail(error) {
  console.log(JSON.stringify({ error: String(error), browserLog }));
  browser.kill('SIGKILL');
  fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  process.exit(2);
}
setTimeout(() => fail('timed out after 90 s'), 90000).unref();

try {
  const consoleErrors = [];
  const exceptions = [];
  const logErrors = [];
  const requests = [];
  let loaded;
  const loadFired = new Promise((resolve) => { loaded = resolve; });
  listeners.push((message) => {
    const p = message.params || {};
    if (message.method === 'Runtime.consoleAPICalled' && (p.type === 'error' || p.type === 'assert'))
      consoleErrors.push((p.args || []).map((a) => a.value ?? a.description).join(' '));
    else if (message.method === 'Runtime.exceptionThrown') exceptions.push(p.exceptionDetails?.text || 'exception');
    else if (message.method === 'Log.entryAdded' && p.entry?.level === 'error') logErrors.push(p.entry.text);
    else if (message.method === 'Network.requestWillBeSent') requests.push(p.request.url.slice(0, 120));
    else if (message.method === 'Page.loadEventFired') loaded();
  });

  const { targetId } = await send('Target.createTarget', { url: 'about:blank' });
  const { sessionId } = await send('Target.attachToTarget', { targetId, flatten: true });
  for (const domain of ['Page', 'Runtime', 'Log', 'Network']) await send(`${domain}.enable`, {}, sessionId);
  await send('Emulation.setDeviceMetricsOverride', { width: 1280, height: 1000, deviceScaleFactor: 1, mobile: false }, sessionId);
  await send('Page.navigate', { url }, sessionId);
  await loadFired;

  const probe = `JSON.stringify({
    title: document.title,
    images: [...document.images].map((i) => ({ alt: i.alt, complete: i.complete, width: i.naturalWidth, height: i.naturalHeight })),
    figures: document.querySelectorAll('figure').length,
    tables: [...document.querySelectorAll('table')].map((t) => t.rows.length),
    sections: document.querySelectorAll('section').length,
    height: document.documentElement.scrollHeight,
    width: { page: document.documentElement.scrollWidth, window: document.documentElement.clientWidth },
    layout: [...document.querySelectorAll('table')].map((t) => {
      let scroller = null;
      for (let e = t.parentElement; e && e !== document.body && !scroller; e = e.parentElement)
        if (['auto', 'scroll'].includes(getComputedStyle(e).overflowX)) scroller = e;
      const box = t.getBoundingClientRect();
      const layout = { width: box.width, right: box.right, scroller: !!scroller, scrolls: false, firstColumnStays: null };
      if (scroller && scroller.scrollWidth > scroller.clientWidth) {
        layout.scrolls = true;
        scroller.scrollLeft = scroller.scrollWidth;
        const edge = scroller.getBoundingClientRect().left;
        layout.firstColumnStays = [...t.rows].every((row) => Math.abs(row.cells[0].getBoundingClientRect().left - edge) < 2);
        scroller.scrollLeft = 0;
      }
      return layout;
    }),
    bold: [...document.querySelectorAll('table')].map((t) => ({
      header: t.rows.length ? [...t.rows[0].cells].map((c) => c.textContent.trim()) : [],
      perColumn: t.rows.length ? [...t.rows[0].cells].map((_, i) =>
        [...t.rows].slice(1).filter((r) => r.cells[i] && r.cells[i].querySelector('strong')).length) : [],
    })),
    signed: [...document.querySelectorAll('td')].filter((c) => /^[+-][0-9]/.test(c.textContent.trim()))
      .map((c) => ({ text: c.textContent.trim(), color: getComputedStyle(c).color })),
    textColor: getComputedStyle(document.body).color,
  })`;
  const evaluated = await send('Runtime.evaluate', { expression: probe, returnByValue: true }, sessionId);
  const page = JSON.parse(evaluated.result.value);

  const shot = await send('Page.captureScreenshot', {
    format: 'png', captureBeyondViewport: true,
    clip: { x: 0, y: 0, width: 1280, height: Math.min(page.height, 4000), scale: 1 },
  }, sessionId);
  fs.writeFileSync(screenshotPath, Buffer.from(shot.data, 'base64'));

  console.log(JSON.stringify({ ...page, consoleErrors, exceptions, logErrors, requests }));
  // Chromium's helper processes may still be writing the profile when Browser.close answers: wait
  // for the browser to exit, and retry the removal while the directory is still being emptied.
  const exited = new Promise((resolve) => browser.once('exit', resolve));
  await send('Browser.close').catch(() => {});
  await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10000))]);
  fs.rmSync(userDataDir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  process.exit(0);
} catch (error) {
  fail(error);
}
