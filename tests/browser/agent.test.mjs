// 代办员 on a phone: files for an elderly resident with her authorisation, books a window
// appointment for her, and follows the case in 我的代办.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, residentId, status, api, token } from './harness.mjs'

test('an agent files for a resident on a phone-sized screen', async () => {
  const d = await startDistrict(['S01'], { hub: false })
  const b = await browser()
  try {
    const p = await page(b, { viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 })
    await loginAs(p, d.sites.S01, 'agent')
    await p.getByRole('heading', { name: '我的代办' }).waitFor()
    await p.getByText('还没有代办的案件').waitFor()
    // The phone layout: no side menu, a bottom bar.
    assert.equal(await p.getByRole('menuitem').count(), 0)
    await p.getByRole('navigation', { name: '代办导航' }).waitFor()
    await shot(p, 'agent-home-empty')

    await p.getByRole('navigation', { name: '代办导航' }).getByRole('link', { name: '新建代办' }).click()
    await p.getByRole('combobox', { name: '事项' }).click()
    await p.keyboard.type('高龄')
    await p.getByRole('option', { name: /高龄津贴申领/ }).click()
    await p.getByRole('textbox', { name: '申请人姓名' }).fill('李桂兰')
    await p.getByRole('textbox', { name: '身份证号码' }).fill(residentId('610113', '19400815', '026'))
    await p.getByRole('textbox', { name: '手机号码' }).fill('13812345678')
    await p.getByText('是', { exact: true }).click()
    // Without the resident's authorisation the form cannot be sent.
    assert.equal(await p.getByRole('button', { name: '提交代办申请' }).isDisabled(), true)
    await p.getByRole('textbox', { name: '授权委托书编号' }).fill('WT-2026-118')
    await shot(p, 'agent-new-case')
    await p.getByRole('button', { name: '提交代办申请' }).click()
    await status(p, '待受理')
    const caseId = p.url().split('/cases/')[1]
    await p.getByText('委托书 WT-2026-118').waitFor()
    await shot(p, 'agent-case')

    await p.getByRole('navigation', { name: '代办导航' }).getByRole('link', { name: '我的代办' }).click()
    await p.getByText(`李桂兰 · ${caseId}`).waitFor()
    await shot(p, 'agent-home')

    // An appointment at the window on the next working day with a free slot.
    const t = await token(d.sites.S01, 'agent')
    let day = new Date(Date.now() + 8 * 3600e3)
    let date
    for (let i = 1; i < 15 && !date; i++) {
      const next = new Date(day.getTime() + i * 86400e3).toISOString().slice(0, 10)
      const s = await api(d.sites.S01, 'GET', `/appointments/slots?date=${next}`, undefined, t)
      if (s.working_day && s.slots.some((x) => x.available > 0)) date = next
    }
    assert.ok(date)
    await p.getByRole('navigation', { name: '代办导航' }).getByRole('link', { name: '预约' }).click()
    const picker = p.getByRole('combobox', { name: '预约日期' })
    await picker.fill(date)
    await picker.press('Enter')
    await p.getByRole('button', { name: /^09:00/ }).click()
    const dlg = p.getByRole('dialog', { name: `预约 ${date} 09:00` })
    await dlg.getByRole('combobox', { name: '预约事项' }).click()
    await p.getByRole('option', { name: /高龄津贴申领/ }).click()
    await dlg.getByRole('textbox', { name: '预约人姓名' }).fill('李桂兰')
    await dlg.getByRole('textbox', { name: '预约人身份证号码' }).fill(residentId('610113', '19400815', '026'))
    await dlg.getByRole('textbox', { name: '预约人手机号码' }).fill('13812345678')
    await dlg.getByRole('button', { name: '确认预约' }).click()
    await dlg.waitFor({ state: 'hidden' })
    await p.getByRole('cell', { name: '已预约' }).waitFor()
    await shot(p, 'agent-appointment')
    const booked = await api(d.sites.S01, 'GET', `/appointments?date=${date}`, undefined, t)
    assert.equal(booked.appointments.length, 1)
    assert.equal(booked.appointments[0].slot, '09:00')
    assert.deepEqual(p.errors, [])
  } finally {
    await b.close()
    d.stop()
  }
})
