// `tongban bench node` runs this: a cold load of the clerk's queue page (今日队列) in
// headless Chromium from a node on loopback. Prints one JSON line:
//   first_paint_ms  the browser's first-contentful-paint of the page (median of runs)
//   ready_ms        navigation start until the queue's figures are shown (median)
//   bytes           bytes received for that first page (headers + compressed bodies: the
//                   console's files and the API answers), from the first (cold) run
// Usage: node console_paint.mjs <base url> <username> <password> [runs]
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const [base, username, password, runsArg] = process.argv.slice(2)
const runs = Number(runsArg || 5)
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const require = createRequire(join(root, 'web', 'package.json'))
const { chromium } = require('playwright-core')

const login = await fetch(`${base}/api/v1/login`, {
  method: 'POST',
  headers: { 'Content-Type': 'application/json' },
  body: JSON.stringify({ username, password }),
})
if (!login.ok) throw new Error(`login: ${login.status}`)
const s = await login.json()
const session = JSON.stringify({ token: s.token, username: s.username, display_name: s.display_name,
  role: s.role, role_zh: s.role_zh, site: s.site, site_name: '', expires_at: s.expires_at })

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
})
const paints = []
const ready = []
let bytes = 0
try {
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ locale: 'zh-CN', timezoneId: 'Asia/Shanghai', viewport: { width: 1366, height: 860 } })
    await ctx.addInitScript((v) => sessionStorage.setItem('tongban.session', v), session)
    const page = await ctx.newPage()
    const cdp = await ctx.newCDPSession(page)
    await cdp.send('Network.enable')
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true })
    let received = 0
    cdp.on('Network.loadingFinished', (e) => { received += e.encodedDataLength })
    await page.goto(`${base}/console/#/queue`)
    await page.getByRole('heading', { name: /今日队列\s*\d{4}-/ }).waitFor()
    const t = await page.evaluate(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]
      return { fcp: fcp ? fcp.startTime : null, now: performance.now() }
    })
    paints.push(t.fcp)
    ready.push(t.now)
    if (i === 0) bytes = received
    await ctx.close()
  }
} finally {
  await browser.close()
}
const median = (a) => a.slice().sort((x, y) => x - y)[Math.floor(a.length / 2)]
const round = (v) => Math.round(v * 10) / 10
console.log(JSON.stringify({ first_paint_ms: round(median(paints)), ready_ms: round(median(ready)), bytes, runs }))
