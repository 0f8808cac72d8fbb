// 综窗: a clerk registers a case, takes it from today's queue and accepts it with a
// material tolerated (容缺), a reviewer approves it, the clerk delivers it at the window;
// the printed 容缺受理承诺书 names the case and the tolerated material.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, residentId, printedText, status, token } from './harness.mjs'

test('a clerk takes a 容缺 case from the queue to delivery', async () => {
  const d = await startDistrict(['S01'], { hub: false })
  const b = await browser()
  try {
    const p = await page(b)
    await p.goto(`${d.sites.S01}/`)
    await p.getByRole('button', { name: '登录' }).waitFor()
    await p.getByText('丈八街道便民服务中心').waitFor()
    await shot(p, 'login')
    await loginAs(p, d.sites.S01, 'clerk')
    await p.getByRole('heading', { name: /今日队列/ }).waitFor()
    await shot(p, 'clerk-queue')

    // Register (仅登记) from the catalog-driven form.
    await p.getByRole('menuitem', { name: '综窗受理' }).click()
    await p.getByRole('combobox', { name: '事项' }).click()
    await p.keyboard.type('最低生活保障')
    await p.getByRole('option', { name: /最低生活保障申请/ }).click()
    await p.getByRole('textbox', { name: '申请人姓名' }).fill('王秀英')
    await p.getByRole('textbox', { name: '身份证号码' }).fill('11010519491231002')
    await p.getByText('身份证号码应为18位').waitFor()  // validated as typed
    await p.getByRole('textbox', { name: '身份证号码' }).fill(residentId('610113', '19560312', '042'))
    await p.getByRole('textbox', { name: '手机号码' }).fill('13912345678')
    await p.getByRole('radiogroup', { name: '住房情况证明' }).getByText('未提交').click()
    await shot(p, 'clerk-new-case')
    await p.getByRole('button', { name: '仅登记（待受理）' }).click()
    await status(p, '待受理')
    const caseId = (await p.url()).split('/cases/')[1]
    assert.match(caseId, /^S01-\d{8}-\d{6}$/)

    // From today's queue: 待受理 → the case → 受理 with 容缺.
    await p.getByRole('menuitem', { name: '今日队列' }).click()
    await p.getByRole('tab', { name: /待受理（1）/ }).click()
    await p.getByRole('link', { name: caseId }).click()
    await p.getByRole('button', { name: '受理', exact: true }).click()
    const dlg = p.getByRole('dialog', { name: '受理' })
    await dlg.getByRole('group', { name: /容缺后补/ }).getByText('住房情况证明').click()
    await dlg.getByRole('button', { name: '确定' }).click()
    await dlg.getByRole('alert').getByText('承诺书').waitFor()  // the server's zh message: no signed commitment
    await dlg.getByText('申请人已签署容缺受理承诺书').click()
    await dlg.getByRole('button', { name: '确定' }).click()
    await status(p, '已受理')
    await p.getByRole('tab', { name: '基本信息' }).click()
    await p.getByText('容缺后补', { exact: true }).waitFor()
    await shot(p, 'clerk-case-accepted')

    // The commitment paper, printed to PDF by the browser.
    const text = await printedText(b, `${d.sites.S01}/console/#/print/commitment/${caseId}`, p)
    assert.ok(text.includes(caseId), text)
    assert.ok(text.includes('容缺受理承诺书'), text)
    assert.ok(text.includes('住房情况证明'), text)

    // The tolerated material arrives before the decision (a decision waits for it).
    await p.getByRole('button', { name: '补交材料' }).click()
    const supply = p.getByRole('dialog', { name: '补交材料' })
    await supply.getByRole('group', { name: '补交的材料' }).getByText('住房情况证明').click()
    await supply.getByRole('button', { name: '确定' }).click()
    await supply.waitFor({ state: 'hidden' })
    await p.getByRole('tab', { name: '基本信息' }).click()
    await p.getByText('容缺后补', { exact: true }).waitFor({ state: 'detached' })

    // A reviewer approves.
    const r = await page(b)
    await loginAs(r, d.sites.S01, 'reviewer')
    await r.getByRole('tab', { name: /待审查（1）/ }).click()
    await r.getByRole('link', { name: caseId }).click()
    await r.getByRole('button', { name: '开始审查' }).click()
    await status(r, '审查中')
    await r.getByRole('button', { name: '准予' }).click()
    await r.getByRole('dialog', { name: '准予办理' }).getByRole('button', { name: '确定' }).click()
    await status(r, '准予办理')
    await shot(r, 'reviewer-approved')

    // The clerk delivers at the window.
    await p.reload()
    await p.getByRole('button', { name: '送达' }).click()
    await p.getByRole('dialog', { name: '送达' }).getByRole('button', { name: '确定' }).click()
    await status(p, '已出件')
    await p.getByRole('tab', { name: /办理过程/ }).click()
    const timeline = p.getByRole('tabpanel', { name: /办理过程/ })
    for (const step of ['提交申请', '受理', '补交材料', '开始审查', '作出决定', '签发电子证照', '送达'])
      await timeline.getByText(step, { exact: true }).first().waitFor()
    await shot(p, 'clerk-case-delivered')

    // 好差评: the clerk hands the resident the rating pad; the resident rates, not the clerk.
    await p.getByRole('button', { name: '邀请评价' }).click()
    const invite = p.getByRole('dialog', { name: '邀请办事人评价' })
    await invite.getByRole('img', { name: '评价二维码' }).waitFor()
    const padUrl = await invite.getByRole('link', { name: '在评价屏打开' }).getAttribute('href')
    const pad = await page(b, { viewport: { width: 1024, height: 700 } })
    await pad.goto(padUrl)
    await pad.getByText('最低生活保障申请').waitFor()
    await pad.getByRole('radio', { name: '不满意', exact: true }).click()
    await pad.getByRole('textbox', { name: '评价意见' }).fill('等候时间太长')
    await shot(pad, 'rating-pad')
    await pad.getByRole('button', { name: '提交评价' }).click()
    await pad.getByText('感谢您的评价').waitFor()
    await pad.getByText('1个工作日内回访').waitFor()
    await pad.reload()
    await pad.getByText('该事项已评价').waitFor()
    await p.reload()
    await p.getByRole('tab', { name: '基本信息' }).click()
    await p.getByText('差评', { exact: true }).waitFor()
    await r.reload()
    await r.getByRole('button', { name: '差评回访' }).waitFor()

    // The printed e-license's QR code opens the public check page, which needs no login.
    const license = await printedText(b, `${d.sites.S01}/console/#/print/license/${caseId}`, p)
    assert.ok(license.includes(`DZZZ-${caseId}`), license)
    const t = await token(d.sites.S01, 'clerk')
    const file = await (await fetch(`${d.sites.S01}/api/v1/cases/${caseId}/license`, { headers: { Authorization: `Bearer ${t}` } })).text()
    const v = await page(b)
    await v.goto(`${d.sites.S01}/console/#/verify?l=${Buffer.from(file).toString('base64url')}`)
    await v.getByText('证照有效', { exact: true }).waitFor()
    await v.getByText('王秀英').waitFor()
    await shot(v, 'license-check-valid')
    const forged = file.replace('王秀英', '王秀华')
    await v.goto(`${d.sites.S01}/console/#/verify?l=${Buffer.from(forged).toString('base64url')}`)
    await v.reload()
    await v.getByText('证照无效', { exact: true }).waitFor()
    await shot(v, 'license-check-forged')
    assert.deepEqual(p.errors.concat(r.errors, v.errors, pad.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})
