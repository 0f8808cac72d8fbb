// The district as one: 电子材料 and 一人一档, and the hub's supervision pages (电子监察,
// 好差评, 改革体验官, 中介超市, the monthly report).
//
// 电子材料: a window clerk scans the ID card into the case (the upload button of its material
// entry), opens it, and the read shows in the case's records; a file that only claims to
// be a PDF is refused with the server's message. At the hub the scan arrives, and an
// operator opens it only after stating a reason.
//
// 一人一档: a clerk at S02 types the resident's ID number for an item they already applied
// for at S01 and is warned before accepting; a lookup of the resident's cases across sites
// asks for a reason, which the hub records, and the hub's supervisor reads in 审计记录.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, api, token, fileCase, residentId } from './harness.mjs'

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

// A PNG as the node checks one (signature, IHDR first, IEND last).
function png() {
  const body = Buffer.alloc(3000, 7)
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]),
    Buffer.from('IHDR'), Buffer.alloc(17, 1), body,
    Buffer.from([0, 0, 0, 0]), Buffer.from('IEND'), Buffer.from([0xae, 0x42, 0x60, 0x82]),
  ])
}

async function choose(p, buttonName, file) {
  const [chooser] = await Promise.all([p.waitForEvent('filechooser'), p.getByRole('button', { name: buttonName }).click()])
  await chooser.setFiles(file)
}

test('a clerk attaches a scan and an operator reads it with a reason', async () => {
  const d = await startDistrict(['S01'])
  const b = await browser()
  try {
    const clerk = await token(d.sites.S01, 'clerk')
    const c = await fileCase(d.sites.S01, clerk, { name: '韩晓燕', born: '19800303', serial: '045', phone: '13500006666', accept: true })
    const p = await page(b)
    await loginAs(p, d.sites.S01, 'clerk')
    await p.goto(`${d.sites.S01}/console/#/cases/${c.case_id}`)
    await p.getByRole('status', { name: '办件状态' }).waitFor()

    // A text file named .pdf is refused: the server's message is shown, nothing attached.
    await choose(p, '上传 居民身份证', { name: '身份证.pdf', mimeType: 'application/pdf', buffer: Buffer.from('not a pdf at all') })
    await p.getByText('仅接受完整的 PDF、JPEG、PNG 文件').waitFor()

    await choose(p, '上传 居民身份证', { name: '身份证正反面.png', mimeType: 'image/png', buffer: png() })
    await p.getByText('已上传：身份证正反面.png').waitFor()
    const [popup] = await Promise.all([p.waitForEvent('popup'), p.getByRole('button', { name: '查看 身份证正反面.png' }).click()])
    await popup.close()
    await p.getByRole('heading', { name: '材料查阅记录' }).waitFor()
    await p.getByRole('cell', { name: 'clerk' }).first().waitFor()
    await shot(p, 'clerk-case-documents')
    const view = await api(d.sites.S01, 'GET', `/cases/${c.case_id}`, undefined, clerk)
    assert.equal(view.documents.length, 1)
    assert.equal(view.document_reads.length, 1)

    // At the hub: the file arrives; the operator gives a reason to open it.
    const op = await token(d.hub, 'operator')
    for (let i = 0; i < 300; i++) {
      const r = await api(d.hub, 'GET', `/cases/${c.case_id}/documents`, undefined, op).catch(() => null)
      if (r && r.documents.length === 1 && r.documents[0].state === 'complete') break
      await sleep(100)
    }
    const h = await page(b)
    await loginAs(h, d.hub, 'operator')
    await h.goto(`${d.hub}/console/#/cases/${c.case_id}`)
    await h.getByRole('status', { name: '办件状态' }).waitFor()
    await h.getByRole('button', { name: /^查看 / }).click()
    await h.getByRole('dialog', { name: '查看材料' }).getByRole('textbox').fill('核实跨区办理材料')
    const [hubPopup] = await Promise.all([h.waitForEvent('popup'), h.getByRole('button', { name: '查看', exact: true }).click()])
    await hubPopup.close()
    await shot(h, 'operator-case-documents')
    const reads = await api(d.hub, 'GET', '/audit/personal-reads', undefined, op)
    assert.match(reads.reads[0].reason, /核实跨区办理材料$/)
    assert.equal(reads.reads[0].case_id, c.case_id)
    assert.deepEqual(p.errors.concat(h.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})

test('a clerk is warned of the same application at another site and looks up with a reason', async () => {
  const d = await startDistrict(['S01', 'S02'])
  const b = await browser()
  try {
    const s01 = await token(d.sites.S01, 'clerk')
    const first = await fileCase(d.sites.S01, s01, { name: '贺建军', born: '19560606', serial: '071', phone: '13500007777', accept: true })
    const op = await token(d.hub, 'operator')
    for (let i = 0; i < 300; i++) {
      const r = await api(d.hub, 'GET', `/cases/${first.case_id}`, undefined, op).catch(() => null)
      if (r) break
      await sleep(100)
    }
    const p = await page(b)
    await loginAs(p, d.sites.S02, 'clerk')
    await p.getByRole('menuitem', { name: '综窗受理' }).click()
    await p.getByRole('combobox', { name: '事项' }).click()
    await p.keyboard.type('最低生活保障')
    await p.getByRole('option', { name: /最低生活保障申请/ }).click()
    await p.getByRole('textbox', { name: '申请人姓名' }).fill('贺建军')
    await p.getByRole('textbox', { name: '身份证号码' }).fill(residentId('610113', '19560606', '071'))
    const warning = p.getByRole('alert').filter({ hasText: '该申请人在本区已有同一事项在办' })
    await warning.waitFor()
    await warning.getByText(first.case_id).waitFor()
    await shot(p, 'clerk-district-duplicate')

    await p.getByRole('menuitem', { name: '案件查询' }).click()
    // Exact: until the page changes, the acceptance form's 身份证号码 would match too.
    await p.getByRole('heading', { name: '案件查询' }).waitFor()
    await p.getByRole('textbox', { name: '身份证号', exact: true }).fill(residentId('610113', '19560606', '071'))
    await p.getByRole('button', { name: '全区查询' }).click()
    await p.getByRole('dialog', { name: '全区查询' }).getByRole('textbox').fill('核实是否重复申请')
    await p.getByRole('button', { name: '查询', exact: true }).last().click()
    const dlg = p.getByRole('dialog', { name: '申请人全区办件' })
    await dlg.getByRole('cell', { name: first.case_id }).waitFor()
    await p.getByRole('dialog', { name: '全区查询' }).waitFor({ state: 'hidden' })
    await p.waitForTimeout(400)  // the dialog's entry animation
    await shot(p, 'clerk-district-lookup')
    const audit = await api(d.hub, 'GET', '/audit/resident-lookups', undefined, op)
    assert.equal(audit.count, 1)
    assert.equal(audit.lookups[0].site, 'S02')
    assert.equal(audit.lookups[0].reason, '核实是否重复申请')

    // The hub's supervisor (监察员) sees the lookup in 审计记录, and has no dispatch menu.
    const s = await page(b)
    await loginAs(s, d.hub, 'supervisor')
    await s.getByRole('menuitem', { name: '区域总览' }).waitFor()
    assert.equal(await s.getByRole('menuitem', { name: '调度与冲突' }).count(), 0)
    await s.getByRole('menuitem', { name: '审计记录' }).click()
    await s.getByRole('tab', { name: /跨站点查询（1）/ }).click()
    await s.getByRole('cell', { name: '核实是否重复申请' }).waitFor()
    await s.getByRole('cell', { name: 'S02' }).first().waitFor()
    await s.waitForTimeout(300)  // the tab's transition
    await shot(s, 'supervisor-audit')
    assert.deepEqual(p.errors.concat(s.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})

test('a supervisor finds a brief refusal in 电子监察 and orders it rectified and the site answers', async () => {
  const d = await startDistrict(['S01'])
  const b = await browser()
  try {
    const clerk = await token(d.sites.S01, 'clerk')
    const c = await fileCase(d.sites.S01, clerk, { name: '杜文静', born: '19880808', serial: '082', phone: '13500008888' })
    await api(d.sites.S01, 'POST', `/cases/${c.case_id}/refuse`, { reason: '不符' }, clerk)
    const sup = await token(d.hub, 'supervisor')
    for (let i = 0; i < 300; i++) {
      const r = await api(d.hub, 'GET', `/alerts?case_id=${c.case_id}`, undefined, sup)
      if (r.count === 1) break
      await sleep(100)
    }
    const p = await page(b)
    await loginAs(p, d.hub, 'supervisor')
    await p.getByRole('heading', { name: '电子监察' }).waitFor()
    const row = p.getByRole('row').filter({ hasText: c.case_id })
    await row.getByText('不予受理/不予许可理由不充分').waitFor()
    await row.getByText('黄牌').waitFor()
    await shot(p, 'supervisor-alerts')
    await row.getByRole('button', { name: '责令整改' }).click()
    const dlg = p.getByRole('dialog', { name: '责令整改' })
    await dlg.getByRole('textbox', { name: '整改要求' }).fill('请补充不予受理的法定依据和具体理由')
    const due = new Date(Date.now() + 20 * 86400e3).toISOString().slice(0, 10)
    const picker = dlg.getByRole('combobox', { name: '整改期限' })
    await picker.fill(due)
    await picker.press('Enter')
    await dlg.getByRole('heading', { name: '责令整改' }).click()  // closes the calendar
    await dlg.getByRole('button', { name: '提交' }).click()
    await p.getByText('已下达整改要求').waitFor()
    // The open list no longer shows it; the alert is rectifying, by the supervisor.
    await p.getByText('没有符合条件的预警').waitFor()
    const after = await api(d.hub, 'GET', `/alerts?case_id=${c.case_id}`, undefined, sup)
    assert.equal(after.alerts[0].state, 'rectifying')
    assert.equal(after.alerts[0].actions[0].by, 'supervisor')
    assert.match(after.alerts[0].actions[0].note, /法定依据/)

    // The order reaches the site: its reviewer sees it on the home page, answers on the case.
    const r = await page(b)
    await loginAs(r, d.sites.S01, 'reviewer')
    const notice = r.getByRole('alert').filter({ hasText: '区级电子监察下发整改通知 1 件' })
    for (let i = 0; i < 100 && !(await notice.count()); i++) {
      await sleep(200)
      await r.getByRole('button', { name: '刷新' }).click()
    }
    await notice.getByRole('cell', { name: '请补充不予受理的法定依据和具体理由' }).waitFor()
    await shot(r, 'reviewer-rectification-orders')
    await r.getByRole('link', { name: c.case_id }).click()
    await r.getByRole('alert').filter({ hasText: '电子监察整改通知' }).waitFor()
    await r.getByRole('button', { name: /答复整改通知/ }).click()
    const answer = r.getByRole('dialog', { name: '答复整改通知' })
    await answer.getByRole('textbox').fill('已补充不予受理的法定依据，并电话告知申请人')
    await answer.getByRole('button', { name: '确定' }).click()
    await r.getByText(/已答复（reviewer/).waitFor()
    await answer.waitFor({ state: 'hidden' })
    await r.waitForTimeout(400)  // the dialog's exit animation
    await shot(r, 'reviewer-rectification-answered')
    let answered
    for (let i = 0; i < 100; i++) {
      answered = await api(d.hub, 'GET', `/alerts?case_id=${c.case_id}`, undefined, sup)
      if (answered.alerts[0].state === 'answered') break
      await sleep(100)
    }
    assert.equal(answered.alerts[0].state, 'answered')
    assert.equal(answered.alerts[0].actions[1].by, 'reviewer@S01')

    // 统计分析: the month's figures per site, with the chart.
    await p.getByRole('menuitem', { name: '统计分析' }).click()
    const s01 = p.getByRole('row').filter({ hasText: '丈八街道便民服务中心' })
    await s01.waitFor()
    assert.match(await s01.innerText(), /100\.0%/)  // 一次办成: the refusal needed no second visit
    await p.getByRole('img', { name: '各站点办结件数与按时办结率统计图' }).waitFor()
    await p.getByRole('radio', { name: '按经办人' }).click({ force: true })
    await p.getByRole('row').filter({ hasText: 'clerk' }).waitFor()
    await p.getByRole('radio', { name: '按站点' }).click({ force: true })
    await s01.waitFor()
    await p.waitForTimeout(400)  // the chart's animation
    await shot(p, 'supervisor-stats')
    assert.deepEqual(p.errors.concat(r.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})

test('a site appeals a 差评 and the supervisor upholds it and the month is published', async () => {
  const d = await startDistrict(['S01'])
  const b = await browser()
  try {
    const S01 = d.sites.S01
    const clerk = await token(S01, 'clerk')
    const reviewer = await token(S01, 'reviewer')
    // Two decided cases, each rated by its resident: 非常不满意 and 满意.
    const rate = async (who, level) => {
      const c = await fileCase(S01, clerk, { ...who, accept: true })
      await api(S01, 'POST', `/cases/${c.case_id}/review`, {}, reviewer)
      await api(S01, 'POST', `/cases/${c.case_id}/decide`, { approve: true }, reviewer)
      const t = await api(S01, 'POST', `/cases/${c.case_id}/rating-ticket`, {}, clerk)
      await api(S01, 'POST', `/ratings/${t.token}`, { level })
      return c.case_id
    }
    const bad = await rate({ name: '贾一鸣', born: '19770707', serial: '091', phone: '13500009191' }, 1)
    await rate({ name: '史红梅', born: '19780808', serial: '092', phone: '13500009292' }, 4)
    await api(S01, 'POST', `/cases/${bad}/callback`, { note: '已电话回访，申请人对结果不满' }, reviewer)

    // The reviewer appeals on the case with the facts.
    const r = await page(b)
    await loginAs(r, S01, 'reviewer')
    await r.goto(`${S01}/#/cases/${bad}`)
    await r.getByRole('button', { name: '差评申诉' }).click()
    const dlg = r.getByRole('dialog', { name: '差评申诉（申诉复核）' })
    await dlg.getByRole('textbox').fill('窗口全程录像显示服务规范，申请人因不符合条件给予差评')
    await dlg.getByRole('button', { name: '确定' }).click()
    await r.getByText('待区级复核').waitFor()
    await dlg.waitFor({ state: 'hidden' })
    await r.waitForTimeout(400)
    await shot(r, 'reviewer-rating-appeal')

    // The supervisor upholds it in 好差评 → 申诉复核.
    const sup = await token(d.hub, 'supervisor')
    for (let i = 0; i < 100; i++) {
      if ((await api(d.hub, 'GET', '/rating-appeals', undefined, sup)).appeals.length) break
      await sleep(100)
    }
    const p = await page(b)
    await loginAs(p, d.hub, 'supervisor')
    await p.getByRole('menuitem', { name: '好差评' }).click()
    await p.getByRole('tab', { name: '申诉复核（1）' }).click()
    const row = p.getByRole('row').filter({ hasText: bad })
    await row.getByText('窗口全程录像').waitFor()
    await row.getByRole('button', { name: '申诉成立' }).click()
    const decide = p.getByRole('dialog', { name: '认定申诉成立' })
    await decide.getByRole('textbox', { name: '复核意见' }).fill('录像证实服务规范，差评不计入排名')
    await decide.getByRole('button', { name: '确定' }).click()
    await p.getByText('已认定申诉成立').waitFor()
    await p.getByRole('tab', { name: '申诉复核（0）' }).waitFor()
    await p.getByRole('tab', { name: '月度排名' }).click()
    const ranked = p.getByRole('row').filter({ hasText: '丈八街道便民服务中心' })
    await ranked.waitFor()
    assert.match(await ranked.innerText(), /\b1\b[\s\S]*4/)  // one rating counts: the 满意
    await p.waitForTimeout(400)
    await shot(p, 'supervisor-ratings')

    // The public page, no login: the site's month, no staff names.
    const pub = await page(b)
    await pub.goto(`${d.hub}/#/public/ratings`)
    await pub.getByRole('heading', { name: /政务服务“好差评”结果公示/ }).waitFor()
    await pub.getByRole('cell', { name: '丈八街道便民服务中心' }).waitFor()
    assert.equal(await pub.getByText('clerk').count(), 0)
    await shot(pub, 'public-ratings')
    assert.deepEqual(p.errors.concat(r.errors, pub.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})

test('an experience officer files an issue and confirms the answer and the list is published', async () => {
  const d = await startDistrict(['S01'])
  const b = await browser()
  try {
    const sup = await token(d.hub, 'supervisor')
    const op = await token(d.hub, 'operator')
    const today = new Date(Date.now() + 8 * 3600e3)
    const day = (n) => new Date(today.getTime() + n * 86400e3).toISOString().slice(0, 10)
    const o = await api(d.hub, 'POST', '/officers', { username: 'tyg01', name: '王晓燕', organization: '高新区人大代表', term_from: day(-10), term_to: day(355) }, sup)

    const p = await page(b)
    await loginAs(p, d.hub, 'tyg01', o.initial_password)
    await p.getByRole('heading', { name: '改革体验官' }).waitFor()
    await p.getByRole('button', { name: '提出问题' }).click()
    const dlg = p.getByRole('dialog', { name: '提出问题' })
    await dlg.getByRole('textbox', { name: '问题标题' }).fill('窗口叫号屏不显示办理进度')
    await dlg.getByRole('textbox', { name: '问题描述' }).fill('综合窗口叫号屏只显示号码，群众反复询问办理进度。')
    await dlg.getByRole('textbox', { name: '涉及站点' }).fill('S01')
    await dlg.getByRole('button', { name: '提交' }).click()
    await p.getByText('问题已提交').waitFor()
    const row = p.getByRole('row').filter({ hasText: '窗口叫号屏不显示办理进度' })
    await row.getByText('待交办').waitFor()

    // The operator assigns it and records the department's answer.
    const [issue] = (await api(d.hub, 'GET', '/officer-issues', undefined, op)).issues
    await api(d.hub, 'POST', `/officer-issues/${issue.id}/assign`, { department: '民政局', due: day(10) }, op)
    await api(d.hub, 'POST', `/officer-issues/${issue.id}/answer`, { answer: '叫号系统已升级，显示办理进度' }, op)

    await p.reload()
    await row.getByText('已答复待确认').waitFor()
    await row.getByRole('button', { name: '确认销号' }).click()
    const confirm = p.getByRole('dialog', { name: '确认销号' })
    await confirm.getByRole('textbox').fill('现场查看，已解决')
    await confirm.getByRole('button', { name: '确定' }).click()
    await row.getByText('已销号').waitFor()
    await confirm.waitFor({ state: 'hidden' })
    await p.waitForTimeout(400)
    await shot(p, 'officer-issues')

    const pub = await page(b)
    await pub.goto(`${d.hub}/#/public/officer-issues`)
    await pub.getByRole('heading', { name: /改革体验官问题清单公示/ }).waitFor()
    await pub.getByRole('cell', { name: '窗口叫号屏不显示办理进度' }).waitFor()
    assert.equal(await pub.getByText('王晓燕').count(), 0)
    await shot(pub, 'public-officer-issues')
    assert.deepEqual(p.errors.concat(pub.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})

test('an operator registers an intermediary and draws one at random and a supervisor downloads the month report', async () => {
  const d = await startDistrict(['S01'])
  const b = await browser()
  try {
    const op = await token(d.hub, 'operator')
    const today = new Date(Date.now() + 8 * 3600e3)
    const day = (n) => new Date(today.getTime() + n * 86400e3).toISOString().slice(0, 10)
    const services = [{ item_code: 'YJ001', service: '危险化学品经营单位安全评价报告' }]
    await api(d.hub, 'POST', '/intermediaries', { code: '91610131MA6TXB002K', name: '西安环评技术服务有限公司', contact: '王工 029-88886666', qualifications: [{ name: '安全评价机构资质', number: 'APJ-002', expires: day(200) }], services }, op)
    await api(d.hub, 'POST', '/intermediaries', { code: '91610131MA6TXC003X', name: '过期资质评价所', contact: '赵工', qualifications: [{ name: '安全评价机构资质', number: 'APJ-003', expires: day(-3) }], services }, op)

    const p = await page(b)
    await loginAs(p, d.hub, 'operator')
    await p.getByRole('menuitem', { name: '中介超市' }).click()
    await p.getByRole('heading', { name: '中介超市' }).waitFor()
    await p.getByRole('tab', { name: '中介机构' }).click()
    await p.getByRole('button', { name: '中介机构入驻' }).click()
    const reg = p.getByRole('dialog', { name: '中介机构入驻' })
    await reg.getByRole('textbox', { name: '统一社会信用代码' }).fill('91610131MA6TXA0010')  // a wrong check character
    await reg.getByRole('textbox', { name: '机构名称' }).fill('陕西安泰安全评价有限公司')
    await reg.getByRole('textbox', { name: '联系人及电话' }).fill('李经理 029-88881234')
    await reg.getByRole('textbox', { name: '资质名称' }).fill('安全评价机构资质')
    await reg.getByRole('textbox', { name: '资质证书编号' }).fill('APJ-(陕)-001')
    const expires = reg.getByRole('combobox', { name: '资质有效期至' })
    await expires.fill(day(300))
    await expires.press('Enter')
    await reg.getByRole('heading', { name: '中介机构入驻' }).click()  // closes the calendar
    await reg.getByRole('combobox', { name: '服务事项' }).click()
    await p.getByRole('option', { name: /危险化学品经营许可/ }).click()
    await reg.getByRole('textbox', { name: '服务内容' }).fill('安全评价报告编制')
    await reg.getByRole('button', { name: '入驻' }).click()
    await p.getByText(/统一社会信用代码无效/).waitFor()
    await reg.getByRole('textbox', { name: '统一社会信用代码' }).fill('91610131MA6TXA0019')
    await reg.getByRole('button', { name: '入驻' }).click()
    await p.getByText('中介机构已入驻').waitFor()
    await p.getByRole('row').filter({ hasText: '陕西安泰安全评价有限公司' }).getByText('可选取').waitFor()
    await p.getByRole('row').filter({ hasText: '过期资质评价所' }).getByText('暂停：资质过期').waitFor()
    await p.waitForTimeout(400)
    await shot(p, 'intermediaries-registry')

    // A project drawn at random among the eligible: the seed and the candidates on record.
    await p.getByRole('tab', { name: '服务项目' }).click()
    await p.getByRole('button', { name: '新建服务项目' }).click()
    const np = p.getByRole('dialog', { name: '新建服务项目' })
    await np.getByRole('textbox', { name: '项目业主' }).fill('西安高新区某化工贸易有限公司')
    await np.getByRole('textbox', { name: '项目名称' }).fill('危险化学品经营许可安全评价')
    await np.getByRole('combobox', { name: '所需服务的事项' }).click()
    await p.getByRole('option', { name: /危险化学品经营许可/ }).click()
    await np.getByRole('button', { name: '登记' }).click()
    await p.getByText('项目已登记').waitFor()
    const row = p.getByRole('row').filter({ hasText: '危险化学品经营许可安全评价' })
    await row.getByRole('button', { name: '抽取' }).click()
    const draw = p.getByRole('dialog', { name: '随机抽取' })
    await draw.getByText(/随机种子与候选名单存档备查/).waitFor()
    await draw.getByRole('button', { name: '确定' }).click()
    await row.getByText('已选定').waitFor()
    await row.getByText(/随机种子 [0-9a-f]{64}（候选 2 家/).waitFor()
    assert.equal(await row.getByText('过期资质评价所').count(), 0)
    await draw.waitFor({ state: 'hidden' })
    await p.waitForTimeout(400)
    await shot(p, 'intermediaries-draw')

    // The supervisor's month report, as the PDF the hub draws.
    const s = await page(b)
    await loginAs(s, d.hub, 'supervisor')
    await s.getByRole('menuitem', { name: '统计分析' }).click()
    const [download] = await Promise.all([s.waitForEvent('download'), s.getByRole('button', { name: '下载月度监察报告（PDF）' }).click()])
    assert.match(download.suggestedFilename(), /^月度监察报告-\d{4}-\d{2}\.pdf$/)
    const fs = await import('node:fs')
    const bytes = fs.readFileSync(await download.path())
    assert.equal(bytes.subarray(0, 5).toString(), '%PDF-')
    assert.deepEqual(p.errors.concat(s.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})
