// 一次性告知: a clerk registers an application with two materials missing; the notice lists
// both (the server computes it from what is missing), and the printed 一次性告知书 PDF
// carries the case number, every missing material and the clerk's note.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, status, printedText, token, fileCase, api } from './harness.mjs'

test('the printed one-time notice lists every missing material', async () => {
  const d = await startDistrict(['S01'], { hub: false })
  const b = await browser()
  try {
    const t = await token(d.sites.S01, 'clerk')
    const c = await fileCase(d.sites.S01, t, { name: '赵建国', born: '19620304', serial: '051', phone: '13700001111', provided: ['ID', 'HKB', 'INCOME'] })
    const p = await page(b)
    await loginAs(p, d.sites.S01, 'clerk')
    await p.goto(`${d.sites.S01}/console/#/cases/${c.case_id}`)
    await status(p, '待受理')
    await p.getByRole('button', { name: '一次性告知' }).click()
    const dlg = p.getByRole('dialog', { name: '一次性告知补正材料' })
    await dlg.getByText('家庭经济状况核对授权书').waitFor()
    await dlg.getByRole('textbox', { name: /告知说明/ }).fill('请携带原件到三号窗口')
    await dlg.getByRole('button', { name: '确定' }).click()
    await status(p, '待补正')
    await shot(p, 'notice-case')

    const text = await printedText(b, `${d.sites.S01}/console/#/print/notice/${c.case_id}`, p)
    assert.ok(text.includes('一次性告知书'), text)
    assert.ok(text.includes(c.case_id), text)
    for (const m of ['家庭经济状况核对授权书', '住房情况证明']) assert.ok(text.includes(m), `${m} missing from:\n${text}`)
    assert.ok(text.includes('请携带原件到三号窗口'), text)
    assert.ok(!text.includes('居民身份证'), 'a provided material is not on the notice')

    // The other papers, each printed to PDF and read back: 受理通知书 and 材料接收凭证 of an
    // accepted case, 不予受理决定书 of a refused one (with the reason and the remedy).
    const ok = await fileCase(d.sites.S01, t, { name: '钱学勤', born: '19660606', serial: '035', phone: '13700003333', accept: true })
    const acceptance = await printedText(b, `${d.sites.S01}/console/#/print/acceptance/${ok.case_id}`, p)
    for (const want of [ok.case_id, '受理通知书', '予以受理', '15 个工作日']) assert.ok(acceptance.includes(want), `${want}:\n${acceptance}`)
    const receipt = await printedText(b, `${d.sites.S01}/console/#/print/receipt/${ok.case_id}`, p)
    for (const want of [ok.case_id, '材料接收凭证', '居民身份证', '住房情况证明']) assert.ok(receipt.includes(want), `${want}:\n${receipt}`)
    const no = await fileCase(d.sites.S01, t, { name: '吴明', born: '19710707', serial: '052', phone: '13700004444' })
    await api(d.sites.S01, 'POST', `/cases/${no.case_id}/refuse`, { reason: '申请人户籍不在本辖区' }, t)
    const refusal = await printedText(b, `${d.sites.S01}/console/#/print/refusal/${no.case_id}`, p)
    for (const want of [no.case_id, '不予受理决定书', '申请人户籍不在本辖区', '行政复议']) assert.ok(refusal.includes(want), `${want}:\n${refusal}`)

    // 预审 → the outcome → submitted for real, from the case page.
    const pre = await fileCase(d.sites.S01, t, { name: '孙卫东', born: '19580709', serial: '014', phone: '13700002222', path: '/prereviews', channel: 'online' })
    await p.goto(`${d.sites.S01}/console/#/cases/${pre.case_id}`)
    await status(p, '预审中')
    await p.getByRole('button', { name: '预审意见' }).click()
    const outcome = p.getByRole('dialog', { name: '预审意见' })
    await outcome.getByRole('textbox', { name: '预审意见' }).fill('材料齐全，请到窗口递交原件')
    await outcome.getByRole('button', { name: '确定' }).click()
    await status(p, '预审完成')
    await p.getByRole('button', { name: '正式提交' }).click()
    await status(p, '待受理')
    await p.getByRole('tab', { name: /办理过程/ }).click()
    await p.getByRole('cell', { name: '材料齐全，请到窗口递交原件' }).waitFor()
    await shot(p, 'prereview-submitted')
    assert.deepEqual(p.errors, [])
  } finally {
    await b.close()
    d.stop()
  }
})
