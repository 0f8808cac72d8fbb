// 后台分类审批: a reviewer of another department does not see a case — not in the inbox,
// not by its number — while the deciding department's reviewer finds it and can suspend
// it with a legal reason (the clock shows 已中止).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startDistrict, browser, page, shot, loginAs, status, api, token, password, fileCase } from './harness.mjs'

test('a reviewer of another department cannot see the case', async () => {
  const d = await startDistrict(['S01'], { hub: false })
  const b = await browser()
  try {
    const admin = await token(d.sites.S01, 'admin')
    await api(d.sites.S01, 'POST', '/staff', { username: 'rs_li', display_name: '李人社', role: 'reviewer', password, department: '人力资源和社会保障局' }, admin)
    // The site admin creates the 民政局 reviewer on the 账号管理 page.
    const ap = await page(b)
    await loginAs(ap, d.sites.S01, 'admin')
    await ap.getByRole('menuitem', { name: '账号管理' }).click()
    await ap.getByRole('button', { name: '新建账号' }).click()
    const nd = ap.getByRole('dialog', { name: '新建账号' })
    await nd.getByRole('textbox', { name: '新用户名' }).fill('mz_wang')
    await nd.getByRole('textbox', { name: '姓名' }).fill('王民政')
    await nd.getByText('综窗受理员').click()  // the select shows its current role
    await ap.getByRole('option', { name: '后台审批员' }).click()
    await nd.getByRole('textbox', { name: '部门' }).fill('民政局')
    await nd.getByRole('textbox', { name: '初始密码' }).fill(password)
    await nd.getByRole('button', { name: '创建' }).click()
    await nd.waitFor({ state: 'hidden' })
    await ap.getByRole('cell', { name: '王民政' }).waitFor()
    await shot(ap, 'admin-staff')
    // rs_li forgot the password: the admin resets it (the old one stops working below).
    await ap.getByRole('row', { name: /rs_li/ }).getByRole('button', { name: '重置密码' }).click()
    await ap.getByRole('dialog', { name: '重置密码' }).getByRole('textbox').fill('reset-pass-2026')
    await ap.getByRole('button', { name: '重置', exact: true }).click()
    await ap.getByText('密码已重置').waitFor()
    const clerk = await token(d.sites.S01, 'clerk')
    const c = await fileCase(d.sites.S01, clerk, { name: '钱玉梅', born: '19650505', serial: '028', phone: '13500004444', accept: true })

    const other = await page(b)
    await loginAs(other, d.sites.S01, 'rs_li', 'reset-pass-2026')
    await other.getByRole('tab', { name: '待审查（0）' }).waitFor()
    await shot(other, 'reviewer-other-department-inbox')
    await other.goto(`${d.sites.S01}/console/#/cases/${c.case_id}`)
    await other.getByText('案件不存在').waitFor()
    assert.equal(await other.getByRole('status', { name: '办件状态' }).count(), 0)
    await other.getByRole('menuitem', { name: '案件查询' }).click()
    await other.getByText('暂无案件').waitFor()

    const own = await page(b)
    await loginAs(own, d.sites.S01, 'mz_wang')
    await own.getByRole('tab', { name: '待审查（1）' }).click()
    await own.getByRole('link', { name: c.case_id }).click()
    await own.getByRole('button', { name: '开始审查' }).click()
    await status(own, '审查中')
    await own.getByRole('button', { name: '中止' }).click()
    const dlg = own.getByRole('dialog', { name: '中止办理（暂停计时）' })
    await dlg.getByRole('textbox', { name: '说明' }).fill('需补充现场核查')
    await dlg.getByRole('button', { name: '确定' }).click()
    await status(own, '已中止')
    await own.getByText('时限：已中止').waitFor()
    await shot(own, 'reviewer-suspended')

    // Password change from the header: the old one stops working, the new one logs in.
    await other.getByRole('button', { name: '修改密码' }).click()
    await other.getByRole('textbox', { name: '请输入当前密码' }).fill('reset-pass-2026')
    await other.getByRole('button', { name: '下一步' }).click()
    await other.getByRole('textbox', { name: /请输入新密码/ }).fill('a-new-pass-2026')
    await other.getByRole('button', { name: '确定' }).click()
    await other.getByText('密码已修改').waitFor()
    await other.getByRole('button', { name: '退出登录' }).click()
    await other.getByRole('textbox', { name: '用户名' }).fill('rs_li')
    await other.getByRole('textbox', { name: '密码' }).fill('reset-pass-2026')
    await other.getByRole('button', { name: '登录' }).click()
    await other.getByRole('alert').getByText('用户名或密码错误').waitFor()
    await loginAs(other, d.sites.S01, 'rs_li', 'a-new-pass-2026')
    await other.getByRole('heading', { name: '审批待办' }).waitFor()
    assert.deepEqual(other.errors.concat(own.errors, ap.errors), [])
  } finally {
    await b.close()
    d.stop()
  }
})
