// Browser tests of the web console (issue: 工作台): real tongban-hub and tongban-node
// processes on loopback (ephemeral ports, data in a temp dir), driven by Debian's chromium
// through playwright-core. Elements are found by role and Chinese text, never by pixels.
// Screenshots of each page go to <build>/browser-shots/.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, cpSync, readFileSync, existsSync, rmSync, readdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
export const root = join(here, '..', '..')
export const build = process.env.TONGBAN_BUILD || join(root, 'build')
const require = createRequire(join(root, 'web', 'package.json'))
const { chromium } = require('playwright-core')
export const password = 'browser-test-pass-1'
export const shots = join(build, 'browser-shots')
mkdirSync(shots, { recursive: true })

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
async function waitFile(p, ms = 15000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (existsSync(p) && readFileSync(p, 'utf8').trim()) return readFileSync(p, 'utf8').trim()
    await sleep(50)
  }
  throw new Error(`timed out waiting for ${p}`)
}

// A district on loopback: the hub and the named sites, each provisioned with demo staff.
export async function startDistrict(sites = ['S01'], { hub = true, nodeArgs = {} } = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'tongban-browser-'))
  const sc = join(dir, 'site-config')
  mkdirSync(join(sc, 'keys'), { recursive: true })
  for (const f of readdirSync(join(root, 'site-config'))) if (f.endsWith('.toml')) cpSync(join(root, 'site-config', f), join(sc, f))
  const cli = join(build, 'tools', 'tongban')
  const env = { ...process.env, TONGBAN_PASSWORD: password }
  const procs = []
  const out = { dir, sites: {}, procs, env }
  // Each daemon's key-encryption key lies beside its data dir; one district key for all.
  const keys = (id) => ['--key-file', join(dir, `${id}.kek`)]
  const districtKey = ['--district-key', join(dir, 'district.key')]
  if (hub) execFileSync(cli, ['provision', '--hub', '--site-config', sc, '--data', join(dir, 'HUB'), ...keys('HUB'), ...districtKey], { env, stdio: 'ignore' })
  for (const s of sites)
    execFileSync(cli, ['provision', '--site-config', sc, '--site', s, '--data', join(dir, s), '--demo-staff', ...keys(s), ...districtKey], { env, stdio: 'ignore' })
  const start = (bin, args, name) => {
    const p = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] })
    let log = ''
    p.stderr.on('data', (d) => { log = (log + d).slice(-20000) })
    p.name = name
    p.log = () => log
    procs.push(p)
    return p
  }
  let sync = ''
  if (hub) {
    start(join(build, 'hub', 'tongban-hub'), ['--site-config', sc, '--data', join(dir, 'HUB'), '--sync', 'tcp://127.0.0.1:0',
      '--port-file', join(dir, 'hub.port'), '--sync-port-file', join(dir, 'sync.port'), ...keys('HUB')], 'hub')
    out.hub = `http://127.0.0.1:${await waitFile(join(dir, 'hub.port'))}`
    sync = `tcp://127.0.0.1:${await waitFile(join(dir, 'sync.port'))}`
  }
  for (const s of sites) {
    const args = ['--site-config', sc, '--site', s, '--data', join(dir, s), '--port-file', join(dir, `${s}.port`), ...keys(s)]
    if (hub) args.push('--hub', sync)
    else args.push('--offline')
    args.push(...(nodeArgs[s] || []))
    start(join(build, 'node', 'tongban-node'), args, s)
    out.sites[s] = `http://127.0.0.1:${await waitFile(join(dir, `${s}.port`))}`
  }
  out.stop = () => {
    for (const p of procs) p.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
  return out
}

// The JSON API directly (for setting up what a test does not click through).
export async function api(base, method, path, body, token) {
  const headers = { 'Content-Type': 'application/json' }
  if (token) headers.Authorization = `Bearer ${token}`
  const r = await fetch(`${base}/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
  const data = await r.json().catch(() => null)
  if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${JSON.stringify(data)}`)
  return data
}
export async function token(base, username, pw = password) {
  return (await api(base, 'POST', '/login', { username, password: pw })).token
}

export async function browser() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  })
}
export async function page(b, opts = {}) {
  const ctx = await b.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 860 }, ...opts })
  const p = await ctx.newPage()
  p.setDefaultTimeout(15000)
  p.errors = []
  p.on('pageerror', (e) => p.errors.push(String(e)))
  return p
}
export async function shot(p, name) {
  await p.screenshot({ path: join(shots, `${name}.png`), fullPage: true })
}
export async function loginAs(p, base, username, pw = password) {
  await p.goto(`${base}/`)
  await p.getByRole('textbox', { name: '用户名' }).fill(username)
  await p.getByRole('textbox', { name: '密码' }).fill(pw)
  await p.getByRole('button', { name: '登录' }).click()
  await p.waitForURL((u) => !u.hash.startsWith('#/login'))
}

// A valid resident ID number (GB 11643 check character) for a birth date.
export function residentId(region, birth, serial) {
  const body = `${region}${birth}${serial}`
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
  let sum = 0
  for (let i = 0; i < 17; i++) sum += Number(body[i]) * w[i]
  return body + '10X98765432'[sum % 11]
}

// Opens a paper in a new page of the viewer's session, prints it to PDF as the browser
// would, and reads the PDF's text back with pdftotext.
export async function printedText(b, url, viewer) {
  const storage = await viewer.evaluate(() => sessionStorage.getItem('tongban.session'))
  const ctx = await b.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai' })
  await ctx.addInitScript((s) => sessionStorage.setItem('tongban.session', s), storage)
  const p = await ctx.newPage()
  await p.goto(url)
  await p.locator('body[data-ready="1"]').waitFor()
  const name = url.split('#/print/')[1].replace(/\//g, '-')
  const pdf = join(shots, `${name}.pdf`)
  await p.pdf({ path: pdf, format: 'A4', printBackground: true, preferCSSPageSize: true })
  await p.screenshot({ path: join(shots, `print-${name}.png`), fullPage: true })
  await ctx.close()
  return execFileSync('pdftotext', ['-layout', pdf, '-'], { encoding: 'utf8' })
}

// Waits until the case page's status tag reads `text`.
export async function status(p, text) {
  await p.getByRole('status', { name: '办件状态' }).filter({ hasText: new RegExp(`^${text}$`) }).waitFor()
}

// Files an application through the API (what a test does not click through): an MZ002
// (最低生活保障) by default with every material, accepted at once when `accept` is set.
const ALL_MZ002 = ['ID', 'HKB', 'INCOME', 'AUTH_CHECK', 'HOUSE_PROOF']
export async function fileCase(base, tok, { name, born, serial, phone, item = 'MZ002', provided = ALL_MZ002, accept = false, path = '/cases', channel = 'window' }) {
  const body = { item_code: item, applicant: { name, id_number: residentId('610113', born, serial), phone }, provided, channel }
  if (accept) body.accept = { tolerated: [], commitment_signed: false, supply_days: 0 }
  return api(base, 'POST', path, body, tok)
}
