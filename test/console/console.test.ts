/**
 * The console in a real browser (Debian's Chromium driven by playwright-core) against a real engine on the offline
 * defaults: sign in, create an assistant, talk to it with a fake microphone playing a recording (flite speech
 * through pocketsphinx and the rules agent), see the reply in the live transcript, open that call in the history
 * and play its recording, upload a document and search it; a wrong key shows an error and no data. Screenshots of
 * the main pages go to docs/console/ when CONSOLE_SCREENSHOTS=1 (how the README's pictures were made).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { buildConsole, findRoot } from '../../src/console/build.js';
import { createEngine, type Engine } from '../../src/engine.js';
import { silentLogger } from '../../src/log.js';

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));
const FLITE = existsSync('/usr/bin/flite');
const EMAIL = 'console@example.com';
const KEY = 'vek_console_test_key_0123456789abcdef';
const ROOT = findRoot();
const SHOTS = process.env.CONSOLE_SCREENSHOTS === '1' ? path.join(ROOT, 'docs', 'console') : undefined;

describe.skipIf(!CHROMIUM || !FLITE)('console in Chromium', () => {
  let dir: string;
  let engine: Engine;
  let base: string;
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 've-console-'));
    // The engine serves the built assets; build them when this checkout has not (CI builds before testing).
    if (!existsSync(path.join(ROOT, 'dist', 'console', 'app.js')))
      await buildConsole(path.join(ROOT, 'dist', 'console'));
    // The fake microphone: a caller asking a question, then silence (Chromium loops the file).
    const speech = path.join(dir, 'speech.wav');
    const mic = path.join(dir, 'mic.wav');
    execFileSync('flite', ['-t', 'What are your opening hours?', '-o', speech]);
    execFileSync('sox', [speech, '-r', '16000', '-c', '1', '-b', '16', mic, 'pad', '1.5', '6']);
    const config = loadConfig({ DATA_DIR: dir, PORTAL_EMAIL: EMAIL, PORTAL_API_KEY: KEY, LOG_LEVEL: 'silent' });
    engine = await createEngine({ config, logger: silentLogger, print: () => {} });
    base = (await engine.listen({ port: 0, host: '127.0.0.1' })).url;
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--autoplay-policy=no-user-gesture-required',
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        `--use-file-for-fake-audio-capture=${mic}`,
      ],
    });
    const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, permissions: ['microphone'] });
    page = await context.newPage();
    if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await engine?.close();
    await rm(dir, { recursive: true, force: true });
  });

  const shot = async (name: string) => {
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  };

  it('a wrong key shows an error in words and no data', async () => {
    await page.goto(`${base}/console`);
    await page.fill('#email', EMAIL);
    await page.fill('#key', 'vek_wrong_key_000000000000000000');
    await page.click('button[type=submit]');
    const err = page.locator('.error');
    await err.waitFor();
    expect(await err.textContent()).toMatch(/UNAUTHORIZED|invalid|credentials/i);
    expect(await page.locator('nav').count()).toBe(0);
    await shot('sign-in-error');
  });

  it('signs in, creates an assistant and edits its first message', async () => {
    await page.fill('#key', KEY);
    await page.click('button[type=submit]');
    await page.locator('nav').waitFor();
    await page.click('#new-assistant');
    await page.locator('.editor textarea[name=prompt]').waitFor();
    await page.fill('.editor input[name=firstMessage]', 'Hello from Acme.');
    await page.click('.editor form button[type=submit]');
    await page.locator('.editor .ok').waitFor();
    // The rules agent answers the question the microphone asks.
    const llm = page.locator('details', { hasText: 'llm' }).first();
    await llm.locator('summary').click();
    await llm
      .locator('textarea')
      .fill(
        JSON.stringify({ rules: [{ keywords: ['hours', 'open', 'opening'], reply: 'We open at nine every day.' }] }),
      );
    await llm.locator('button').click();
    await llm.locator('.ok').waitFor();
    const list = await engine.store.assistants.list(engine.firstTenantId as string, {});
    const rows = Array.isArray(list) ? list : (list as { rows: Array<{ config: { firstMessage?: string } }> }).rows;
    expect(rows[0]?.config.firstMessage).toBe('Hello from Acme.');
    await shot('assistants');
  });

  it('talks to the assistant from the browser microphone and shows the reply in the live transcript', async () => {
    await page.goto(`${base}/console#/talk`);
    await page.click('#talk-start');
    await page.locator('#talk-status', { hasText: 'in call' }).waitFor({ timeout: 20_000 });
    const transcript = page.locator('#talk-transcript');
    await transcript.locator('li.assistant', { hasText: 'Hello from Acme' }).waitFor({ timeout: 20_000 });
    // The caller's question is heard and the agent answers it. The fake microphone loops the recording (question,
    // 6 s of silence), and the call may start mid-question: the first pass can be a fragment, the next is whole.
    await transcript.locator('li.user').first().waitFor({ timeout: 40_000 });
    const answer = transcript.locator('li.assistant', { hasText: /nine/i }).first();
    await answer.waitFor({ timeout: 60_000 }).catch(async () => {
      throw new Error(`no answer; transcript: ${(await transcript.locator('li').allTextContents()).join(' / ')}`);
    });
    await shot('talk');
    // Meanwhile, another tab on "Live calls" shows the call with its transcript, updating from the events stream.
    const live = await page.context().newPage();
    await live.goto(`${base}/console`);
    await live.fill('#email', EMAIL);
    await live.fill('#key', KEY);
    await live.click('button[type=submit]');
    await live.locator('nav').waitFor();
    await live.goto(`${base}/console#/live`);
    const card = live.locator('article.live-call').first();
    await card.waitFor({ timeout: 20_000 });
    await card.locator('li.assistant').first().waitFor({ timeout: 40_000 });
    if (SHOTS) await live.screenshot({ path: path.join(SHOTS, 'live.png'), fullPage: true });
    await page.click('#talk-stop');
    await card.locator('.badge', { hasText: /completed|failed/ }).waitFor({ timeout: 20_000 });
    await live.close();
    await page.locator('#talk-status', { hasText: 'ended' }).waitFor();
  }, 150_000);

  it('opens that call in the history with its transcript and plays its recording', async () => {
    // The call's record is complete once the session's post-call work lands.
    for (let i = 0; i < 100 && engine.sessions.size > 0; i++) await new Promise((r) => setTimeout(r, 100));
    await page.goto(`${base}/console#/calls`);
    const first = page.locator('table.list tbody tr a').first();
    await first.waitFor();
    await first.click();
    await page.locator('ol.transcript li').first().waitFor();
    expect(await page.locator('ol.transcript').textContent()).toContain('Hello from Acme');
    const audio = page.locator('audio#recording');
    await audio.waitFor();
    // Runs in the page; this file is compiled for Node without the DOM's types, hence the element's minimal shape.
    type AudioEl = { readyState: number; duration: number; currentTime: number; muted: boolean; play(): Promise<void> };
    type Doc = { document: { querySelector(s: string): AudioEl | null } };
    await page.waitForFunction(() => {
      const a = (globalThis as unknown as Doc).document.querySelector('audio#recording');
      return !!a && a.readyState >= 1 && a.duration > 0;
    });
    const played = await page.evaluate(async () => {
      const a = (globalThis as unknown as Doc).document.querySelector('audio#recording');
      if (!a) return { time: 0, duration: 0 };
      a.muted = true;
      await a.play();
      await new Promise((r) => setTimeout(r, 600));
      return { time: a.currentTime, duration: a.duration };
    });
    expect(played.duration).toBeGreaterThan(1);
    expect(played.time).toBeGreaterThan(0);
    await shot('call-detail');
  }, 60_000);

  it('uploads a document with progress and searches it', async () => {
    await page.goto(`${base}/console#/knowledge`);
    const doc = path.join(dir, 'faq.txt');
    await writeFile(
      doc,
      'Opening hours\n\nWe are open from nine to five, Monday to Friday.\n\nParking is free behind the store.',
    );
    await page.setInputFiles('#file', doc);
    await page.click('form.row button[type=submit]');
    await page.locator('table.list tbody tr', { hasText: 'faq.txt' }).waitFor({ timeout: 30_000 });
    await page.fill('#query', 'where can I park');
    await page.click('form.row:has(#query) button');
    const hit = page.locator('ol.hits li').first();
    await hit.waitFor();
    expect(await hit.textContent()).toMatch(/parking/i);
    await shot('knowledge');
  }, 60_000);

  it('renders the other pages without errors, at phone width too', async () => {
    for (const p of ['analytics', 'webhooks', 'keys']) {
      await page.goto(`${base}/console#/${p}`);
      await page.locator('main h2').waitFor();
      expect(await page.locator('.error').count()).toBe(0);
      await shot(p);
    }
    await page.setViewportSize({ width: 390, height: 800 });
    await page.goto(`${base}/console#/calls`);
    await page.locator('main h2').waitFor();
    await shot('phone-calls');
    await page.setViewportSize({ width: 1280, height: 860 });
  });
});
